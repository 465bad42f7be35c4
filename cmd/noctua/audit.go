package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/noctua-obs/noctua/api/audit"
	"github.com/noctua-obs/noctua/config"
)

// auditCmd verifies the audit log's hash chain: `noctua audit verify`.
func auditCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: noctua audit verify [--data-dir DIR]")
		return fmt.Errorf("audit: want the subcommand verify")
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("data-dir", config.DefaultDataDir, "data directory holding audit.log")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	last, n, err := audit.Verify(*dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "audit log intact: %d entries, newest hash %s\n", n, last)
	return nil
}

// configDigest names the configuration loaded, for the audit log: its
// path and the SHA-256 of its bytes (the shipped example when path is "").
func configDigest(path string) string {
	b := config.Example()
	name := "(shipped example)"
	if path != "" {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			return path + ": " + err.Error()
		}
		name = path
	}
	sum := sha256.Sum256(b)
	return name + " sha256:" + hex.EncodeToString(sum[:])
}
