package otlp

import (
	"context"
	"errors"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip decompressor clients use
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/noctua-obs/noctua/ingest"
)

// GRPCServer returns a gRPC server with the OTLP trace, logs and metrics
// services (opentelemetry.proto.collector.{trace,logs,metrics}.v1), to be
// served on its own listener (by convention port 4317). Requests are
// decoded by the same code as OTLP/HTTP protobuf bodies (the trace wire
// decoder, pdata for logs and metrics) and acknowledged once durable.
//
// Status codes follow the OTLP specification: InvalidArgument for data that
// does not decode (not retried); Unavailable with RetryInfo on overload or
// a storage failure, ResourceExhausted with RetryInfo over a rate limit
// (both retried after the delay); a message over the body limit is refused
// by gRPC itself with ResourceExhausted and no RetryInfo (not retried).
// Partially rejected requests succeed with partial_success set.
func (r *Receiver) GRPCServer(extra ...grpc.ServerOption) *grpc.Server {
	limit := int(r.traces.maxBody)
	opts := append([]grpc.ServerOption{
		grpc.ForceServerCodecV2(rawCodec{}),
		grpc.InitialWindowSize(1 << 20),
		grpc.InitialConnWindowSize(8 << 20),
		grpc.MaxRecvMsgSize(limit),
		grpc.MaxConcurrentStreams(256),
	}, extra...)
	s := grpc.NewServer(opts...)
	for _, svc := range []struct {
		name   string
		export exportFunc
	}{
		{"opentelemetry.proto.collector.trace.v1.TraceService", r.exportTraces},
		{"opentelemetry.proto.collector.logs.v1.LogsService", r.exportLogs},
		{"opentelemetry.proto.collector.metrics.v1.MetricsService", r.exportMetrics},
	} {
		s.RegisterService(&grpc.ServiceDesc{
			ServiceName: svc.name,
			HandlerType: (*any)(nil),
			Methods:     []grpc.MethodDesc{{MethodName: "Export", Handler: grpcExport("/"+svc.name+"/Export", svc.export)}},
			Metadata:    "opentelemetry/proto/collector",
		}, r)
	}
	return s
}

// grpcExport adapts an export path to a unary gRPC method handler,
// through the server's interceptor (authentication) when it has one.
func grpcExport(method string, export exportFunc) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	return func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
		msg := getRaw()
		defer putRaw(msg)
		if err := dec(msg); err != nil {
			return nil, err
		}
		handle := func(ctx context.Context, req any) (any, error) {
			resp, err := export(ctx, encProto, req.(*rawMessage).b)
			if err != nil {
				return nil, GRPCStatus(err)
			}
			b, err := resp.MarshalProto()
			if err != nil {
				return nil, status.Errorf(codes.Internal, "encoding response: %v", err)
			}
			return &rawMessage{b: b}, nil
		}
		if icpt == nil {
			return handle(ctx, msg)
		}
		return icpt(ctx, msg, &grpc.UnaryServerInfo{Server: srv, FullMethod: method}, handle)
	}
}

// GRPCStatus maps an export error to the status the OTLP specification
// asks for.
func GRPCStatus(err error) error {
	switch {
	case errors.Is(err, errDecode):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ingest.ErrRateLimited):
		return retryable(codes.ResourceExhausted, err)
	default: // overload and storage failures: retry later
		return retryable(codes.Unavailable, err)
	}
}

func retryable(c codes.Code, err error) error {
	st := status.New(c, err.Error())
	if d, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(ingest.RetryAfter)}); derr == nil {
		st = d
	}
	return st.Err()
}

// rawMessage is a request or response kept as its protobuf bytes: the
// receiver decodes requests itself, with the OTLP/HTTP decoders. A request
// that arrived in one buffer is used in place (ref holds gRPC's buffer
// until release); one split over several buffers is copied into b's own
// memory.
type rawMessage struct {
	b   []byte
	own []byte          // pooled copy target
	ref mem.BufferSlice // gRPC's buffers, referenced until release
}

// Len returns the request's size in bytes, for admission.
func (m *rawMessage) Len() int { return len(m.b) }

// release drops the reference to gRPC's buffers.
func (m *rawMessage) release() {
	if m.ref != nil {
		m.ref.Free()
		m.ref = nil
	}
	m.b = nil
}

// rawCodec passes protobuf bytes through without copying where it can. It
// is named "proto" so that it serves clients' default content subtype.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*rawMessage)
	if !ok {
		return nil, status.Errorf(codes.Internal, "otlp: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(m.b)}, nil
}

// Unmarshal keeps a reference to data (gRPC frees it when Unmarshal returns
// unless a reference is taken) or copies it when it is in pieces.
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return status.Errorf(codes.Internal, "otlp: cannot unmarshal into %T", v)
	}
	if len(data) == 1 {
		data.Ref()
		m.ref, m.b = data, data[0].ReadOnlyData()
		return nil
	}
	n := data.Len()
	if cap(m.own) < n {
		m.own = make([]byte, n)
	}
	m.own = m.own[:n]
	data.CopyTo(m.own)
	m.b = m.own
	return nil
}

var raws = sync.Pool{New: func() any { return new(rawMessage) }}

func getRaw() *rawMessage { return raws.Get().(*rawMessage) }

func putRaw(m *rawMessage) {
	m.release()
	if cap(m.own) > maxPooledBody {
		m.own = nil
	}
	raws.Put(m)
}

// GRPCShutdownGrace bounds how long a stopping gRPC server waits for the
// exports in flight before it cuts them.
const GRPCShutdownGrace = 10 * time.Second
