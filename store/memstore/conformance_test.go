package memstore

import (
	"testing"

	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/storetest"
)

// TestConformance runs the whole conformance suite (requests, codes, logs,
// samples) against the reference store: not durable, no sample key bound.
func TestConformance(t *testing.T) {
	storetest.RunWith(t, func(testing.TB, string) store.Store { return New().WithRetention(storetest.Retention) }, storetest.Caps{})
}

// TestSampleConformance runs the sample suite against the reference sample
// set alone.
func TestSampleConformance(t *testing.T) {
	storetest.RunSamples(t, func(testing.TB, string) storetest.SampleStore { return &Samples{} }, storetest.SampleCaps{})
}
