package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...
// -X main.buildDate=..."; commit and buildDate fall back to the VCS
// stamp Go writes into the binary (vcs.revision, vcs.time).
var (
	commit    = ""
	buildDate = ""
)

// buildInfo returns the commit (with "+dirty" for a modified tree) and the
// build's commit time, from -ldflags or else from the binary's VCS stamp;
// "unknown" when neither says.
func buildInfo() (rev, date string) {
	rev, date = commit, buildDate
	if bi, ok := debug.ReadBuildInfo(); ok {
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.time":
				if date == "" {
					date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit == "" && rev != "" {
			rev += "+dirty"
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	if date == "" {
		date = "unknown"
	}
	return rev, date
}

// printVersion writes "noctua <version> commit <rev> built <date> <go>".
func printVersion(w io.Writer) {
	rev, date := buildInfo()
	fmt.Fprintf(w, "noctua %s\ncommit %s\nbuilt  %s\ngo     %s %s/%s\n", version, rev, date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
