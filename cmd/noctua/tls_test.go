package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
)

// selfSigned writes a certificate and key for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "noctua-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLSListeners: with a certificate configured, the HTTP and the gRPC
// listeners speak TLS only.
func TestTLSListeners(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary")
	}
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	example, err := os.ReadFile(filepath.Join("..", "..", "config", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(example), "server:\n", "server:\n  tls_cert_file: "+certFile+"\n  tls_key_file: "+keyFile+"\n", 1)
	if cfg == string(example) {
		t.Fatal("example.yaml has no server section to extend")
	}
	cfgPath := filepath.Join(dir, "noctua.yaml")
	os.WriteFile(cfgPath, []byte(cfg), 0o600)
	grpcAddr := freeAddr(t)
	dash := startServer(t, buildBinary(t), "--config", cfgPath, "--grpc-listen", grpcAddr)
	base := baseOf(dash)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("banner: %s", dash)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("https: %v", err)
	}
	resp.Body.Close()
	if _, err := http.Get(strings.Replace(base, "https://", "http://", 1) + "/healthz"); err == nil {
		// A plain-HTTP request to a TLS listener gets a 400 from Go's
		// server, not an answer from the API.
		r, _ := http.Get(strings.Replace(base, "https://", "http://", 1) + "/api/v1/overview?token=noc-demo-token")
		if r != nil && r.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP served the API")
		}
	}

	cc, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "")))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	td := ptrace.NewTraces()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+demoIngestToken)
	if _, err := ptraceotlp.NewGRPCClient(cc).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td)); err != nil {
		t.Fatalf("gRPC over TLS: %v", err)
	}
}
