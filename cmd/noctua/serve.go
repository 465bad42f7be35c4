package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"github.com/noctua-obs/noctua/api/audit"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/noctua-obs/noctua/alert"
	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/ws"
	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/demo"
	"github.com/noctua-obs/noctua/export/bigquery"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/ingest/kafkalag"
	"github.com/noctua-obs/noctua/ingest/lokipush"
	"github.com/noctua-obs/noctua/ingest/otlp"
	"github.com/noctua-obs/noctua/ingest/scrape"
	"github.com/noctua-obs/noctua/scaleout"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/memstore"
	"github.com/noctua-obs/noctua/store/storage"
	"github.com/noctua-obs/noctua/transform"
	"github.com/noctua-obs/noctua/ui"
)

// serveFlags are the command-line overrides of the configuration file.
type serveFlags struct {
	config     string
	listen     string
	grpcListen string
	dataDir    string
	retention  time.Duration
	logLevel   string
	demo       bool
	demoRate   float64
	pprof      bool
	role       string
	incidents  demoIncidents
}

func parseServeFlags(args []string, demoDefault bool, stderr io.Writer) (serveFlags, error) {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "", "configuration file (default: the shipped example bank)")
	fs.StringVar(&f.listen, "listen", "", "HTTP listen address, overrides server.listen (default "+config.DefaultListen+")")
	fs.StringVar(&f.grpcListen, "grpc-listen", "", "OTLP/gRPC listen address or off, overrides server.grpc_listen (default "+config.DefaultGRPCListen+")")
	fs.StringVar(&f.dataDir, "data-dir", "", "embedded store directory, overrides server.data_dir (default "+config.DefaultDataDir+")")
	fs.DurationVar(&f.retention, "retention", 0, "data retention, overrides server.retention (default 168h)")
	fs.StringVar(&f.logLevel, "log.level", "info", "log level: debug, info, warn, error")
	fs.BoolVar(&f.demo, "demo", demoDefault, "send a live demo load of the example bank through the OTLP endpoint")
	fs.Float64Var(&f.demoRate, "demo.rate", 300, "mean demo spans per second")
	fs.BoolVar(&f.pprof, "pprof", false, "serve Go profiling endpoints under /debug/pprof/")
	fs.StringVar(&f.role, "role", "", "what this process runs, overrides server.role: all (default), collector, writer or api")
	f.incidents.flags(fs)
	err := fs.Parse(args)
	return f, err
}

func serveCmd(ctx context.Context, args []string, demoDefault bool, stdout, stderr io.Writer) error {
	f, err := parseServeFlags(args, demoDefault, stderr)
	if err != nil {
		return err
	}
	logger, err := newLogger(stderr, f.logLevel)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	if f.listen != "" {
		cfg.Server.Listen = f.listen
	}
	if f.grpcListen != "" {
		cfg.Server.GRPCListen = f.grpcListen
	}
	if f.dataDir != "" {
		cfg.Server.DataDir = f.dataDir
	}
	if f.retention != 0 {
		cfg.Server.Retention = f.retention
	}
	if f.role != "" {
		cfg.Server.Role = f.role
	}
	if f.demo && cfg.Server.Role != config.ServerRoleAll {
		return fmt.Errorf("--demo runs with --role all only, not %s", cfg.Server.Role)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	return serve(ctx, cfg, f, logger, stdout)
}

func serve(ctx context.Context, cfg *config.Config, f serveFlags, logger log.Logger, stdout io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !cfg.AuthEnabled() {
		level.Warn(logger).Log("msg", "no auth tokens configured: every caller sees every domain")
	}
	if len(cfg.Domains) == 0 {
		level.Warn(logger).Log("msg", "configuration has no domains: every service lands in unassigned (check-config refuses it)")
	}
	role := cfg.Server.Role
	ingests := role == config.ServerRoleAll || role == config.ServerRoleCollector
	servesAPI := role == config.ServerRoleAll || role == config.ServerRoleAPI
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// st is the store: every role but the collector, whose pipeline
	// appends to Kafka instead (sink).
	var err error
	var st store.Store  // nil in the collector role
	var sink ingestSink // where the pipeline appends: the store, or Kafka in the collector role
	if role == config.ServerRoleCollector {
		prod, err := scaleout.NewProducer(ctx, cfg.ScaleOut.Kafka, reg, log.With(logger, "component", "scaleout/producer"))
		if err != nil {
			return err
		}
		defer prod.Close() // after the HTTP server stopped: flushes what is in flight
		sink = prod
	} else {
		opened, err := storage.Open(cfg, log.With(logger, "component", "store"))
		if err != nil {
			return fmt.Errorf("open store: %w", err)
		}
		defer opened.Close()
		registerStoreMetrics(reg, opened)
		st, sink = opened, opened
	}
	var infra *demo.Infra
	var streams *demo.Kafka
	if f.demo {
		if infra, err = demoInfra(ctx, cfg, logger); err != nil {
			return err
		}
		streams, err = demoKafka(ctx, cfg, logger)
		if streams != nil {
			defer func() { cancel(); streams.Wait() }() // consumers leave their groups, then the cluster closes
		}
		if err != nil {
			return err
		}
	}
	norm, err := transform.New(cfg)
	if err != nil {
		return err
	}
	for _, kind := range []string{"unknown_services", "apis_per_service", "unknown_journeys", "log_label_sets"} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "noctua_cardinality_overflow_total",
			Help:        "Rows whose service, API, journey or log label set was past its cardinality bound and counted under (other).",
			ConstLabels: prometheus.Labels{"kind": kind},
		}, func() float64 { return float64(norm.Overflows()[kind]) }))
	}
	var samples sampleStore
	var sampleSink store.SampleAppender = sink
	var query store.Querier = st
	if st != nil {
		samples = samplesOf(ctx, st, logger)
		sampleSink = samples
	} else {
		// A collector answers no queries: its views (auth, sources)
		// read an empty store.
		mem := memstore.New()
		samples, query = mem, mem
	}
	pipe := ingest.NewPipeline(norm, sink, ingest.NewMetrics(reg), cfg.Server.MaxInflight).WithLogs(sink).WithSamples(sampleSink)
	sources := ingest.NewRegistry(reg, log.With(logger, "component", "sources"))
	var scrapes scrape.Group
	if ingests {
		if scrapes, err = startScrape(ctx, cfg, pipe, norm, reg, logger, sources); err != nil {
			return err
		}
		for _, kc := range cfg.Kafka.Clusters {
			src, err := kafkalag.New(kc, pipe, log.With(logger, "component", "kafkalag", "cluster", kc.Name))
			if err != nil {
				return err
			}
			if st != nil {
				src.History = st // restore the windows after a restart
			}
			src.Owner = norm.Owners().Group
			sources.Add(src)
		}
	}
	if role == config.ServerRoleWriter {
		w, err := scaleout.NewWriter(ctx, cfg.ScaleOut.Kafka, st, reg, log.With(logger, "component", "scaleout/writer"))
		if err != nil {
			return err
		}
		sources.Add(w) // health in /api/v1/sources and noctua_source_*
	}
	if bc := cfg.Export.BigQuery; bc != nil && st != nil {
		ex, err := bigquery.New(bigquery.Options{Config: *bc, DataDir: cfg.Server.DataDir, Store: st,
			ApdexTs: transform.NewApdexTs(cfg), Registerer: reg, Logger: log.With(logger, "component", "export/bigquery")})
		if err != nil {
			return err
		}
		defer func() { cancel(); ex.Close() }() // stop the run in flight, then close the client
		sources.Add(ex)                         // health in /api/v1/sources and noctua_source_*
	}
	otlpOpts, err := otlp.ReceiverOptionsFromConfig(cfg, log.With(logger, "component", "otlp"))
	if err != nil {
		return err
	}
	hostEx, err := scrape.ExclusionsOf(cfg.Scrape)
	if err != nil {
		return err
	}
	otlpOpts.Hosts = scrape.NewHostDeriver(norm.Owners(), hostEx, 10_000)
	otlpRcv := otlp.NewReceiver(pipe, pipe.Metrics(), otlpOpts)
	lokiOpts, err := lokipush.OptionsFromConfig(cfg)
	if err != nil {
		return err
	}
	lokiOpts.Logger = log.With(logger, "component", "lokipush")

	auditLog, err := audit.Open(cfg.Server.DataDir)
	if err != nil {
		return fmt.Errorf("%w (run `noctua audit verify --data-dir %s` and keep the file as evidence before moving it away)", err, cfg.Server.DataDir)
	}
	defer auditLog.Close()
	if err := auditLog.Record(audit.Entry{Kind: audit.KindConfig, Detail: configDigest(f.config)}); err != nil {
		return err
	}
	views := api.New(cfg, query, api.Options{Logger: log.With(logger, "component", "api"), Samples: samples, Scrape: scrapes, Audit: auditLog,
		Sources: sources.Statuses, Owners: norm.Domains(), SampleOwners: norm.Owners()})
	var hub *ws.Hub
	var alerts *alert.Evaluator
	if servesAPI {
		// Alerts are evaluated where the views are served (all, api):
		// several api replicas each evaluate and notify, and Alertmanager
		// deduplicates their identical alerts.
		alerts, err = alert.New(alert.Options{Config: cfg, Store: st, Signals: views, Owners: norm.Domains(),
			DataDir: cfg.Server.DataDir, Logger: log.With(logger, "component", "alert")})
		if err != nil {
			return err
		}
		sources.Add(alerts) // evaluates every alerting.evaluate_every; health in /api/v1/sources
		reg.MustRegister(alerts.Collector())
		// The live views poll the store every live_interval: in the api
		// role that is ClickHouse, which the writers fill.
		hub = ws.NewHub(views, ws.Options{
			Interval:       cfg.Server.LiveInterval,
			AllowedOrigins: cfg.Server.AllowedOrigins,
			Logger:         log.With(logger, "component", "ws"),
			Views:          []api.View{views.InfraView(), views.ProbesView(), views.SamplesLiveView(), views.KafkaLiveView(), alerts.View()},
		})
		reg.MustRegister(hub.Collector())
		go hub.Run(ctx)
		defer hub.Close()
	}

	var ready atomic.Bool
	mux := http.NewServeMux()
	admit := ingest.NewAdmission(cfg.Server.MaxIngestBytes, reg).WithRate(cfg.Server.IngestRateBytes, cfg.Server.IngestBurstBytes)
	writer := func(h http.Handler) http.Handler {
		return views.Require(admit.Wrap(h), config.RoleIngest, config.RoleNOC)
	}
	push := func(name string) *ingest.Push {
		p := &ingest.Push{SourceName: name, Records: func() int64 { return pipe.Metrics().Accepted(name) }}
		sources.Add(p)
		return p
	}
	var otlpPush map[string]*ingest.Push
	if ingests {
		otlpPush = map[string]*ingest.Push{"trace": push(otlp.Source), "logs": push(otlp.SourceLogs), "metrics": push(otlp.SourceMetrics)}
		mux.Handle("POST /v1/traces", writer(otlpPush["trace"].Track(otlpRcv.TracesHandler())))
		mux.Handle("POST /v1/logs", writer(otlpPush["logs"].Track(otlpRcv.LogsHandler())))
		mux.Handle("POST /v1/metrics", writer(otlpPush["metrics"].Track(otlpRcv.MetricsHandler())))
		mux.Handle("POST /loki/api/v1/push", writer(push(lokipush.Source).Track(lokipush.NewHandler(pipe, pipe.Metrics(), lokiOpts))))
	}
	go func() { _ = sources.Run(ctx) }()
	if servesAPI {
		views.Routes(mux)
		alerts.Routes(mux, views)
		mux.Handle("GET /ws", hub)
	} else {
		views.SourceRoutes(mux) // GET /api/v1/sources: the collector's pushes and pulls, the writer's consumer
	}
	mux.Handle("GET /metrics", views.Require(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), config.RoleMetrics, config.RoleNOC))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
		if d, ok := sink.(interface{ Degraded() string }); ok {
			if msg := d.Degraded(); msg != "" {
				fmt.Fprintf(w, "degraded: %s\n", msg)
			}
		}
	})
	if servesAPI {
		mux.Handle("/", ui.Handler())
	}
	if f.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	tlsCfg, err := loadTLS(cfg)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
		scheme = "https"
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	grpcCfg := cfg
	if !ingests {
		c := *cfg
		c.Server.GRPCListen = "off" // OTLP/gRPC is an ingest endpoint
		grpcCfg = &c
	}
	grpcAddr, stopGRPC, err := serveGRPC(grpcCfg, otlpRcv, views, tlsCfg, otlpPush, admit, errc)
	if err != nil {
		return err
	}
	defer stopGRPC()
	ready.Store(true)

	base := scheme + "://" + ln.Addr().String()
	printBanner(stdout, cfg, role, base, tokenQuery(cfg, f.config == ""), grpcAddr)
	level.Info(logger).Log("msg", "serving", "addr", ln.Addr().String(), "role", role, "data_dir", cfg.Server.DataDir, "demo", f.demo)

	if f.demo {
		go func() {
			err := demo.Run(ctx, cfg, demo.Options{
				Endpoint: base + "/v1/traces",
				Token:    ingestToken(cfg),
				Rate:     f.demoRate,
				Logger:   log.With(logger, "component", "demo"),
				OnSaturate: func(service string, end time.Time) {
					infra.Incident(service, end)
					streams.Incident(service, end)
				},
				IncidentFirst: f.incidents.first,
				IncidentEvery: f.incidents.every,
			})
			if err != nil && !errors.Is(err, context.Canceled) {
				level.Error(logger).Log("msg", "demo load stopped", "err", err)
			}
		}()
	}

	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	}
	ready.Store(false)
	level.Info(logger).Log("msg", "shutting down")
	shutdownCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		level.Warn(logger).Log("msg", "http shutdown", "err", err)
	}
	return nil
}

// tokenQuery returns "?token=..." with the first NOC token, so the printed
// URL opens the NOC view directly — only for the shipped example
// configuration, whose tokens are public demo values. A configured
// token is a secret and never printed.
func tokenQuery(cfg *config.Config, example bool) string {
	if !example {
		return ""
	}
	for _, t := range cfg.Auth.Tokens {
		if t.Role == config.RoleNOC && !t.Hashed() {
			return "?token=" + t.Token
		}
	}
	return ""
}

// ingestToken returns the first plain ingest (or NOC) token, which the
// demo load sends with its requests; "" when there is none.
func ingestToken(cfg *config.Config) string {
	for _, role := range []string{config.RoleIngest, config.RoleNOC} {
		for _, t := range cfg.Auth.Tokens {
			if t.Role == role && !t.Hashed() {
				return t.Token
			}
		}
	}
	return ""
}

// registerStoreMetrics exports the backend's own statistics when it is a
// prometheus.Collector (the embedded store is: noctua_embedded_*).
func registerStoreMetrics(reg prometheus.Registerer, st store.Store) {
	if c, ok := st.(prometheus.Collector); ok {
		reg.MustRegister(c)
	}
}

// ingestSink is what the pipeline appends to: the store, or the Kafka
// producer in the collector role.
type ingestSink interface {
	store.Appender
	store.LogAppender
	store.SampleAppender
}

// printBanner prints where the process serves what its role runs. Every
// role prints a "  listening:" line; all and api print the dashboard.
func printBanner(w io.Writer, cfg *config.Config, role, base, token, grpcAddr string) {
	if role == config.ServerRoleAll {
		fmt.Fprintf(w, "Noctua %s is up.\n", version)
	} else {
		fmt.Fprintf(w, "Noctua %s is up (role %s).\n", version, role)
	}
	if role == config.ServerRoleAll || role == config.ServerRoleAPI {
		fmt.Fprintf(w, "  NOC dashboard: %s/%s\n", base, token)
	}
	if role == config.ServerRoleAll || role == config.ServerRoleCollector {
		fmt.Fprintf(w, "  OTLP/HTTP:     %s/v1/traces, /v1/logs, /v1/metrics\n  OTLP/gRPC:     %s\n  Loki push:     %s/loki/api/v1/push\n", base, grpcAddr, base)
	}
	if k := cfg.ScaleOut.Kafka; k != nil && role != config.ServerRoleAll && role != config.ServerRoleAPI {
		r, l, s := k.Topics()
		fmt.Fprintf(w, "  Kafka topics:  %s, %s, %s\n", r, l, s)
	}
	fmt.Fprintf(w, "  metrics:       %s/metrics\n  listening:     %s\n", base, base)
}
