package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/ingest/otlp"
)

// serveGRPC starts the OTLP/gRPC listener unless server.grpc_listen is
// "off". Serve errors go to errc. stop drains the exports in flight for up
// to otlp.GRPCShutdownGrace, then cuts the rest.
func serveGRPC(cfg *config.Config, rcv *otlp.Receiver, views *api.API, tlsCfg *tls.Config, track map[string]*ingest.Push, admit *ingest.Admission, errc chan<- error) (addr string, stop func(), err error) {
	if cfg.Server.GRPCListen == "off" {
		return "off", func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.Server.GRPCListen)
	if err != nil {
		return "", nil, fmt.Errorf("grpc listen: %w", err)
	}
	opts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(ingestAuth(views), trackHealth(track), admitGRPC(admit))}
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	srv := rcv.GRPCServer(opts...)
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

// ingestAuth checks the "authorization" metadata of every export as the
// HTTP write paths check the header: an ingest or NOC token when auth is
// configured; Unauthenticated or PermissionDenied otherwise.
func ingestAuth(views *api.API) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		var hdr string
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get("authorization"); len(v) > 0 {
				hdr = v[0]
			}
		}
		if hdr == "" {
			hdr = "Bearer "
		}
		s, err := views.AuthenticateHeader(hdr, config.RoleIngest, config.RoleNOC)
		if err != nil {
			if errors.Is(err, api.ErrForbidden) {
				return nil, status.Error(codes.PermissionDenied, err.Error())
			}
			return nil, status.Error(codes.Unauthenticated, err.Error())
		}
		return h(s.WithWriter(ctx), req)
	}
}

// admitGRPC holds each export's bytes in the HTTP paths' admission
// budget, with the same per-sender rate and heavy lane, once
// authenticated: Unavailable (or ResourceExhausted over the sender's rate)
// with RetryInfo when refused. gRPC has read the message by then, so this
// bounds the decoding, not the read (MaxRecvMsgSize and
// MaxConcurrentStreams bound that).
func admitGRPC(admit *ingest.Admission) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		sized, ok := req.(interface{ Len() int })
		if !ok {
			return h(ctx, req)
		}
		addr := ""
		if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
			addr, _, _ = net.SplitHostPort(p.Addr.String())
		}
		release, err := admit.Admit(ctx, addr, int64(sized.Len()), info.FullMethod)
		if err != nil {
			return nil, otlp.GRPCStatus(err)
		}
		defer release()
		return h(ctx, req)
	}
}

// loadTLS returns the TLS configuration of the listeners, or nil when no
// certificate is configured.
func loadTLS(cfg *config.Config) (*tls.Config, error) {
	if cfg.Server.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.Server.TLSCertFile, cfg.Server.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}, nil
}

// trackHealth reports each export's outcome to the push source of its
// service (by the service name's signal: trace, logs, metrics), as the
// HTTP paths do: OK is a success, a server-side code a failure.
func trackHealth(track map[string]*ingest.Push) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		resp, err := h(ctx, req)
		for signal, p := range track {
			if strings.Contains(info.FullMethod, "."+signal+".") {
				switch status.Code(err) {
				case codes.OK:
					p.Success(0)
				case codes.Unavailable, codes.Internal, codes.ResourceExhausted:
					p.Failure(err)
				}
			}
		}
		return resp, err
	}
}
