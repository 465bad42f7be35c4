package clickhouse

import (
	"os"
	"testing"

	"github.com/noctua-obs/noctua/internal/chtest"
)

// TestMain stops the shared server after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	chtest.Stop()
	os.Exit(code)
}

// serverAddr returns the address of the clickhouse-server shared by this
// package's tests (see chtest.Addr: skipped without one, fatal in CI).
func serverAddr(tb testing.TB) string { return chtest.Addr(tb) }
