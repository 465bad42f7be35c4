package embedded

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v15/parquet/compress"
)

// tracePage is a 1 MiB page of random hex trace ids, as Parquet hands a
// page of the trace_id column to the codec.
func tracePage() []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var b []byte
	for len(b) < 1<<20 {
		b = fmt.Appendf(b, "%016x%016x", rng.Uint64(), rng.Uint64())
	}
	return b[:1<<20]
}

// TestSharedZstdInstalled: Parquet's zstd is the shared-encoder codec, its
// pages decode with arrow's own decoder, also when encoded concurrently.
func TestSharedZstdInstalled(t *testing.T) {
	c, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	z, ok := c.(*sharedZstd)
	if !ok {
		t.Fatalf("Parquet zstd codec is %T, not the shared-encoder one", c)
	}
	page := append(tracePage(), bytes.Repeat([]byte("journey=pay-bill "), 4096)...)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, level := range []int{zstdLevel, compress.DefaultCompressionLevel, 3} {
				src := page[g*1000:]
				enc := z.EncodeLevel(nil, src, level)
				if len(enc) >= len(src) {
					t.Errorf("level %d: %d bytes compressed to %d", level, len(src), len(enc))
				}
				if got := z.Codec.Decode(nil, enc); !bytes.Equal(got, src) {
					t.Errorf("level %d: round trip differs", level)
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkZstdPage compresses one 1 MiB page of trace ids at zstd level 1
// with arrow's codec (a new encoder per page) and with the shared one.
func BenchmarkZstdPage(b *testing.B) {
	page := tracePage()
	c, _ := compress.GetCodec(compress.Codecs.Zstd)
	z := c.(*sharedZstd)
	for _, bc := range []struct {
		name  string
		codec compress.Codec
	}{{"arrow", z.Codec}, {"shared", z}} {
		b.Run(bc.name, func(b *testing.B) {
			var dst []byte
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				dst = bc.codec.EncodeLevel(dst[:0], page, zstdLevel)
			}
			b.ReportMetric(float64(len(dst))/float64(len(page)), "ratio")
		})
	}
}
