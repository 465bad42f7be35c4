package storetest

import (
	"fmt"
	"time"

	"github.com/noctua-obs/noctua/record"
)

// LegacyRequestRows are the rows whose rollup cells
// store/rollup/testdata/requests-v1.bin (a whole set) and
// requests-v1-block.bin (a block) hold in the format written before
// request cells kept error codes (NRU1/NRB1), with t0 = 2030-01-02 UTC:
// 2 domains × 3 APIs over 3 minutes from t0, one row in five failed with
// a code. The rollup package wrote those files from these rows; its tests
// and the embedded store's read them back.
func LegacyRequestRows(t0 time.Time) []record.Request {
	var rs []record.Request
	classes := []string{record.ClassBusiness, record.ClassApplication, record.ClassSystem}
	for i := range 600 {
		r := record.Request{
			TS:       t0.UnixNano() + int64(i)*int64(300*time.Millisecond),
			Domain:   fmt.Sprintf("d%d", i%2),
			Journey:  "j",
			Service:  "s",
			API:      fmt.Sprintf("a%d", i%3),
			Duration: time.Duration(10+i%90) * time.Millisecond,
			Apdex:    record.ApdexSatisfied,
			UserHash: fmt.Sprintf("u%d", i%40),
		}
		if i%5 == 0 {
			r.Error, r.Apdex = true, record.ApdexFrustrated
			r.ErrorClass = classes[i%3]
			r.ErrorCode = fmt.Sprintf("E%d", i%7)
		}
		rs = append(rs, r)
	}
	return rs
}
