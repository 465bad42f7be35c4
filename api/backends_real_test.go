package api_test

import (
	"context"
	"testing"

	"github.com/noctua-obs/noctua/api/internal/apitest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/embedded"
)

// extraBackends lists the real store code the view tests also run against,
// besides the exact in-memory backend: the rollup package alone and the
// embedded store.
func extraBackends() []backend { return []backend{rollupBackend(), embeddedBackend()} }

// embeddedBackend opens the embedded store in a temporary directory; rows
// are appended through AppendRequests (already normalised) and read back
// through its Querier. Its clock is the tests' so retention keeps them.
func embeddedBackend() backend {
	open := func(tb testing.TB, rows []record.Request) *embedded.Store {
		s, err := embedded.Open(tb.TempDir(), embedded.Options{Now: apitest.Now})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = s.Close() })
		if err := s.AppendRequests(context.Background(), rows); err != nil {
			tb.Fatal(err)
		}
		return s
	}
	return backend{name: "embedded",
		open: func(tb testing.TB, rows []record.Request) store.Querier { return open(tb, rows) },
		openLogs: func(tb testing.TB, rows []record.Request, logs []record.Log) store.Querier {
			s := open(tb, rows)
			if err := s.AppendLogs(context.Background(), logs); err != nil {
				tb.Fatal(err)
			}
			return s
		}}
}
