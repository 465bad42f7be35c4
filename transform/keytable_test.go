package transform

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestKeyTableIsTheMap checks the table against the map it is built from,
// for every name in it and for names that are near misses: the same
// length, first, middle or last byte, prefixes and extensions.
func TestKeyTableIsTheMap(t *testing.T) {
	m := map[string]key{}
	rng := rand.New(rand.NewPCG(3, 4))
	names := []string{"service_name", "service", "app", "job", "container", "trace_id", "traceID", "a.b", "x", "journey.id"}
	for i := range 60 {
		names = append(names, fmt.Sprintf("k%d_%c", i, 'a'+rng.IntN(26)))
	}
	for i, n := range names {
		m[n] = key{f: field(i % int(numFields)), rank: uint8(i % 60)}
	}
	tab := newKeyTable(m)
	probes := []string{"", "s", "ts", "msg", "service_nam", "service_namf", "service_name_", "jobs", "ob", "a.c", "a.b.", "X"}
	for n := range m {
		probes = append(probes, n, n[1:], n+"x", "x"+n, n[:len(n)-1]+"_")
	}
	for _, p := range probes {
		want, wok := m[p]
		got, gok := tab.get(p)
		if gok != wok || got != want {
			t.Errorf("get(%q) = %v, %v; the map says %v, %v", p, got, gok, want, wok)
		}
		if g2, ok2 := tab.getBytes([]byte(p)); ok2 != wok || g2 != want {
			t.Errorf("getBytes(%q) = %v, %v; the map says %v, %v", p, g2, ok2, want, wok)
		}
	}
	if k, ok := newKeyTable(nil).get("anything"); ok {
		t.Errorf("empty table found %v", k)
	}
}
