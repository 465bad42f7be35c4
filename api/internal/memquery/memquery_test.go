package memquery_test

import (
	"testing"

	"github.com/noctua-obs/noctua/api/internal/memquery"
	"github.com/noctua-obs/noctua/store/storetest"
)

// TestRequestCodes holds the reference implementation to the error-code
// part of the conformance suite that the embedded store passes too.
func TestRequestCodes(t *testing.T) {
	storetest.RunRequestCodes(t, func(testing.TB) storetest.RequestBackend { return memquery.New() })
}
