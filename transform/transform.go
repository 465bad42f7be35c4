// Package transform normalises records against the configuration: it puts
// every request under its squad's domain (unknown services under
// record.Unassigned, never dropped), names its API, assigns its journey,
// classifies its error code, buckets it for Apdex against its API's T and
// hashes customer identifiers before anything is stored. Log lines get the
// same treatment (Normaliser.Log); a LogParser first reads their dimensions,
// error code, level, timeouts and retries out of labels, structured metadata
// and the line itself.
//
// A Normaliser and a LogParser are built once from a validated
// configuration and are safe for concurrent use: they only read their maps
// after they are built.
package transform

import (
	"fmt"
	"time"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
)

// Normaliser applies every stage to a record.
type Normaliser struct {
	domains  *Domains
	journeys *Journeys
	errors   *Classifier
	apdex    *ApdexTs
	users    *UserHasher
}

// New builds a Normaliser from a validated configuration.
func New(cfg *config.Config) (*Normaliser, error) {
	cls, err := NewClassifier(cfg.Errors)
	if err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	d := NewDomains(cfg)
	return &Normaliser{
		domains:  d,
		journeys: NewJourneys(cfg),
		errors:   cls,
		apdex:    NewApdexTs(cfg),
		users:    NewUserHasher(cfg.Server.UserHashSalt),
	}, nil
}

// Request normalises r in place.
func (n *Normaliser) Request(r *record.Request) {
	r.Domain = n.domains.Domain(r.Service)
	r.API = n.domains.API(r.Service, r.Route)
	if r.Journey == "" {
		r.Journey = n.journeys.Journey(r.Service, r.API)
	}
	if r.Error {
		r.ErrorClass = n.errors.Class(r.ErrorCode, int(r.StatusCode))
	} else {
		r.ErrorClass = record.ClassNone
	}
	r.Apdex = Bucket(r.Duration, n.apdex.T(r.Domain, r.Service, r.API), r.Error)
	if r.UserID != "" {
		r.UserHash = n.users.Hash(r.UserID)
		r.UserID = ""
	}
}

// Requests normalises every record of rs in place.
func (n *Normaliser) Requests(rs []record.Request) {
	for i := range rs {
		n.Request(&rs[i])
	}
}

// ApdexT returns the Apdex T that applies to an API.
func (n *Normaliser) ApdexT(domain, service, api string) time.Duration {
	return n.apdex.T(domain, service, api)
}

// Classify returns the error class of an error code and status.
func (n *Normaliser) Classify(code string, status int) string {
	return n.errors.Class(code, status)
}
