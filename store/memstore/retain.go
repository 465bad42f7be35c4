package memstore

import "time"

// DropBefore removes the sample rows older than t and returns how many it
// removed, so that a process using Samples as its sample store keeps a
// bounded window.
func (m *Samples) DropBefore(t time.Time) int {
	cut := t.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	kept := m.rows[:0]
	for _, s := range m.rows {
		if s.TS >= cut {
			kept = append(kept, s)
		}
	}
	n := len(m.rows) - len(kept)
	clear(m.rows[len(kept):])
	m.rows = kept
	return n
}
