package transform

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
)

// Label is a name/value pair: a stream label or an entry's structured
// metadata.
type Label struct {
	Name, Value string
}

// MaxLogFieldLen bounds every dimension a LogParser copies into a record
// from labels, metadata or the line; longer values are cut at a UTF-8
// boundary. The line itself (record.Log.Message) is bounded by the
// collector's line limit instead.
const MaxLogFieldLen = 1024

// field is a dimension a LogParser looks up.
type field uint8

const (
	fieldService field = iota
	fieldEnv
	fieldJourney
	fieldInstance
	fieldUser
	fieldTrace
	fieldRoute
	fieldMethod
	fieldCode
	fieldLevel
	numFields
)

// Sources of a value, in increasing precedence.
const (
	srcLabel uint8 = iota
	srcMeta
	srcLine
)

// key is what a configured name stands for.
type key struct {
	f       field
	rank    uint8 // position in its list: lower wins within one source
	stripNS bool  // "namespace/name" values keep only name (the job label)
}

// Fields holds the dimensions found so far for one stream or line. The zero
// value is empty. Strings share memory with the labels, metadata or line
// they were read from.
type Fields struct {
	val  [numFields]string
	prio [numFields]uint8 // 0: unset; else 1 + source*64 + (63 - rank)
}

func (f *Fields) set(k key, src uint8, v string) {
	if v == "" {
		return
	}
	p := 1 + src*64 + (63 - k.rank)
	if p <= f.prio[k.f] {
		return
	}
	if k.stripNS {
		if i := strings.LastIndexByte(v, '/'); i >= 0 && i+1 < len(v) {
			v = v[i+1:]
		}
	}
	f.val[k.f], f.prio[k.f] = v, p
}

// Service returns the service found, or "".
func (f *Fields) Service() string { return f.val[fieldService] }

// LogParser reads log lines: it maps stream labels and structured metadata
// to Noctua's dimensions, reads the keys of JSON and logfmt lines, extracts
// error codes (from a field, else from the configured patterns), detects the
// level, and recognises timeouts and retries. It is built once from a
// validated configuration and is safe for concurrent use.
//
// Patterns run only on lines that contain one of the literals every match
// needs, so lines that cannot match cost a few substring searches.
type LogParser struct {
	keys     *keyTable
	prefixes map[string]bool // "a." for every dotted name "a.b": JSON objects worth descending into
	codes    []*matcher      // error patterns with a "code" group
	timeoutC []*matcher      // over the error code
	timeoutL []*matcher      // over the line
	retryC   []*matcher
	retryL   []*matcher
	filter   *lineFilter // the prefilters of codes, timeoutL and retryL in one pass
}

// NewLogParser compiles the logs section of a validated configuration.
func NewLogParser(cfg config.Logs) (*LogParser, error) {
	p := &LogParser{prefixes: map[string]bool{}}
	keys := map[string]key{}
	for f, nf := range cfg.Fields.Named() {
		for i, n := range nf.Names {
			if _, dup := keys[n]; dup || n == "" {
				continue
			}
			keys[n] = key{f: field(f), rank: uint8(min(i, 62)), stripNS: field(f) == fieldService && n == "job"}
			for j := strings.IndexByte(n, '.'); j > 0; j = nextDot(n, j) {
				p.prefixes[n[:j+1]] = true
			}
		}
	}
	p.keys = newKeyTable(keys)
	var err error
	compile := func(path string, exprs []string, dst *[]*matcher) {
		for i, e := range exprs {
			m, cerr := newMatcher(e)
			if cerr != nil {
				if err == nil {
					err = fmt.Errorf("transform: logs.%s[%d]: %w", path, i, cerr)
				}
				continue
			}
			*dst = append(*dst, m)
		}
	}
	compile("error_patterns", cfg.ErrorPatterns, &p.codes)
	compile("timeouts.codes", cfg.Timeouts.Codes, &p.timeoutC)
	compile("timeouts.patterns", cfg.Timeouts.Patterns, &p.timeoutL)
	compile("retries.codes", cfg.Retries.Codes, &p.retryC)
	compile("retries.patterns", cfg.Retries.Patterns, &p.retryL)
	if err != nil {
		return nil, err
	}
	for i, m := range p.codes {
		if m.code < 0 {
			return nil, fmt.Errorf("transform: logs.error_patterns[%d]: no (?P<code>...) group", i)
		}
	}
	p.filter = newLineFilter(p.timeoutL, p.retryL, p.codes)
	return p, nil
}

func nextDot(s string, j int) int {
	if k := strings.IndexByte(s[j+1:], '.'); k >= 0 {
		return j + 1 + k
	}
	return -1
}

// Stream returns the dimensions carried by a stream's labels, to be passed
// to Line for each of its entries.
func (p *LogParser) Stream(labels []Label) Fields {
	var f Fields
	for _, l := range labels {
		if k, ok := p.keys.get(l.Name); ok {
			f.set(k, srcLabel, l.Value)
		}
	}
	return f
}

// Scratch holds the working memory of Line, so that reading a line
// allocates nothing beyond what it must copy. The zero value is ready; use
// one per goroutine, never concurrently.
type Scratch struct {
	f     Fields
	sc    lineScanner
	line  text
	code  text
	arena arena // for the routes Line joins
}

// Line fills l's Service, Env, Journey, JourneyInstance, UserID, TraceID,
// Route, Level, ErrorCode, Timeout and Retry from the stream's fields, the
// entry's structured metadata and the line. Service and Env are taken from
// labels and metadata only. A line without a service gets "unknown" (it is
// kept, under the unassigned domain). l's other fields are left alone. The
// strings set share memory with stream, meta and line. s may be nil.
func (p *LogParser) Line(l *record.Log, stream *Fields, meta []Label, line string, s *Scratch) {
	if s == nil {
		s = new(Scratch)
	}
	s.f = *stream
	f := &s.f
	for _, m := range meta {
		if k, ok := p.keys.get(m.Name); ok {
			f.set(k, srcMeta, m.Value)
		}
	}
	s.sc.p, s.sc.f = p, f
	if t := trimLeftSpace(line); len(t) > 0 && t[0] == '{' {
		s.sc.json(t)
	} else if strings.IndexByte(line, '=') >= 0 {
		s.sc.logfmt(line)
	}

	l.Service = clipField(f.val[fieldService])
	if l.Service == "" {
		l.Service = "unknown"
	}
	l.Env = clipField(f.val[fieldEnv])
	l.Journey = clipField(f.val[fieldJourney])
	l.JourneyInstance = clipField(f.val[fieldInstance])
	l.UserID = clipField(f.val[fieldUser])
	l.TraceID = clipField(f.val[fieldTrace])
	l.Route = clipField(joinRoute(f.val[fieldMethod], f.val[fieldRoute], &s.arena))

	lt := &s.line // the line, with the one-pass prefilter of its patterns
	lt.reset(line)
	lt.may, lt.filtered = p.filter.scan(line), true
	code := f.val[fieldCode]
	if code == "" {
		for _, m := range p.codes {
			if code = m.find(lt); code != "" {
				break
			}
		}
	}
	l.ErrorCode = clipField(code)

	l.Level = normLevel(f.val[fieldLevel])
	if l.Level == record.LevelUnknown {
		l.Level = levelFromWords(line)
	}
	ct := &s.code
	ct.reset(code)
	l.Timeout = anyMatch(p.timeoutC, ct) || anyMatch(p.timeoutL, lt)
	l.Retry = anyMatch(p.retryC, ct) || anyMatch(p.retryL, lt)
	lt.reset("")
	ct.reset("")
	s.sc.f = nil
}

func anyMatch(ms []*matcher, t *text) bool {
	if t.s == "" {
		return false
	}
	for _, m := range ms {
		if m.match(t) {
			return true
		}
	}
	return false
}

// joinRoute returns "METHOD route", or route alone when there is no method
// or route already starts with it. The string it builds comes from a.
func joinRoute(method, route string, a *arena) string {
	if route == "" || method == "" {
		return route
	}
	if len(route) > len(method) && route[len(method)] == ' ' && strings.EqualFold(route[:len(method)], method) {
		return route
	}
	if !isASCII(method) {
		return a.concat3(strings.ToUpper(method), " ", route)
	}
	b := a.alloc(len(method) + 1 + len(route))
	for i := 0; i < len(method); i++ {
		c := method[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b[i] = c
	}
	b[len(method)] = ' '
	copy(b[len(method)+1:], route)
	return str(b)
}

// clipField bounds s to MaxLogFieldLen bytes, cutting at a UTF-8 boundary.
func clipField(s string) string {
	if len(s) <= MaxLogFieldLen {
		return s
	}
	n := MaxLogFieldLen
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func trimLeftSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n') {
		s = s[1:]
	}
	return s
}

// normLevel maps the usual spellings of a level to a record.Level* value.
func normLevel(s string) string {
	if s == "" || len(s) > 13 {
		return record.LevelUnknown
	}
	var buf [13]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(s)]) {
	case "error", "err", "e", "eror":
		return record.LevelError
	case "warn", "warning", "w":
		return record.LevelWarn
	case "info", "information", "informational", "notice", "i", "inf":
		return record.LevelInfo
	case "debug", "dbg", "d", "trace", "trc", "t", "verbose":
		return record.LevelDebug
	case "fatal", "critical", "crit", "panic", "dpanic", "emerg", "emergency", "alert", "f", "ftl":
		return record.LevelFatal
	}
	return record.LevelUnknown
}

// levelScanBytes bounds how far into a line the level keywords are looked
// for: they are written at the start of a line, and a message further on
// ("no error found") should not decide the level.
const levelScanBytes = 160

// levelFromWords returns the level of the first level word (ERROR, warn,
// Info, ...) among the first levelScanBytes bytes of line.
func levelFromWords(line string) string {
	if len(line) > levelScanBytes {
		line = line[:levelScanBytes]
	}
	for i := 0; i < len(line); {
		if !isLetter(line[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(line) && isLetter(line[j]) {
			j++
		}
		if w := line[i:j]; len(w) >= 3 && len(w) <= 8 {
			if lv := wordLevel(w); lv != record.LevelUnknown {
				return lv
			}
		}
		i = j
	}
	return record.LevelUnknown
}

func wordLevel(w string) string {
	switch w[0] | 0x20 {
	case 'e', 'w', 'i', 'd', 't', 'f', 'p', 'c':
	default:
		return record.LevelUnknown
	}
	switch lv := normLevel(w); lv {
	case record.LevelError, record.LevelWarn:
		return lv
	case record.LevelFatal:
		// "alert" and "emergency" are too common in messages.
		if strings.EqualFold(w, "alert") || strings.EqualFold(w, "emerg") || strings.EqualFold(w, "emergency") {
			return record.LevelUnknown
		}
		return lv
	case record.LevelInfo, record.LevelDebug:
		// "info"/"debug" as words are level markers; "trace" is too
		// common a word in messages to count on its own.
		if strings.EqualFold(w, "trace") || strings.EqualFold(w, "notice") {
			return record.LevelUnknown
		}
		return lv
	}
	return record.LevelUnknown
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
