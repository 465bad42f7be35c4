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
func (n *Normaliser) Log(l *record.Log) {
	l.Domain = n.domains.Domain(l.Service)
	l.API = n.domains.API(l.Service, l.Route)
	if l.Journey == "" {
		l.Journey = n.journeys.Journey(l.Service, l.API)
	}
	if l.ErrorCode != "" {
		l.ErrorClass = n.errors.Class(l.ErrorCode, 0)
	} else {
		l.ErrorClass = record.ClassNone
	}
	if l.UserID != "" {
		l.UserHash = n.users.Hash(l.UserID)
		l.Message = replaceToken(l.Message, l.UserID, l.UserHash)
		l.UserID = ""
	}
}

// replaceToken replaces every occurrence of tok in s that is not part of a
// longer word (the bytes around it are not letters, digits or '_'), so that
// a short id does not rewrite unrelated text. It returns s itself when
// there is none.
func replaceToken(s, tok, with string) string {
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

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// Logs normalises every record of ls in place.
func (n *Normaliser) Logs(ls []record.Log) {
	for i := range ls {
		n.Log(&ls[i])
	}
}
