package embedded

import (
	"sync"
	_ "unsafe" // go:linkname

	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Two of arrow v15's Parquet codecs are replaced in its codec registry
// (which has no exported setter) by faster encoders of the same format:
// zstd (sharedZstd) and snappy (s2Snappy). Decoding and streams stay
// arrow's; any Parquet reader reads the files.

// arrow v15's Parquet zstd codec builds a new zstd encoder for every page
// it compresses (compress.zstdCodec.EncodeLevel calls zstd.NewWriter): its
// tables and history are allocated and zeroed each time, which costs ~7×
// the compression itself on a 1 MiB page of trace ids (BenchmarkZstdPage).
// sharedZstd keeps one encoder per level, safe for concurrent EncodeAll,
// and replaces arrow's codec in arrow's codec registry, which has no
// exported setter. Decoding and streams stay arrow's. The output is the
// same zstd frames: any Parquet reader reads the files.
type sharedZstd struct {
	compress.Codec // arrow's, for everything but block encoding

	mu  sync.Mutex
	enc map[int]*zstd.Encoder
}

//go:linkname arrowCodecs github.com/apache/arrow/go/v15/parquet/compress.codecs
var arrowCodecs map[compress.Compression]compress.Codec

func init() {
	arrowCodecs[compress.Codecs.Zstd] = &sharedZstd{Codec: arrowCodecs[compress.Codecs.Zstd], enc: map[int]*zstd.Encoder{}}
	arrowCodecs[compress.Codecs.Snappy] = s2Snappy{Codec: arrowCodecs[compress.Codecs.Snappy]}
}

func (z *sharedZstd) encoder(level int) *zstd.Encoder {
	z.mu.Lock()
	defer z.mu.Unlock()
	if e, ok := z.enc[level]; ok {
		return e
	}
	l := zstd.SpeedDefault
	if level != compress.DefaultCompressionLevel {
		l = zstd.EncoderLevelFromZstd(level)
	}
	e, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(l))
	if err != nil {
		panic(err) // only for invalid options, which these are not
	}
	z.enc[level] = e
	return e
}

func (z *sharedZstd) Encode(dst, src []byte) []byte {
	return z.EncodeLevel(dst, src, compress.DefaultCompressionLevel)
}

func (z *sharedZstd) EncodeLevel(dst, src []byte, level int) []byte {
	return z.encoder(level).EncodeAll(src, dst[:0])
}

// s2Snappy encodes snappy blocks with klauspost/compress/s2's snappy-compatible
// encoder, ~1.5× the speed of github.com/golang/snappy (arrow's) on log
// messages and slightly smaller (BenchmarkSnappyPage).
type s2Snappy struct {
	compress.Codec // arrow's, for everything but block encoding
}

func (s s2Snappy) Encode(dst, src []byte) []byte { return s2.EncodeSnappy(dst[:cap(dst)], src) }

func (s s2Snappy) EncodeLevel(dst, src []byte, _ int) []byte { return s.Encode(dst, src) }
