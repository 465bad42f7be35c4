package clickhouse

import (
	"context"
	"fmt"
	"hash/fnv"
	"testing"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/storetest"
)

// openOn opens a store on the test server in a database named after dir,
// so that each test has its own and a reopen of dir finds its data.
func openOn(tb testing.TB, addr, dir string) *Store {
	tb.Helper()
	h := fnv.New64a()
	h.Write([]byte(dir))
	s, err := Open(context.Background(), config.ClickHouse{Addr: []string{addr}, Database: fmt.Sprintf("t%016x", h.Sum64())},
		Options{Retention: storetest.Retention})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestConformance runs the whole conformance suite against a real
// clickhouse-server: durable (a reopen finds the rows on the server), no
// sample key bound (any label may be grouped by).
func TestConformance(t *testing.T) {
	addr := serverAddr(t)
	storetest.RunWith(t, func(tb testing.TB, dir string) store.Store { return openOn(tb, addr, dir) },
		storetest.Caps{Durable: true})
}
