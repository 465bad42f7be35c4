package main

import (
	"context"
	"net"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/noctua-obs/noctua/ingest"
)

type sizedReq int

func (n sizedReq) Len() int { return int(n) }

// TestGRPCAdmission: gRPC exports share the HTTP paths' admission budget:
// while one export holds most of it, another is refused with Unavailable
// and RetryInfo (an OTLP client retries it), and once the first is answered
// the bytes are given back.
func TestGRPCAdmission(t *testing.T) {
	admit := ingest.NewAdmission(10<<20, nil)
	icpt := admitGRPC(admit)
	info := &grpc.UnaryServerInfo{FullMethod: "/opentelemetry.proto.collector.trace.v1.TraceService/Export"}
	from := func(ip string) context.Context {
		return peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 4000}})
	}
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := icpt(from("10.0.0.1"), sizedReq(8<<20), info, func(context.Context, any) (any, error) {
			close(held)
			<-release
			return nil, nil
		})
		done <- err
	}()
	<-held
	_, err := icpt(from("10.0.0.2"), sizedReq(4<<20), info, func(context.Context, any) (any, error) { return nil, nil })
	st := status.Convert(err)
	if st.Code() != codes.Unavailable {
		t.Fatalf("second export over the budget: %v, want Unavailable", err)
	}
	retry := false
	for _, d := range st.Details() {
		_, retry = d.(*errdetails.RetryInfo)
	}
	if !retry {
		t.Errorf("refusal without RetryInfo: %v", st.Details())
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("first export: %v", err)
	}
	if _, err := icpt(from("10.0.0.2"), sizedReq(4<<20), info, func(context.Context, any) (any, error) { return nil, nil }); err != nil {
		t.Fatalf("export after the budget was given back: %v", err)
	}
}
