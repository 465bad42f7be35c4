package embedded

import (
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/record/codec"
)

// WAL payloads are record/codec batches: the same bytes a scale-out
// collector produces to Kafka. A format change there is a WAL format
// change here (its version byte guards both).

const nStrings = 12

// rowStrings are the string columns of a request row, in column order.
func rowStrings(r *record.Request) [nStrings]string {
	return [nStrings]string{r.Domain, r.Journey, r.Service, r.API, r.Env, r.Source, r.Route,
		r.ErrorCode, r.ErrorClass, r.JourneyInstance, r.UserHash, r.TraceID}
}

// appendBatch appends the encoding of rs to b.
func appendBatch(b []byte, rs []record.Request) []byte { return codec.AppendRequests(b, rs) }

// decodeBatch decodes a payload written by appendBatch. The strings of the
// rows share one copy of payload; payload may be reused afterwards.
func decodeBatch(payload []byte) ([]record.Request, error) { return codec.DecodeRequests(payload) }

func appendLogBatch(b []byte, ls []record.Log) []byte { return codec.AppendLogs(b, ls) }

func decodeLogBatch(payload []byte) ([]record.Log, error) { return codec.DecodeLogs(payload) }

func appendSampleBatch(b []byte, ss []record.Sample) []byte { return codec.AppendSamples(b, ss) }

func decodeSampleBatch(payload []byte) ([]record.Sample, error) { return codec.DecodeSamples(payload) }

// encodeLabels writes labels as name\x00value pairs separated by \x1e.
func encodeLabels(ls []record.Label) string { return codec.EncodeLabels(ls) }

// decodeLabels reverses encodeLabels; the strings view s.
func decodeLabels(s string) []record.Label { return codec.DecodeLabels(s) }
