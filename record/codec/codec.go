// Package codec is the binary encoding of a batch of records: the payload
// of a write-ahead-log entry of the embedded store and the value of a
// scale-out Kafka message, so that both carry the same bytes.
//
// Every format starts with a version byte and the row count (uvarint);
// each row's timestamp is a varint delta from the previous row's, and its
// strings are written as uvarint 0 when equal to the previous row's value,
// otherwise uvarint len+1 then the bytes. UserID is never written: by the
// time a batch is encoded, transform has hashed and cleared it.
//
// Decoded rows' strings share one copy of the payload; the payload may be
// reused after a Decode call returns.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/noctua-obs/noctua/record"
)

// ErrCorrupt is returned for a payload that is not a batch of the expected
// kind and version. Permanent.
var ErrCorrupt = errors.New("codec: corrupt batch")

// Requests payload format, version 1:
//
//	version byte (1)
//	rows    uvarint
//	per row:
//	  ts delta from the previous row   varint
//	  12 strings (requestStrings order)
//	  duration ns                       varint
//	  flags                             byte (bit 0: error)
//	  status code                       varint
//	  apdex                             byte
const requestVersion = 1

const nRequestStrings = 12

func requestStrings(r *record.Request) [nRequestStrings]string {
	return [nRequestStrings]string{r.Domain, r.Journey, r.Service, r.API, r.Env, r.Source, r.Route,
		r.ErrorCode, r.ErrorClass, r.JourneyInstance, r.UserHash, r.TraceID}
}

// appendStrings appends cur, each as uvarint 0 when equal to prev's value
// (and not first), otherwise as uvarint len+1 then the bytes.
func appendStrings(b []byte, cur, prev []string, first bool) []byte {
	for j, s := range cur {
		if !first && s == prev[j] {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(s))+1)
		b = append(b, s...)
	}
	return b
}

// AppendRequests appends the encoding of rs to b and returns it.
func AppendRequests(b []byte, rs []record.Request) []byte {
	b = append(b, requestVersion)
	b = binary.AppendUvarint(b, uint64(len(rs)))
	var prev [nRequestStrings]string
	var prevTS int64
	for i := range rs {
		r := &rs[i]
		b = binary.AppendVarint(b, r.TS-prevTS)
		prevTS = r.TS
		cur := requestStrings(r)
		b = appendStrings(b, cur[:], prev[:], i == 0)
		prev = cur
		b = binary.AppendVarint(b, int64(r.Duration))
		var flags byte
		if r.Error {
			flags |= 1
		}
		b = append(b, flags)
		b = binary.AppendVarint(b, int64(r.StatusCode))
		b = append(b, byte(r.Apdex))
	}
	return b
}

// DecodeRequests decodes a payload written by AppendRequests.
func DecodeRequests(payload []byte) ([]record.Request, error) {
	r, n, err := newReader(payload, requestVersion)
	if err != nil {
		return nil, err
	}
	rs := make([]record.Request, n)
	var prev [nRequestStrings]string
	var ts int64
	for i := range rs {
		ts += r.varint()
		var cur [nRequestStrings]string
		r.strings(cur[:], prev[:])
		prev = cur
		dur := r.varint()
		flags := r.byte()
		status := r.varint()
		apdex := r.byte()
		if r.err != nil {
			return nil, fmt.Errorf("row %d: %w", i, r.err)
		}
		rs[i] = record.Request{
			TS: ts, Domain: cur[0], Journey: cur[1], Service: cur[2], API: cur[3], Env: cur[4],
			Source: cur[5], Route: cur[6], ErrorCode: cur[7], ErrorClass: cur[8],
			JourneyInstance: cur[9], UserHash: cur[10], TraceID: cur[11],
			Duration: time.Duration(dur), Error: flags&1 != 0, StatusCode: int32(status),
			Apdex: record.Apdex(apdex),
		}
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return rs, nil
}

// Logs payload format, version 1:
//
//	version byte (1)
//	rows    uvarint
//	per row:
//	  ts delta from the previous row   varint
//	  15 strings (logStrings order)
//	  flags                             byte (bit 0: timeout, bit 1: retry)
const logVersion = 1

const nLogStrings = 15

func logStrings(l *record.Log) [nLogStrings]*string {
	return [nLogStrings]*string{&l.Domain, &l.Journey, &l.Service, &l.API, &l.Env, &l.Source, &l.Route,
		&l.Level, &l.ErrorCode, &l.ErrorClass, &l.JourneyInstance, &l.UserHash, &l.TraceID, &l.Message, &l.Labels}
}

// AppendLogs appends the encoding of ls to b and returns it.
func AppendLogs(b []byte, ls []record.Log) []byte {
	b = append(b, logVersion)
	b = binary.AppendUvarint(b, uint64(len(ls)))
	var prev, cur [nLogStrings]string
	var prevTS int64
	for i := range ls {
		l := &ls[i]
		b = binary.AppendVarint(b, l.TS-prevTS)
		prevTS = l.TS
		for j, p := range logStrings(l) {
			cur[j] = *p
		}
		b = appendStrings(b, cur[:], prev[:], i == 0)
		prev = cur
		var flags byte
		if l.Timeout {
			flags |= 1
		}
		if l.Retry {
			flags |= 2
		}
		b = append(b, flags)
	}
	return b
}

// DecodeLogs decodes a payload written by AppendLogs.
func DecodeLogs(payload []byte) ([]record.Log, error) {
	r, n, err := newReader(payload, logVersion)
	if err != nil {
		return nil, err
	}
	ls := make([]record.Log, n)
	var prev, cur [nLogStrings]string
	var ts int64
	for i := range ls {
		ts += r.varint()
		r.strings(cur[:], prev[:])
		prev = cur
		flags := r.byte()
		if r.err != nil {
			return nil, fmt.Errorf("row %d: %w", i, r.err)
		}
		l := &ls[i]
		l.TS, l.Timeout, l.Retry = ts, flags&1 != 0, flags&2 != 0
		for j, p := range logStrings(l) {
			*p = cur[j]
		}
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return ls, nil
}

// Samples payload format, version 1:
//
//	version byte (1)
//	rows    uvarint
//	per row:
//	  ts delta from the previous row  varint
//	  8 strings (sampleStrings order; labels as EncodeLabels writes them)
//	  value                           8 bytes, IEEE 754 little endian
//	  kind                            byte
const sampleVersion = 1

const nSampleStrings = 8

func sampleStrings(s *record.Sample) [nSampleStrings]string {
	return [nSampleStrings]string{s.Name, s.Domain, s.Journey, s.Service, s.Host, s.Env, s.Source, EncodeLabels(s.Labels)}
}

// EncodeLabels writes labels as name\x00value pairs separated by \x1e.
func EncodeLabels(ls []record.Label) string {
	if len(ls) == 0 {
		return ""
	}
	var b strings.Builder
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(0x1e)
		}
		b.WriteString(l.Name)
		b.WriteByte(0)
		b.WriteString(l.Value)
	}
	return b.String()
}

// DecodeLabels reverses EncodeLabels; the strings view s.
func DecodeLabels(s string) []record.Label {
	if s == "" {
		return nil
	}
	var out []record.Label
	for _, p := range strings.Split(s, "\x1e") {
		n, v, _ := strings.Cut(p, "\x00")
		out = append(out, record.Label{Name: n, Value: v})
	}
	return out
}

// AppendSamples appends the encoding of ss to b and returns it.
func AppendSamples(b []byte, ss []record.Sample) []byte {
	b = append(b, sampleVersion)
	b = binary.AppendUvarint(b, uint64(len(ss)))
	var prev [nSampleStrings]string
	var prevTS int64
	for i := range ss {
		s := &ss[i]
		b = binary.AppendVarint(b, s.TS-prevTS)
		prevTS = s.TS
		cur := sampleStrings(s)
		b = appendStrings(b, cur[:], prev[:], i == 0)
		prev = cur
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.Value))
		b = append(b, byte(s.Kind))
	}
	return b
}

// DecodeSamples decodes a payload written by AppendSamples.
func DecodeSamples(payload []byte) ([]record.Sample, error) {
	r, n, err := newReader(payload, sampleVersion)
	if err != nil {
		return nil, err
	}
	ss := make([]record.Sample, n)
	var prev, cur [nSampleStrings]string
	var ts int64
	for i := range ss {
		ts += r.varint()
		r.strings(cur[:], prev[:])
		prev = cur
		var v [8]byte
		for j := range v {
			v[j] = r.byte()
		}
		kind := r.byte()
		if r.err != nil {
			return nil, fmt.Errorf("row %d: %w", i, r.err)
		}
		ss[i] = record.Sample{TS: ts, Value: math.Float64frombits(binary.LittleEndian.Uint64(v[:])), Kind: record.SampleKind(kind),
			Name: cur[0], Domain: cur[1], Journey: cur[2], Service: cur[3], Host: cur[4], Env: cur[5], Source: cur[6],
			Labels: DecodeLabels(cur[7])}
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return ss, nil
}
