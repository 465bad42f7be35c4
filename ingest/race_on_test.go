//go:build race

package ingest_test

// raceDetector: latency bounds do not hold under the race detector's
// 5–10× slowdown; the tests that time answers check correctness only.
const raceDetector = true
