package main

import (
	"fmt"
	"net"
	"time"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest/otlp"
)

// serveGRPC starts the OTLP/gRPC listener unless server.grpc_listen is
// "off". Serve errors go to errc. stop drains the exports in flight for up
// to otlp.GRPCShutdownGrace, then cuts the rest.
func serveGRPC(cfg *config.Config, rcv *otlp.Receiver, errc chan<- error) (addr string, stop func(), err error) {
	if cfg.Server.GRPCListen == "off" {
		return "off", func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.Server.GRPCListen)
	if err != nil {
		return "", nil, fmt.Errorf("grpc listen: %w", err)
	}
	srv := rcv.GRPCServer()
	go func() {
		if err := srv.Serve(ln); err != nil {
			errc <- fmt.Errorf("grpc server: %w", err)
		}
	}()
	stop = func() {
		done := make(chan struct{})
		go func() { srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(otlp.GRPCShutdownGrace):
			srv.Stop()
		}
	}
	return ln.Addr().String(), stop, nil
}
