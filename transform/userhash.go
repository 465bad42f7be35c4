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

// Hash returns 16 hex digits (64 bits) of SHA-256(salt || id). It
// allocates only the string it returns when salt and id fit 256 bytes.
func (u *UserHasher) Hash(id string) string { return u.hash(id, nil) }

// hash is Hash, the string built in a when it is not nil.
func (u *UserHasher) hash(id string, a *arena) string {
	var buf [256]byte
	sum := sha256.Sum256(append(append(buf[:0], u.salt...), id...))
	if a == nil {
		var out [16]byte
		hex.Encode(out[:], sum[:8])
		return string(out[:])
	}
	out := a.alloc(16)
	hex.Encode(out, sum[:8])
	return str(out)
}
