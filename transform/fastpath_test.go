package transform

import (
	"regexp"
	"strings"
	"testing"
)

// TestLiteralMatchIsTheRegexp checks the string tests that stand in for
// plain literal taxonomy patterns against the regular expressions.
func TestLiteralMatchIsTheRegexp(t *testing.T) {
	inputs := []string{"", "BIZ-101", "biz-101", "XBIZ-1", "APP-042", "SYS-504", "CORE_BANKING_TIMEOUT",
		"TIMEOUT", "TIMEOUT\n", "A TIMEOUT B", "\xffBIZ-", "BIZ-\xff", "BIZ", "RETRY_LATER", "retry"}
	for _, expr := range []string{`^BIZ-`, `^APP-`, `TIMEOUT$`, `^TIMEOUT$`, `TIMEOUT`, `RETRY`,
		`(?i)^biz-`, `(?m)TIMEOUT$`, `^BIZ-\d+`, `^(BIZ|APP)-`, `^é`, `^`, `a|b`, `^BIZ-$`} {
		re := regexp.MustCompile(expr)
		lit := literalMatch(expr)
		if lit == nil {
			continue
		}
		for _, in := range inputs {
			if got, want := lit(in), re.MatchString(in); got != want {
				t.Errorf("%s on %q: literal %v, regexp %v", expr, in, got, want)
			}
		}
	}
	for expr, want := range map[string]bool{`^BIZ-`: true, `TIMEOUT$`: true, `RETRY`: true,
		`(?i)^biz-`: false, `(?m)TIMEOUT$`: false, `^BIZ-\d+`: false, `^é`: false} {
		if got := literalMatch(expr) != nil; got != want {
			t.Errorf("literalMatch(%s) != nil is %v, want %v", expr, got, want)
		}
	}
}

// replaceTokenRef is the replaceToken the transform had before it sized
// its output: the reference of TestReplaceToken.
func replaceTokenRef(s, tok, with string) string {
	i := strings.Index(s, tok)
	if i < 0 {
		return s
	}
	var b strings.Builder
	for i >= 0 {
		end := i + len(tok)
		if (i == 0 || !isWordByte(s[i-1])) && (end == len(s) || !isWordByte(s[end])) {
			b.WriteString(s[:i])
			b.WriteString(with)
		} else {
			b.WriteString(s[:end])
		}
		s = s[end:]
		i = strings.Index(s, tok)
	}
	b.WriteString(s)
	return b.String()
}

func TestReplaceToken(t *testing.T) {
	var a arena
	for _, s := range []string{"", "c-1", "user c-1 paid", "c-12 c-1", "xc-1", "c-1x", "c-1c-1", "c-1 c-1,c-1", "abab", "ababab ab",
		strings.Repeat("c-1 ", 9) + "c-1", strings.Repeat("ab,", 20),
		`{"customer_id":"c-1","msg":"c-1 failed"}`, "c-1_", "_c-1", "aab"} {
		for _, tok := range []string{"c-1", "ab", "a"} {
			want := replaceTokenRef(s, tok, "HASH")
			if got := replaceToken(s, tok, "HASH", nil); got != want {
				t.Errorf("replaceToken(%q, %q) = %q, want %q", s, tok, got, want)
			}
			if got := replaceToken(s, tok, "HASH", &a); got != want {
				t.Errorf("replaceToken(%q, %q) with an arena = %q, want %q", s, tok, got, want)
			}
		}
	}
}

func FuzzReplaceToken(f *testing.F) {
	f.Add("user c-1 paid c-1", "c-1", "0123456789abcdef")
	f.Add("abab", "ab", "x")
	f.Fuzz(func(t *testing.T, s, tok, with string) {
		if tok == "" {
			return
		}
		var a arena
		if got, want := replaceToken(s, tok, with, &a), replaceTokenRef(s, tok, with); got != want {
			t.Fatalf("replaceToken(%q, %q, %q) = %q, want %q", s, tok, with, got, want)
		}
	})
}

// TestUserHashIsStable pins the digests: the stored hashes of customers
// must not change across versions.
func TestUserHashIsStable(t *testing.T) {
	if got := NewUserHasher("test-salt").Hash("customer-123"); got != "99855c5ec42e1231" {
		t.Errorf("hash %s", got)
	}
	if got := NewUserHasher("").Hash(strings.Repeat("x", 300)); got != "1273d19e32268aa3" {
		t.Errorf("hash of a long id %s", got)
	}
	var a arena
	if got := NewUserHasher("test-salt").hash("customer-123", &a); got != "99855c5ec42e1231" {
		t.Errorf("hash in an arena %s", got)
	}
}

func TestJoinRoute(t *testing.T) {
	var a arena
	for _, tc := range [][3]string{
		{"post", "/v1/pay", "POST /v1/pay"}, {"POST", "/v1/pay", "POST /v1/pay"}, {"", "/v1/pay", "/v1/pay"},
		{"get", "", ""}, {"get", "GET /x", "GET /x"}, {"Get", "get /x", "get /x"}, {"ġet", "/x", "ĠET /x"},
	} {
		if got := joinRoute(tc[0], tc[1], &a); got != tc[2] {
			t.Errorf("joinRoute(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}

func TestArenaStringsStay(t *testing.T) {
	var a arena
	var got []string
	for i := 0; i < 5000; i++ {
		got = append(got, a.concat3("GET", " ", strings.Repeat("x", i%50)))
	}
	for i, s := range got {
		if want := "GET " + strings.Repeat("x", i%50); s != want {
			t.Fatalf("string %d became %q", i, s)
		}
	}
}
