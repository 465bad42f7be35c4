// Package storage is the storage factory: it opens the backend the
// configuration's storage section names (the embedded store by default),
// so that the server never names a backend itself.
package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/go-kit/log"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/clickhouse"
	"github.com/noctua-obs/noctua/store/embedded"
)

// Open opens the store cfg.Storage names, with the data directory (embedded)
// and retention of cfg.Server. The configuration must have been validated.
// The ClickHouse store connects at once, creating its database and tables
// if missing: a server that cannot be reached fails the start.
func Open(cfg *config.Config, logger log.Logger) (store.Store, error) {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	switch t := cfg.Storage.Type; t {
	case config.StorageEmbedded, "":
		return embedded.Open(cfg.Server.DataDir, embedded.Options{
			Retention:       cfg.Server.Retention,
			SampleLabelKeys: cfg.Storage.SampleLabelKeys,
			Logger:          logger,
		})
	case config.StorageClickHouse:
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Storage.ClickHouse.DialTimeout+cfg.Storage.ClickHouse.QueryTimeout+time.Second)
		defer cancel()
		st, err := clickhouse.Open(ctx, cfg.Storage.ClickHouse, clickhouse.Options{Retention: cfg.Server.Retention, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		return st, nil
	default:
		return nil, fmt.Errorf("storage: unknown type %q", t)
	}
}
