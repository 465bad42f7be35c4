package transform

import "github.com/noctua-obs/noctua/config"

// Journeys guesses a request's journey from its API when the record carries
// none. An API that is a step of several journeys belongs to the first one
// listed in the configuration.
type Journeys struct {
	of  map[svcKey]string
	ids map[string]bool // configured journey ids
}

// NewJourneys indexes the configuration's journey steps.
func NewJourneys(cfg *config.Config) *Journeys {
	j := &Journeys{of: map[svcKey]string{}, ids: map[string]bool{}}
	for _, jr := range cfg.Journeys {
		j.ids[jr.ID] = true
		for _, s := range jr.Steps {
			k := svcKey{s.Service, s.API}
			if _, taken := j.of[k]; !taken {
				j.of[k] = jr.ID
			}
		}
	}
	return j
}

// Journey returns the journey of (service, api), or "" when none is known.
func (j *Journeys) Journey(service, api string) string { return j.of[svcKey{service, api}] }

// Known reports whether id is a configured journey.
func (j *Journeys) Known(id string) bool { return j.ids[id] }
