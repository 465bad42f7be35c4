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
	owners   *Owners
	bounds   *bounds
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
		owners:   NewOwners(cfg),
		bounds:   newBounds(cfg.Server.Retention),
	}, nil
}

// Request normalises r in place.
func (n *Normaliser) Request(r *record.Request) {
	r.Service, r.Domain, r.API = n.place(r.Service, r.Route)
	if r.Journey == "" {
		r.Journey = n.journeys.Journey(r.Service, r.API)
	} else {
		r.Journey = n.journey(r.Journey)
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
	n.bounds.rotateIfDue()
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

// Owners returns the sample-source ownership index (hosts, probe targets,
// consumer groups).
func (n *Normaliser) Owners() *Owners { return n.owners }

// Sample normalises s in place: a sample that already names its domain
// keeps it; otherwise its service, then its host, then its consumer group,
// then its probe target decides, and record.Unassigned when none is known.
func (n *Normaliser) Sample(s *record.Sample) {
	if s.Domain != "" {
		return
	}
	switch {
	case s.Service != "":
		s.Domain = n.domains.Domain(s.Service)
	case s.Host != "" && n.owners.hostDomain[s.Host] != "":
		s.Domain = n.owners.hostDomain[s.Host]
	default:
		s.Domain = record.Unassigned
		if g := s.Label(record.LabelGroup); g != "" {
			d, j := n.owners.Group(g)
			s.Domain = d
			if s.Journey == "" {
				s.Journey = j
			}
		} else if t := s.Label(record.LabelTarget); t != "" {
			if p, d, ok := n.owners.Probe(t); ok {
				s.Domain = d
				if s.Journey == "" {
					s.Journey = p.Journey
				}
			}
		}
	}
}

// Samples normalises every record of ss in place.
func (n *Normaliser) Samples(ss []record.Sample) {
	for i := range ss {
		n.Sample(&ss[i])
	}
}

// place returns a record's service, domain and API: from the
// configuration, or bounded — an unknown service past MaxUnknownServices
// and an unnamed route past its service's bound become Other.
func (n *Normaliser) place(service, route string) (svc, domain, api string) {
	domain, api, knownSvc, knownAPI := n.domains.resolve(service, route)
	if !knownSvc {
		service = n.bounds.services.admit(service)
	}
	if !knownAPI {
		api = n.bounds.route(service, api, knownSvc)
	}
	return service, domain, api
}

// journey bounds a journey id a record carried.
func (n *Normaliser) journey(id string) string {
	if n.journeys.Known(id) {
		return id
	}
	return n.bounds.journeys.admit(id)
}

// Domains returns the service and route ownership index, built once from
// the configuration, for the views to place services as records are.
func (n *Normaliser) Domains() *Domains { return n.domains }
