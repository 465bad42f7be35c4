package transform

import (
	"strings"

	"github.com/noctua-obs/noctua/record"
)

// Log normalises l in place: its Domain from the service (record.Unassigned
// when unknown), its API from the route, its Journey when the line carried
// none, its ErrorClass when it has an error code, and its UserHash, clearing
// UserID and replacing the raw identifier by its hash wherever it stands as
// a whole token in the message, so that no customer id is stored.
func (n *Normaliser) Log(l *record.Log) { n.log(l, nil, nil) }

// logMemo remembers the lookups of the line before: the lines of a push
// come stream by stream, so most share the service and route (and often
// the error code) of the line before them.
type logMemo struct {
	valid                bool
	service, route       string // the keys of domain, api and journey
	svc                  string // the service as bounded
	domain, api, journey string
	labels, labelsOut    string // the last label set and its bounded value
	codeValid            bool
	code, class          string
}

// log is Log, building rewritten messages in a and reusing the lookups
// remembered in m when they are not nil.
func (n *Normaliser) log(l *record.Log, a *arena, m *logMemo) {
	var journey string
	if m != nil && m.valid && l.Service == m.service && l.Route == m.route {
		l.Service, l.Domain, l.API, journey = m.svc, m.domain, m.api, m.journey
	} else {
		service, route := l.Service, l.Route
		l.Service, l.Domain, l.API = n.place(l.Service, l.Route)
		journey = n.journeys.Journey(l.Service, l.API)
		if m != nil {
			m.valid, m.service, m.route, m.svc, m.domain, m.api, m.journey = true, service, route, l.Service, l.Domain, l.API, journey
		}
	}
	if l.Journey == "" {
		l.Journey = journey
	} else {
		l.Journey = n.journey(l.Journey)
	}
	if l.Labels != "" {
		if m != nil && m.labels == l.Labels && m.labelsOut != "" {
			l.Labels = m.labelsOut
		} else {
			in := l.Labels
			l.Labels = n.bounds.labels.admit(l.Labels)
			if m != nil {
				m.labels, m.labelsOut = in, l.Labels
			}
		}
	}
	switch {
	case l.ErrorCode == "":
		l.ErrorClass = record.ClassNone
	case m != nil && m.codeValid && l.ErrorCode == m.code:
		l.ErrorClass = m.class
	default:
		l.ErrorClass = n.errors.Class(l.ErrorCode, 0)
		if m != nil {
			m.codeValid, m.code, m.class = true, l.ErrorCode, l.ErrorClass
		}
	}
	if l.UserID != "" {
		l.UserHash = n.users.hash(l.UserID, a)
		l.Message = replaceToken(l.Message, l.UserID, l.UserHash, a)
		l.UserID = ""
	}
}

// replaceToken replaces every occurrence of tok in s that is not part of a
// longer word (the bytes around it are not letters, digits or '_'), so that
// a short id does not rewrite unrelated text. It returns s itself when
// there is none, else a string of its own, from a when it is not nil.
func replaceToken(s, tok, with string, a *arena) string {
	// One search, remembering where the first few occurrences are; a
	// second one only for a line with more.
	var at [8]int
	n := 0
	for i := wholeToken(s, tok, 0); i >= 0; i = wholeToken(s, tok, i+len(tok)) {
		if n < len(at) {
			at[n] = i
		}
		n++
	}
	if n == 0 {
		return s
	}
	size := len(s) + n*(len(with)-len(tok))
	var b []byte
	if a != nil {
		b = a.alloc(size)[:0]
	} else {
		b = make([]byte, 0, size)
	}
	last := 0
	put := func(i int) {
		b = append(append(b, s[last:i]...), with...)
		last = i + len(tok)
	}
	if n <= len(at) {
		for _, i := range at[:n] {
			put(i)
		}
	} else {
		for i := wholeToken(s, tok, 0); i >= 0; i = wholeToken(s, tok, i+len(tok)) {
			put(i)
		}
	}
	return str(append(b, s[last:]...))
}

// wholeToken returns the offset of the first occurrence of tok in s at or
// after from that is not part of a longer word, or -1. Occurrences are
// taken one after the other, and the byte before one that starts right
// where the previous one ended does not count.
func wholeToken(s, tok string, from int) int {
	for from <= len(s) {
		i := strings.Index(s[from:], tok)
		if i < 0 {
			return -1
		}
		i += from
		end := i + len(tok)
		if (i == from || !isWordByte(s[i-1])) && (end == len(s) || !isWordByte(s[end])) {
			return i
		}
		from = end
	}
	return -1
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// Logs normalises every record of ls in place, as Log does, building the
// rewritten messages of the batch in shared chunks.
func (n *Normaliser) Logs(ls []record.Log) {
	n.bounds.rotateIfDue()
	var a arena
	var m logMemo
	for i := range ls {
		n.log(&ls[i], &a, &m)
	}
}
