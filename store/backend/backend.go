// Package backend opens the storage backend a configuration chooses
// (storage.type): the embedded store by default. It is the one place that
// knows every implementation of store.Store, so the server, tests and
// tools open a store the same way and a new backend is one more case here.
package backend

import (
	"fmt"

	"github.com/go-kit/log"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/embedded"
)

// Store is what the server needs of a backend: every record kind written
// and read.
type Store interface {
	store.Store
	store.SampleAppender
	store.SampleQuerier
}

// Open opens the backend of a validated configuration.
func Open(cfg *config.Config, logger log.Logger) (Store, error) {
	switch cfg.Storage.Type {
	case config.StorageEmbedded, "":
		return embedded.Open(cfg.Server.DataDir, embedded.Options{
			Retention:       cfg.Server.Retention,
			SampleLabelKeys: cfg.Storage.SampleLabelKeys,
			Logger:          logger,
		})
	}
	return nil, fmt.Errorf("backend: storage.type %q is not built", cfg.Storage.Type)
}
