// Package benchmarks holds Noctua's whole-system load runs: a real noctua
// process on this machine, driven over loopback by a generator in the test
// process, measured from the outside (/proc). Figures and the commands that
// produced them are in README.md.
package benchmarks

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
const clockTicks = 100

// cpuSeconds returns the user+system CPU time a process has used.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / clockTicks, nil
}

// peakRSS returns a process's peak resident set size (VmHWM) in bytes.
func peakRSS(pid int) (int64, error) {
	return procStatusKB(pid, "VmHWM:")
}

// rss returns a process's current resident set size in bytes.
func rss(pid int) (int64, error) {
	return procStatusKB(pid, "VmRSS:")
}

func procStatusKB(pid int, key string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), key) {
			kb, err := strconv.ParseInt(strings.Fields(sc.Text())[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", key, pid)
}

// hostCPU is a reading of the machine's CPU time from /proc/stat, in
// seconds summed over every CPU.
type hostCPU struct {
	busy  float64 // user, nice, system, irq, softirq: everything but idle, iowait and steal
	steal float64 // taken by the hypervisor for other guests
}

// readHostCPU reads the machine-wide CPU counters. Besides the server and
// the generator, busy counts the kernel's own threads (the file system's
// journal, writeback), which work for the server's fsyncs but are not
// charged to its process.
func readHostCPU() (hostCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return hostCPU{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return hostCPU{}, fmt.Errorf("unexpected /proc/stat line %q", line)
	}
	var v [8]float64
	for i := range v {
		v[i], _ = strconv.ParseFloat(f[i+1], 64)
	}
	// user nice system idle iowait irq softirq steal
	return hostCPU{busy: (v[0] + v[1] + v[2] + v[5] + v[6]) / clockTicks, steal: v[7] / clockTicks}, nil
}
