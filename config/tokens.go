package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Roles beyond RoleNOC and RoleSquad: an ingest token may only write
// (OTLP, Loki push), a metrics token may only read /metrics.
const (
	RoleIngest  = "ingest"
	RoleMetrics = "metrics"
)

// HashPrefix marks a token stored hashed: "sha256:" and 64 hex digits, the
// SHA-256 of the token (`noctua token hash` prints it). Tokens are random
// secrets of high entropy, so an unsalted fast hash keeps them safe where
// the file is read, as GitHub and GitLab store theirs.
const HashPrefix = "sha256:"

// HashToken returns the stored form of a token.
func HashToken(token string) string {
	d := sha256.Sum256([]byte(token))
	return HashPrefix + hex.EncodeToString(d[:])
}

// Digest returns the SHA-256 that a presented token must hash to: the
// stored hash, or the hash of a token stored in plain text.
func (t Token) Digest() ([32]byte, error) {
	var d [32]byte
	if h, ok := strings.CutPrefix(t.Token, HashPrefix); ok {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 32 {
			return d, fmt.Errorf("want %s and 64 hex digits", HashPrefix)
		}
		copy(d[:], b)
		return d, nil
	}
	return sha256.Sum256([]byte(t.Token)), nil
}

// Hashed reports whether the token is stored hashed.
func (t Token) Hashed() bool { return strings.HasPrefix(t.Token, HashPrefix) }
