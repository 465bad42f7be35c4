package embedded

import (
	"sync"
	_ "unsafe" // go:linkname

	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

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
