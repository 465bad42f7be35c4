// Package record defines the flat, plain rows that flow from ingest through
// transform into the store. They carry no Arrow or protobuf bookkeeping: a
// collector fills the raw fields, transform fills the normalised dimensions,
// and a store copies what it needs before Append returns.
package record

import "time"

// Apdex is the Apdex bucket of a request, measured against its API's T.
type Apdex uint8

// Apdex buckets. Unknown is only seen before transform has run.
const (
	ApdexUnknown    Apdex = 0
	ApdexSatisfied  Apdex = 1 // duration <= T and no error
	ApdexTolerating Apdex = 2 // T < duration <= 4T and no error
	ApdexFrustrated Apdex = 3 // duration > 4T, or an error
)

// String returns "satisfied", "tolerating", "frustrated" or "unknown".
func (a Apdex) String() string {
	switch a {
	case ApdexSatisfied:
		return "satisfied"
	case ApdexTolerating:
		return "tolerating"
	case ApdexFrustrated:
		return "frustrated"
	}
	return "unknown"
}

// Error classes of the error-code taxonomy. None means the request succeeded.
const (
	ClassNone        = ""
	ClassBusiness    = "business"
	ClassApplication = "application"
	ClassSystem      = "system"
)

// Classes lists the error classes in display order.
var Classes = [...]string{ClassBusiness, ClassApplication, ClassSystem}

// Unassigned is the domain of services that the configuration does not know.
// Their records are kept, never dropped.
const Unassigned = "unassigned"

// Request is one request or span at a service boundary: a row of the
// requests table.
//
// A collector fills TS, Service, Route, Env, Source, Duration, Error,
// StatusCode, ErrorCode, Journey (when the record carries one),
// JourneyInstance, UserID and TraceID. transform fills Domain, Journey (when
// empty), API, ErrorClass, Apdex and UserHash, and clears UserID so that no
// raw customer identifier is ever stored.
type Request struct {
	TS              int64 // start time, Unix nanoseconds
	Domain          string
	Journey         string // journey id from the configuration, e.g. "pay-bill"
	Service         string
	API             string // normalised API name; transform sets it from Route
	Env             string
	Source          string // collector that produced the row, e.g. "otlp"
	Route           string // raw route or operation as received
	Duration        time.Duration
	Error           bool  // outcome: true when the request failed
	StatusCode      int32 // HTTP status or gRPC code, 0 when unknown
	ErrorCode       string
	ErrorClass      string // one of the Class* constants
	Apdex           Apdex
	JourneyInstance string // one customer's run of a journey: high cardinality
	UserID          string // raw customer id; cleared by transform
	UserHash        string // hashed customer id
	TraceID         string // hex
}

// Time returns TS as a time.Time.
func (r *Request) Time() time.Time { return time.Unix(0, r.TS) }

// Log levels, as detected from the line or its labels.
const (
	LevelUnknown = ""
	LevelDebug   = "debug"
	LevelInfo    = "info"
	LevelWarn    = "warn"
	LevelError   = "error"
	LevelFatal   = "fatal"
)

// Log is one log line: a row of the logs table.
//
// A collector fills TS, Service, Route (when the line names its API), Env,
// Source, Level, ErrorCode, Journey (when the line carries one),
// JourneyInstance, UserID, TraceID, Message, Labels, Timeout and Retry.
// transform fills Domain, API, Journey (when empty), ErrorClass and
// UserHash, and clears UserID.
type Log struct {
	TS              int64 // Unix nanoseconds
	Domain          string
	Journey         string
	Service         string
	API             string
	Env             string
	Source          string // e.g. "loki"
	Route           string
	Level           string // one of the Level* constants
	ErrorCode       string
	ErrorClass      string // set when ErrorCode is set
	Timeout         bool   // the line reports a timeout
	Retry           bool   // the line reports a retry
	JourneyInstance string
	UserID          string // raw customer id; cleared by transform
	UserHash        string
	TraceID         string
	Message         string
	Labels          string // stream labels in Prometheus form: {a="b", c="d"}
}

// SampleKind says how a sample's value behaves over time.
type SampleKind uint8

// Sample kinds. A gauge may go up and down (CPU %, lag); a counter only
// grows until it is reset (bytes sent), so its rate is taken per series
// before any aggregation.
const (
	KindGauge   SampleKind = 0
	KindCounter SampleKind = 1
)

// String returns "gauge" or "counter".
func (k SampleKind) String() string {
	if k == KindCounter {
		return "counter"
	}
	return "gauge"
}

// Label is one name/value pair of a sample's labels.
type Label struct {
	Name, Value string
}

// Sample is one value of a metric-like series: a row of the samples table.
// Host metrics, network probes, Kafka lag and OTLP metrics all arrive as
// samples, each under its own Name (for example "host_cpu_utilisation_pct"
// or "kafka_lag_offsets").
//
// A collector fills TS, Name, Value, Kind, Service (when it knows it), Host,
// Env, Labels and, when its source owns the mapping, Domain and Journey.
// transform fills Domain (from the service, the host, or an owned label
// such as a consumer group or probe target; record.Unassigned when no rule
// owns it) and Journey (when empty and a rule names one). Source is set by
// the pipeline.
type Sample struct {
	TS      int64 // Unix nanoseconds
	Name    string
	Value   float64
	Kind    SampleKind
	Domain  string
	Journey string
	Service string
	Host    string
	Env     string
	Source  string // collector that produced the row, e.g. "scrape"
	// Labels are the series' other labels (consumer group, topic,
	// partition, probe target, ...), sorted by Name, each name once.
	Labels []Label
}

// Label returns the value of the label name, or "".
func (s *Sample) Label(name string) string {
	for _, l := range s.Labels {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// Label names with a meaning across sources: the catalog maps a consumer
// group or a probe target to its domain, and sample rollups may be keyed by
// them.
const (
	LabelCluster   = "cluster"   // Kafka cluster name
	LabelGroup     = "group"     // Kafka consumer group
	LabelTopic     = "topic"     // Kafka topic
	LabelPartition = "partition" // Kafka partition
	LabelTarget    = "target"    // probe target (URL or host:port)
	LabelDevice    = "device"    // network interface or disk
)
