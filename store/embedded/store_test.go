package embedded

import (
	"os"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/rollup"
	"github.com/noctua-obs/noctua/store/storetest"
)

func testLogger(tb testing.TB) log.Logger {
	if testing.Verbose() {
		return level.NewFilter(log.NewLogfmtLogger(os.Stderr), level.AllowInfo())
	}
	return log.NewNopLogger()
}

// TestConformance runs the whole conformance suite (requests, codes, logs,
// samples with the key bound, reopen) with default and small blocks.
func TestConformance(t *testing.T) {
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"default", Options{}},
		{"small blocks", Options{BlockRows: 1000, BlockAge: 50 * time.Millisecond, MaxSealBacklog: 1000}},
	} {
		t.Run(c.name, func(t *testing.T) {
			storetest.RunWith(t, func(tb testing.TB, dir string) store.Store {
				o := c.opts
				o.Retention = storetest.Retention
				o.Logger = testLogger(tb)
				s, err := Open(dir, o)
				if err != nil {
					tb.Fatalf("Open: %v", err)
				}
				return s
			}, storetest.Caps{Durable: true, SampleKeyBound: rollup.MaxSampleKeysPerName})
		})
	}
}
