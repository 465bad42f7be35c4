package transform

import (
	"crypto/sha256"
	"encoding/hex"
)

// UserHasher turns customer identifiers into salted, truncated SHA-256
// digests so that no raw identifier is stored, while distinct-user counts
// and drill-down by the same customer still work.
type UserHasher struct {
	salt []byte
}

// NewUserHasher returns a hasher with the given salt.
func NewUserHasher(salt string) *UserHasher {
	if salt == "" {
		salt = "noctua"
	}
	return &UserHasher{salt: []byte(salt)}
}

// Hash returns 16 hex digits (64 bits) of SHA-256(salt || id).
func (u *UserHasher) Hash(id string) string {
	h := sha256.New()
	h.Write(u.salt)
	h.Write([]byte(id))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:8])
}
