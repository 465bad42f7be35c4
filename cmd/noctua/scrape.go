package main

import (
	"context"
	"fmt"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/demo"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/ingest/scrape"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/memstore"
	"github.com/noctua-obs/noctua/transform"
)

// sampleStore is where sample rows go and are read from.
type sampleStore interface {
	store.SampleAppender
	store.SampleQuerier
}

// memSamplesWindow is how much history the in-memory stand-in keeps.
const memSamplesWindow = 3 * time.Hour

// samplesOf returns the sample store of st: st itself when it holds
// samples, otherwise an in-memory reference store (memstore.Samples) that
// keeps the last memSamplesWindow, until the embedded store has its
// samples table. This is the one seam to swap.
func samplesOf(ctx context.Context, st any, logger log.Logger) sampleStore {
	if s, ok := st.(sampleStore); ok {
		return s
	}
	level.Warn(logger).Log("msg", "store holds no samples: host and probe figures are kept in memory only, for "+memSamplesWindow.String()+", lost on restart")
	m := &memstore.Samples{}
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				m.DropBefore(now.Add(-memSamplesWindow))
			}
		}
	}()
	return m
}

// startScrape registers one scrape source per job of cfg.Scrape with
// sources (which runs them), sending figures through pipe. It returns the sources for the API.
func startScrape(ctx context.Context, cfg *config.Config, pipe ingest.SampleConsumer, norm *transform.Normaliser,
	reg prometheus.Registerer, logger log.Logger, sources *ingest.Registry) (scrape.Group, error) {
	srcs, err := scrape.FromConfig(cfg, pipe, scrape.Options{
		Logger:  log.With(logger, "component", "scrape"),
		Metrics: scrape.NewMetrics(reg),
		Owners:  norm.Owners(),
	})
	if err != nil {
		return nil, err
	}
	for _, s := range srcs {
		sources.Add(s)
	}
	if len(srcs) > 0 {
		level.Info(logger).Log("msg", "scraping", "jobs", len(srcs))
	}
	return scrape.Group(srcs), nil
}

// demoInfra gives the demo bank hosts and probe targets (demo.AddInfra),
// starts their simulated node_exporters and blackbox_exporter on loopback
// and adds the scrape jobs that scrape them (and a real node_exporter on
// 127.0.0.1:9100 when one answers) to cfg. Call it before cfg is used.
func demoInfra(ctx context.Context, cfg *config.Config, logger log.Logger) (*demo.Infra, error) {
	demo.AddInfra(cfg)
	inf := demo.NewInfra(cfg, 1)
	jobs, err := inf.Start(ctx, cfg.Scrape)
	if err != nil {
		return nil, err
	}
	cfg.Scrape.Jobs = append(cfg.Scrape.Jobs, jobs...)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("demo infrastructure: %w", err)
	}
	level.Info(logger).Log("msg", "demo infrastructure: simulated exporters on loopback", "jobs", len(jobs))
	return inf, nil
}

// demoKafka starts the demo bank's event streams on an in-process Kafka
// cluster on loopback (demo.Kafka) and adds the cluster to cfg, so that the
// real kafkalag source polls it. Call it before the sources are built. A
// non-nil *demo.Kafka has started and stops when ctx ends, even when the
// error is not nil.
func demoKafka(ctx context.Context, cfg *config.Config, logger log.Logger) (*demo.Kafka, error) {
	k := demo.NewKafka(cfg, demo.KafkaOptions{Logger: log.With(logger, "component", "demo-kafka")})
	cl, err := k.Start(ctx)
	if err != nil {
		return nil, err
	}
	cfg.Kafka.Clusters = append(cfg.Kafka.Clusters, cl)
	if err := cfg.Validate(); err != nil {
		return k, fmt.Errorf("demo kafka: %w", err)
	}
	return k, nil
}
