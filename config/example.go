package config

import _ "embed"

//go:embed example.yaml
var example []byte

// Example returns the shipped example configuration of a retail bank, which
// `noctua serve` uses when no file is given.
func Example() []byte { return append([]byte(nil), example...) }
