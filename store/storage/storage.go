// Package storage is the storage factory: it opens the backend the
// configuration's storage section names (the embedded store by default),
// so that the server never names a backend itself.
package storage

import (
	"fmt"

	"github.com/go-kit/log"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/embedded"
)

// Open opens the store cfg.Storage names, with the data directory and
// retention of cfg.Server. The configuration must have been validated.
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
		return nil, fmt.Errorf("storage: the clickhouse backend is not built yet")
	default:
		return nil, fmt.Errorf("storage: unknown type %q", t)
	}
}
