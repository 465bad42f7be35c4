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

// messagePage is a 1 MiB page of JSON log lines like the Loki benchmark's.
func messagePage() []byte {
	var b []byte
	for _, l := range benchLogs(8000, 3) {
		b = append(b, l.Message...)
	}
	return b[:1<<20]
}

// TestS2SnappyInstalled: Parquet's snappy is s2's snappy-compatible
// encoder, and arrow's own snappy decoder reads its blocks.
func TestS2SnappyInstalled(t *testing.T) {
	c, err := compress.GetCodec(compress.Codecs.Snappy)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := c.(s2Snappy)
	if !ok {
		t.Fatalf("Parquet snappy codec is %T, not s2's", c)
	}
	for _, src := range [][]byte{messagePage(), tracePage(), {}, []byte("x")} {
		enc := s.EncodeLevel(make([]byte, 0, s.CompressBound(int64(len(src)+1))), src, compress.DefaultCompressionLevel)
		if got := s.Codec.Decode(make([]byte, len(src)), enc); !bytes.Equal(got, src) {
			t.Fatalf("%d bytes: round trip through arrow's snappy decoder differs", len(src))
		}
	}
}

// BenchmarkSnappyPage compresses one 1 MiB page of log messages with
// arrow's snappy codec (github.com/golang/snappy) and with s2's.
func BenchmarkSnappyPage(b *testing.B) {
	page := messagePage()
	c, _ := compress.GetCodec(compress.Codecs.Snappy)
	s := c.(s2Snappy)
	for _, bc := range []struct {
		name  string
		codec compress.Codec
	}{{"arrow", s.Codec}, {"s2", s}} {
		b.Run(bc.name, func(b *testing.B) {
			dst := make([]byte, 0, s.CompressBound(int64(len(page))))
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				dst = bc.codec.EncodeLevel(dst[:0], page, compress.DefaultCompressionLevel)
			}
			b.ReportMetric(float64(len(dst))/float64(len(page)), "ratio")
		})
	}
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
