package embedded

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store/rollup"
)

// TestCollector: the store's own collector reports each table's rows and
// the samples counted under (other) past the key bound of a name.
func TestCollector(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	defer s.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s)
	n := rollup.MaxSampleKeysPerName + 25
	ss := make([]record.Sample, n)
	now := time.Now().UnixNano()
	for i := range ss {
		ss[i] = record.Sample{TS: now + int64(i), Name: "up", Value: 1, Domain: "payments", Host: fmt.Sprintf("h%d", i)}
	}
	if err := s.AppendSamples(context.Background(), ss); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`
# HELP noctua_embedded_sample_key_overflow_total Samples counted under an (other) rollup key because their name had reached the bound of distinct keys.
# TYPE noctua_embedded_sample_key_overflow_total counter
noctua_embedded_sample_key_overflow_total 25
# HELP noctua_embedded_table_rows Rows held by an embedded store table (open block, blocks sealing and sealed files).
# TYPE noctua_embedded_table_rows gauge
noctua_embedded_table_rows{table="logs"} 0
noctua_embedded_table_rows{table="requests"} 0
noctua_embedded_table_rows{table="samples"} %d
`, n)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "noctua_embedded_sample_key_overflow_total", "noctua_embedded_table_rows"); err != nil {
		t.Fatal(err)
	}
}
