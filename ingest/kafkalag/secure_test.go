package kafkalag_test

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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/ingest/kafkalag"
	"github.com/noctua-obs/noctua/store/memstore"
	"github.com/noctua-obs/noctua/transform"
)

// TestTLSAndSASL: a cluster behind TLS (a private CA) and SCRAM-SHA-256 is
// polled with kafka.clusters[].tls and .sasl (the password from a file);
// the wrong password, or no TLS, is a failed poll; a missing CA file is
// refused at start-up with its field.
func TestTLSAndSASL(t *testing.T) {
	dir := t.TempDir()
	serverTLS, caFile := selfSigned(t, dir)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "payments.events"), kfake.TLS(serverTLS),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "noctua", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(pem)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DialTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}),
		kgo.SASL(scram.Auth{User: "noctua", Pass: "s3cret"}.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for range 7 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "payments.events", Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var at kadm.Offsets
	at.Add(kadm.Offset{Topic: "payments.events", Partition: 0, At: 2, LeaderEpoch: -1})
	if _, err := kadm.NewClient(cl).CommitOffsets(ctx, "payment-settler", at); err != nil {
		t.Fatal(err)
	}
	passFile := filepath.Join(dir, "kafka.pass")
	os.WriteFile(passFile, []byte("s3cret\n"), 0o600)

	cfg, _ := config.Parse([]byte("domains: [{id: payments, squad: pay, kafka_groups: [{group: payment-settler}]}]"))
	norm, _ := transform.New(cfg)
	st := memstore.New()
	pipe := ingest.NewPipeline(norm, st, ingest.NewMetrics(prometheus.NewRegistry()), 4).WithSamples(st)
	cluster := config.KafkaCluster{Name: "secure", Brokers: c.ListenAddrs(), Interval: time.Second, Groups: []string{"payment-settler"},
		TLS:  config.KafkaTLS{Enabled: true, CAFile: caFile, ServerName: "127.0.0.1"},
		SASL: config.KafkaSASL{Mechanism: "SCRAM-SHA-256", Username: "noctua", PasswordFile: passFile}}
	poll := func(cl config.KafkaCluster) (int, error) {
		src, err := kafkalag.New(cl, pipe, nil)
		if err != nil {
			t.Fatal(err)
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return src.Poll(pctx)
	}
	if n, err := poll(cluster); err != nil || n == 0 {
		t.Fatalf("TLS and SCRAM: %d samples, %v", n, err)
	}
	wrong := cluster
	wrong.SASL.PasswordFile, wrong.SASL.Password = "", "wrong"
	if _, err := poll(wrong); err == nil { // kfake drops the connection (EOF); a broker says SASL_AUTHENTICATION_FAILED
		t.Errorf("a wrong password: no error")
	}
	plain := cluster
	plain.TLS = config.KafkaTLS{}
	if _, err := poll(plain); err == nil {
		t.Errorf("no TLS against a TLS listener: no error")
	}
	missing := cluster
	missing.TLS.CAFile = filepath.Join(dir, "absent.pem")
	if _, err := kafkalag.New(missing, pipe, nil); err == nil || !strings.Contains(err.Error(), "tls.ca_file") {
		t.Errorf("a missing CA file: %v, want an error naming tls.ca_file", err)
	}
}

// selfSigned returns a server TLS configuration for 127.0.0.1 and the
// path of its certificate, which is its own CA.
func selfSigned(t *testing.T, dir string) (*tls.Config, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, _ := x509.MarshalECPrivateKey(key)
	pair, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, caFile
}
