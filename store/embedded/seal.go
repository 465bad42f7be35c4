package embedded

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/noctua-obs/noctua/store/internal/direct"
	"github.com/noctua-obs/noctua/store/internal/fsync"
)

const (
	blockPrefix   = "blk_"
	parquetSuffix = ".parquet"
	rollupSuffix  = ".rollup"
	tmpSuffix     = ".tmp"
	rowGroupRows  = 256 << 10
	// dataPageBytes is large because the Parquet zstd codec builds a new
	// encoder (megabytes of history) for every page it compresses; past
	// 1 MiB larger pages save nothing more.
	dataPageBytes = 1 << 20
	// zstdLevel is zstd's fastest: on these columns it compresses as well as
	// the default level (a smaller file, even) for less CPU.
	zstdLevel = 1
)

// sealedFile describes one sealed Parquet block. Its name carries the
// highest WAL sequence number it covers, its time range and its row count,
// so that Open needs no Parquet read:
//
//	blk_<maxSeq>_<minTS>_<maxTS>_<rows>.parquet   (+ .rollup beside it)
type sealedFile struct {
	base   string // path without suffix
	maxSeq uint64
	minTS  int64
	maxTS  int64
	rows   int64
	bytes  int64 // parquet + rollup
}

func (f sealedFile) parquetPath() string { return f.base + parquetSuffix }
func (f sealedFile) rollupPath() string  { return f.base + rollupSuffix }

func blockBase(dir string, maxSeq uint64, minTS, maxTS, rows int64) string {
	return filepath.Join(dir, fmt.Sprintf("%s%020d_%d_%d_%d", blockPrefix, maxSeq, minTS, maxTS, rows))
}

func parseBlockName(name string) (maxSeq uint64, minTS, maxTS, rows int64, ok bool) {
	f := strings.Split(strings.TrimSuffix(strings.TrimPrefix(name, blockPrefix), parquetSuffix), "_")
	if len(f) != 4 {
		return 0, 0, 0, 0, false
	}
	var err [4]error
	maxSeq, err[0] = strconv.ParseUint(f[0], 10, 64)
	minTS, err[1] = strconv.ParseInt(f[1], 10, 64)
	maxTS, err[2] = strconv.ParseInt(f[2], 10, 64)
	rows, err[3] = strconv.ParseInt(f[3], 10, 64)
	return maxSeq, minTS, maxTS, rows, errors.Join(err[:]...) == nil
}

// writeFileAtomic writes data to path through a temporary file, made
// durable (fdatasync) before the rename. The file is written around the
// page cache where the file system allows it (store/internal/direct): a
// sealed block is read back seldom, and written through the cache it costs
// the sealer several times the CPU. Each bufBytes written are one write.
func writeFileAtomic(path string, bufBytes int, write func(w io.Writer) error) error {
	tmp := path + tmpSuffix
	w, err := direct.Create(tmp, bufBytes)
	if err != nil {
		return err
	}
	if err := write(w); err != nil {
		w.Close()
		os.Remove(tmp)
		return err
	}
	if err := w.Sync(); err != nil {
		w.Close()
		os.Remove(tmp)
		return err
	}
	if err := w.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// parquetBufBytes is the write buffer of a Parquet file.
const parquetBufBytes = 4 << 20

// writerProps are the Parquet properties of a block of schema sch: zstd,
// except the columns marked for snappy (see fastCodec); dictionary
// encoding for the dictionary columns.
func writerProps(sch *arrow.Schema) *parquet.WriterProperties {
	opts := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(zstdLevel),
		parquet.WithDictionaryDefault(false),
		parquet.WithMaxRowGroupLength(rowGroupRows),
		parquet.WithDataPageSize(dataPageBytes),
		// Nothing reads the min/max of the strings (a block holds every key
		// and the file name carries the time range), and computing them
		// costs ~5% of ingest: only the timestamps get statistics.
		parquet.WithStats(false),
		parquet.WithStatsFor("ts", true),
	}
	for _, f := range sch.Fields() {
		if isDict(f) {
			opts = append(opts, parquet.WithDictionaryFor(f.Name, true))
		}
		if isFastCodec(f) {
			opts = append(opts, parquet.WithCompressionFor(f.Name, compress.Codecs.Snappy))
		}
	}
	return parquet.NewWriterProperties(opts...)
}

// sealedBlock is a block handed to the sealer: its record is immutable.
type sealedBlock struct {
	rec    arrow.Record
	cells  encoding.BinaryMarshaler // the rollup cells of rec's rows
	maxSeq uint64
	minTS  int64
	maxTS  int64
}

// writeBlock persists b as a Parquet file and its rollup cells beside it.
// The rollup file is written first: a Parquet file is the commit marker.
func writeBlock(dir string, b *sealedBlock, cells []byte) (sealedFile, error) {
	sf := sealedFile{maxSeq: b.maxSeq, minTS: b.minTS, maxTS: b.maxTS, rows: b.rec.NumRows()}
	sf.base = blockBase(dir, sf.maxSeq, sf.minTS, sf.maxTS, sf.rows)
	if err := writeFileAtomic(sf.rollupPath(), len(cells), func(w io.Writer) error {
		_, err := w.Write(cells)
		return err
	}); err != nil {
		return sf, fmt.Errorf("embedded: write rollup: %w", err)
	}
	if err := writeFileAtomic(sf.parquetPath(), parquetBufBytes, func(f io.Writer) error {
		// The Parquet writer closes a sink that is an io.Closer; the file
		// must stay open for the fsync.
		sink := struct{ io.Writer }{f}
		w, err := pqarrow.NewFileWriter(b.rec.Schema(), sink, writerProps(b.rec.Schema()), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return fmt.Errorf("parquet writer: %w", err)
		}
		for _, kv := range [][2]string{
			{"noctua.max_seq", strconv.FormatUint(sf.maxSeq, 10)},
			{"noctua.min_ts", strconv.FormatInt(sf.minTS, 10)},
			{"noctua.max_ts", strconv.FormatInt(sf.maxTS, 10)},
		} {
			if err := w.AppendKeyValueMetadata(kv[0], kv[1]); err != nil {
				return fmt.Errorf("parquet metadata: %w", err)
			}
		}
		if err := w.Write(b.rec); err != nil {
			w.Close()
			return fmt.Errorf("parquet write: %w", err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("parquet close: %w", err)
		}
		return nil
	}); err != nil {
		return sf, fmt.Errorf("embedded: write parquet: %w", err)
	}
	if err := fsync.Dir(dir); err != nil {
		return sf, fmt.Errorf("embedded: %w", err)
	}
	for _, p := range []string{sf.parquetPath(), sf.rollupPath()} {
		if st, err := os.Stat(p); err == nil {
			sf.bytes += st.Size()
		}
	}
	return sf, nil
}

// readParquet reads a sealed file into one record per row group and calls
// fn for each. fn must not keep the record.
func readParquet(ctx context.Context, path string, mem memory.Allocator, fn func(rec arrow.Record) error) error {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return fmt.Errorf("embedded: open %s: %w", path, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: rowGroupRows}, mem)
	if err != nil {
		return fmt.Errorf("embedded: parquet reader %s: %w", path, err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return fmt.Errorf("embedded: record reader %s: %w", path, err)
	}
	defer rr.Release()
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(rr.Record()); err != nil {
			return err
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("embedded: read %s: %w", path, err)
	}
	return nil
}

// sealedSeqFile records the highest WAL sequence number that is sealed.
const sealedSeqFile = "sealed.seq"

func writeSealedSeq(dir string, seq uint64) error {
	return writeFileAtomic(filepath.Join(dir, sealedSeqFile), 64, func(w io.Writer) error {
		_, err := io.WriteString(w, strconv.FormatUint(seq, 10)+"\n")
		return err
	})
}

func readSealedSeq(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, sealedSeqFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("embedded: read %s: %w", sealedSeqFile, err)
	}
	seq, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("embedded: parse %s: %w", sealedSeqFile, err)
	}
	return seq, nil
}
