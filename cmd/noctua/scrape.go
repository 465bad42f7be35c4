package main

import (
	"context"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/noctua-obs/noctua/config"
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

// samplesOf returns the sample store of st: st itself when it holds
// samples, otherwise an in-memory reference store (memstore.Samples, kept
// for the life of the process) until the embedded store has its samples
// table. This is the one seam to swap.
func samplesOf(st any, logger log.Logger) sampleStore {
	if s, ok := st.(sampleStore); ok {
		return s
	}
	level.Warn(logger).Log("msg", "store holds no samples: host and probe figures are kept in memory only, lost on restart")
	return &memstore.Samples{}
}

// startScrape runs one scrape source per job of cfg.Scrape until ctx ends,
// sending figures through pipe. It returns the sources for the API.
func startScrape(ctx context.Context, cfg *config.Config, pipe ingest.SampleConsumer, norm *transform.Normaliser,
	reg prometheus.Registerer, logger log.Logger) (scrape.Group, error) {
	srcs, err := scrape.FromConfig(cfg, pipe, scrape.Options{
		Logger:  log.With(logger, "component", "scrape"),
		Metrics: scrape.NewMetrics(reg),
		Owners:  norm.Owners(),
	})
	if err != nil {
		return nil, err
	}
	for _, s := range srcs {
		go func() {
			if err := s.Run(ctx); err != nil {
				level.Error(logger).Log("msg", "scrape source stopped", "source", s.Name(), "err", err)
			}
		}()
	}
	if len(srcs) > 0 {
		level.Info(logger).Log("msg", "scraping", "jobs", len(srcs))
	}
	return scrape.Group(srcs), nil
}
