package main

import (
	"flag"
	"time"

	"github.com/noctua-obs/noctua/demo"
)

// demoIncidents is the demo's incident schedule, from the command line.
type demoIncidents struct {
	first, every time.Duration
}

func (d *demoIncidents) flags(fs *flag.FlagSet) {
	fs.DurationVar(&d.first, "demo.first-incident", demo.DefaultIncidentFirst, "when the demo's first incident starts after launch (negative: at once)")
	fs.DurationVar(&d.every, "demo.incident-every", demo.DefaultIncidentEvery, "period of the demo's incidents after the first (negative: no incidents at all)")
}
