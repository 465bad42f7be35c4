package rollup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/noctua-obs/noctua/store"
)

const magic = "NRU1"

// MarshalBinary encodes every cell of s: the format persisted beside a sealed
// block. Each cell carries its tier, bucket start and key, its counters, its
// duration sketch as a DDSketch protobuf and its users as HyperLogLog
// MarshalBinary.
func (s *Set) MarshalBinary() ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := append(make([]byte, 0, 64+s.cells*256), magic...)
	b = binary.AppendUvarint(b, uint64(s.cells))
	var err error
	for _, t := range s.tiers {
		for start, bk := range t.buckets {
			for i, id := range bk.ids {
				k := s.keys[id]
				b = binary.AppendUvarint(b, uint64(t.res))
				b = binary.AppendVarint(b, start)
				for _, str := range [...]string{k.Domain, k.Journey, k.Service, k.API} {
					b = binary.AppendUvarint(b, uint64(len(str)))
					b = append(b, str...)
				}
				if b, err = bk.cells[i].appendBinary(b, s.mapping); err != nil {
					return nil, err
				}
			}
		}
	}
	return b, nil
}

// UnmarshalMerge decodes data written by MarshalBinary and merges its cells
// into s. Cells of a resolution s does not have, or older than the matching
// tier's retention relative to now, are skipped (a zero now skips nothing
// for retention). It keeps nothing of data.
func (s *Set) UnmarshalMerge(data []byte, now time.Time) error {
	if len(data) < len(magic) || string(data[:len(magic)]) != magic {
		return errors.New("rollup: not a rollup file")
	}
	d := &decoder{b: data[len(magic):]}
	n := d.uvarint()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := uint64(0); i < n && d.err == nil; i++ {
		res := int64(d.uvarint())
		v, m := binary.Varint(d.b)
		if m <= 0 {
			return fmt.Errorf("rollup: cell %d: %w", i, errShort)
		}
		d.b = d.b[m:]
		start := v
		k := store.Key{Domain: d.str(), Journey: d.str(), Service: d.str(), API: d.str()}
		c, err := decodeCell(d, s.mapping)
		if err != nil {
			return fmt.Errorf("rollup: cell %d: %w", i, err)
		}
		var t *tier
		for _, tt := range s.tiers {
			if tt.res == res {
				t = tt
			}
		}
		if t == nil || start < t.cutoff || !now.IsZero() && t.ret > 0 && start < alignDown(now.UnixNano()-t.ret, t.res) {
			continue
		}
		if last := start + res - 1; t == s.tiers[0] && last > s.maxTS {
			s.maxTS = last
		}
		id := s.keyID(k)
		bk := t.bucket(start, true)
		s.version++
		bk.version = s.version
		nc := len(bk.cells)
		bk.cell(id).merge(c)
		if len(bk.cells) != nc {
			s.cells++
		}
	}
	if d.err != nil {
		return fmt.Errorf("rollup: %w", d.err)
	}
	return nil
}
