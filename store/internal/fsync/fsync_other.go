//go:build !linux

package fsync

import "os"

func data(f *os.File) error { return f.Sync() }
