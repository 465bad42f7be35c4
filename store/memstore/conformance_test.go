package memstore

import (
	"testing"

	"github.com/noctua-obs/noctua/store/storetest"
)

// TestSampleConformance runs the sample suite against the reference store
// (no key bound, not durable).
func TestSampleConformance(t *testing.T) {
	storetest.RunSamples(t, func(testing.TB, string) storetest.SampleStore { return &Samples{} }, storetest.SampleCaps{})
}
