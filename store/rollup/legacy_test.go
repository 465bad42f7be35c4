package rollup

import (
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store/storetest"
)

// legacyRows are the rows testdata/requests-v1.bin (a whole set,
// MarshalBinary) and testdata/requests-v1-block.bin (TakeBlock) were
// written from, in the format of before cells kept error codes.
func legacyRows() []record.Request { return storetest.LegacyRequestRows(t0) }
