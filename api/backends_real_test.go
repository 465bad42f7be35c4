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
		// The log methods are checked at run time so that this file
		// compiles while store/embedded does not implement them yet; the
		// log tests run against it as soon as it does.
		openLogs: func(tb testing.TB, rows []record.Request, logs []record.Log) store.Querier {
			s := open(tb, rows)
			la, okA := any(s).(store.LogAppender)
			_, okQ := any(s).(store.LogQuerier)
			if !okA || !okQ {
				tb.Skip("store/embedded does not implement store.LogAppender and store.LogQuerier yet")
			}
			if err := la.AppendLogs(context.Background(), logs); err != nil {
				tb.Fatal(err)
			}
			return s
		}}
}
