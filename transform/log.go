package transform

import "github.com/noctua-obs/noctua/record"

// Log normalises l in place: its Domain from the service (record.Unassigned
// when unknown), its API from the route, its Journey when the line carried
// none, its ErrorClass when it has an error code, and its UserHash, clearing
// UserID.
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
		l.UserID = ""
	}
}

// Logs normalises every record of ls in place.
func (n *Normaliser) Logs(ls []record.Log) {
	for i := range ls {
		n.Log(&ls[i])
	}
}
