package otlp

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/noctua-obs/noctua/record"
)

// NodeEquivalents returns, for the OpenTelemetry Collector hostmetrics
// receiver's samples among ss, the node_exporter series that carry the same
// quantity, so that CPU, memory, network, IOPS and filesystem figures are
// derived by one path whichever agent watches the host:
//
//	system.cpu.time{cpu,state}             -> node_cpu_seconds_total{cpu,mode}
//	system.memory.usage{state}             -> node_memory_MemTotal_bytes (sum of states, or system.memory.limit)
//	                                          node_memory_MemAvailable_bytes (free+cached+buffered+slab_reclaimable,
//	                                          or system.linux.memory.available)
//	system.network.io{device,direction}    -> node_network_{receive,transmit}_bytes_total{device}
//	system.disk.operations{device,direction} -> node_disk_{reads,writes}_completed_total{device}
//	system.disk.io{device,direction}       -> node_disk_{read,written}_bytes_total{device}
//	system.filesystem.usage{device,mountpoint,type,state} -> node_filesystem_{size,avail}_bytes{device,mountpoint,fstype}
//
// The originals are kept too; ss is not modified.
func NodeEquivalents(ss []record.Sample) []record.Sample {
	var out []record.Sample
	type memKey struct {
		host, service, env string
		ts                 int64
	}
	type memAcc struct {
		first              *record.Sample
		total, avail       float64
		limit, linuxAvail  float64
		hasLimit, hasLinux bool
	}
	var mem map[memKey]*memAcc
	fs := map[string]*record.Sample{} // size accumulators by series
	var fsOrder []string
	for i := range ss {
		s := &ss[i]
		switch s.Name {
		case "system.cpu.time":
			out = append(out, derive(s, "node_cpu_seconds_total", record.KindCounter, s.Value,
				"cpu", s.Label("cpu"), "mode", s.Label("state")))
		case "system.network.io":
			if n := byDirection(s.Label("direction"), "node_network_receive_bytes_total", "node_network_transmit_bytes_total"); n != "" {
				out = append(out, derive(s, n, record.KindCounter, s.Value, "device", s.Label("device")))
			}
		case "system.disk.operations":
			if n := byDirection(s.Label("direction"), "node_disk_reads_completed_total", "node_disk_writes_completed_total"); n != "" {
				out = append(out, derive(s, n, record.KindCounter, s.Value, "device", s.Label("device")))
			}
		case "system.disk.io":
			if n := byDirection(s.Label("direction"), "node_disk_read_bytes_total", "node_disk_written_bytes_total"); n != "" {
				out = append(out, derive(s, n, record.KindCounter, s.Value, "device", s.Label("device")))
			}
		case "system.memory.usage", "system.memory.limit", "system.linux.memory.available":
			if mem == nil {
				mem = map[memKey]*memAcc{}
			}
			k := memKey{s.Host, s.Service, s.Env, s.TS}
			a := mem[k]
			if a == nil {
				a = &memAcc{first: s}
				mem[k] = a
			}
			switch s.Name {
			case "system.memory.limit":
				a.limit, a.hasLimit = s.Value, true
			case "system.linux.memory.available":
				a.linuxAvail, a.hasLinux = s.Value, true
			default:
				a.total += s.Value
				switch s.Label("state") {
				case "free", "cached", "buffered", "slab_reclaimable":
					a.avail += s.Value
				}
			}
		case "system.filesystem.usage":
			lbl := []string{"device", s.Label("device"), "mountpoint", s.Label("mountpoint"), "fstype", s.Label("type")}
			size := derive(s, "node_filesystem_size_bytes", record.KindGauge, 0, lbl...)
			key := strconv.FormatInt(s.TS, 10) + "\x00" + s.Host + "\x00" + s.Label("device") + "\x00" + s.Label("mountpoint")
			acc := fs[key]
			if acc == nil {
				acc = &size
				fs[key] = acc
				fsOrder = append(fsOrder, key)
			}
			acc.Value += s.Value
			if s.Label("state") == "free" {
				out = append(out, derive(s, "node_filesystem_avail_bytes", record.KindGauge, s.Value, lbl...))
			}
		}
	}
	for _, k := range fsOrder {
		out = append(out, *fs[k])
	}
	for _, a := range mem {
		total, avail := a.total, a.avail
		if a.hasLimit {
			total = a.limit
		}
		if a.hasLinux {
			avail = a.linuxAvail
		}
		if total > 0 {
			out = append(out, derive(a.first, "node_memory_MemTotal_bytes", record.KindGauge, total),
				derive(a.first, "node_memory_MemAvailable_bytes", record.KindGauge, avail))
		}
	}
	return out
}

func byDirection(dir, read, write string) string {
	switch dir {
	case "receive", "read":
		return read
	case "transmit", "write":
		return write
	}
	return ""
}

// derive returns a sample with s's time and dimensions under a new name,
// value and labels (name/value pairs; empty values left out).
func derive(s *record.Sample, name string, kind record.SampleKind, v float64, kv ...string) record.Sample {
	d := record.Sample{TS: s.TS, Name: name, Value: v, Kind: kind,
		Domain: s.Domain, Journey: s.Journey, Service: s.Service, Host: s.Host, Env: s.Env}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			d.Labels = append(d.Labels, record.Label{Name: kv[i], Value: kv[i+1]})
		}
	}
	slices.SortFunc(d.Labels, func(a, b record.Label) int { return cmp.Compare(a.Name, b.Name) })
	return d
}
