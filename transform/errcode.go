package transform

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"github.com/noctua-obs/noctua/config"
)

// Classifier maps error codes to business / application / system by the
// configuration's taxonomy: exact codes first, then patterns in order, then
// the failed request's HTTP status, then the default class.
type Classifier struct {
	exact    map[string]string
	patterns []classPattern
	status   map[string]string
	dflt     string
}

type classPattern struct {
	re    *regexp.Regexp
	lit   func(string) bool // re as a string test, when re is a plain literal; else nil
	class string
}

func (p *classPattern) match(code string) bool {
	if p.lit != nil {
		return p.lit(code)
	}
	return p.re.MatchString(code)
}

// literalMatch returns a string test equivalent to the regular expression
// expr when expr is an ASCII literal, possibly anchored at either end (the
// shape of most taxonomy patterns: "^BIZ-", "TIMEOUT$"); nil otherwise.
func literalMatch(expr string) func(string) bool {
	t, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	subs := []*syntax.Regexp{t.Simplify()}
	if subs[0].Op == syntax.OpConcat {
		subs = subs[0].Sub
	}
	begin := len(subs) > 0 && subs[0].Op == syntax.OpBeginText
	if begin {
		subs = subs[1:]
	}
	end := len(subs) > 0 && subs[len(subs)-1].Op == syntax.OpEndText
	if end {
		subs = subs[:len(subs)-1]
	}
	if len(subs) != 1 || subs[0].Op != syntax.OpLiteral || subs[0].Flags&syntax.FoldCase != 0 {
		return nil
	}
	lit := string(subs[0].Rune)
	if !isASCII(lit) {
		return nil
	}
	switch {
	case begin && end:
		return func(s string) bool { return s == lit }
	case begin:
		return func(s string) bool { return strings.HasPrefix(s, lit) }
	case end:
		return func(s string) bool { return strings.HasSuffix(s, lit) }
	}
	return func(s string) bool { return strings.Contains(s, lit) }
}

// NewClassifier compiles the taxonomy.
func NewClassifier(e config.Errors) (*Classifier, error) {
	c := &Classifier{exact: map[string]string{}, status: e.StatusClasses, dflt: e.DefaultClass}
	for i, r := range e.Rules {
		if r.Code != "" {
			if _, dup := c.exact[r.Code]; !dup {
				c.exact[r.Code] = r.Class
			}
			continue
		}
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			return nil, fmt.Errorf("errors.rules[%d].pattern: %w", i, err)
		}
		c.patterns = append(c.patterns, classPattern{re: re, lit: literalMatch(r.Pattern), class: r.Class})
	}
	return c, nil
}

// Class returns the class of a failed request with this code and status.
func (c *Classifier) Class(code string, status int) string {
	if code != "" {
		if class, ok := c.exact[code]; ok {
			return class
		}
		for i := range c.patterns {
			if p := &c.patterns[i]; p.match(code) {
				return p.class
			}
		}
		return c.dflt
	}
	if status >= 100 && status <= 599 {
		if class, ok := c.status[strconv.Itoa(status)]; ok {
			return class
		}
		if class, ok := c.status[strconv.Itoa(status/100)+"xx"]; ok {
			return class
		}
	}
	return c.dflt
}
