package benchmarks

import (
	"context"
	"net/http"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// BenchmarkOTLPGRPCIngest is BenchmarkOTLPIngest over OTLP/gRPC: the same
// 500-span demo requests, the same senders, each with the durable
// acknowledgement of an Export call, each sender over its own client
// connection as each OTLP/HTTP sender has its own keep-alive connection.
func BenchmarkOTLPGRPCIngest(b *testing.B) {
	const spansPerReq = 500
	bodies := spanBodies(b, 64, spansPerReq)
	srv := startNoctua(b)
	authCtx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+ingestToken)
	conns := make([]*grpc.ClientConn, *ingestSenders)
	for i := range conns {
		cc, err := grpc.NewClient(srv.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallSendMsgSize(64<<20)))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		conns[i] = cc
	}
	runLoad(b, srv, load{
		bodies: bodies,
		items:  spansPerReq,
		unit:   "spans",
		ok:     http.StatusOK,
		send: func(sender int, body []byte) (int, error) {
			var out rawBytes
			err := conns[sender].Invoke(authCtx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", (*rawBytes)(&body), &out)
			switch status.Code(err) {
			case codes.OK:
				return http.StatusOK, nil
			case codes.Unavailable:
				return http.StatusServiceUnavailable, err
			case codes.ResourceExhausted:
				return http.StatusTooManyRequests, err
			}
			return 0, err
		},
	})
}

// rawBytes is a message sent and received as its protobuf bytes.
type rawBytes []byte

// rawCodec sends pre-marshalled requests as they are.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*rawBytes), nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*rawBytes) = append((*v.(*rawBytes))[:0], data...)
	return nil
}
