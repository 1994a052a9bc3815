package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/testutil/authlog"
	"github.com/gaol-project/gaol/internal/testutil/f2btree"
)

// regexLines is the size of BenchmarkRegex1M's log.
const regexLines = 1_000_000

// BenchmarkRegex1M runs `gaol regex -o ip` and fail2ban's own
// `fail2ban-regex -o ip` on the same generated 1,000,000-line auth.log with
// fail2ban's stock sshd filter (filter.d/sshd.conf of the extracted
// package, given as a path to both), and fails unless both find the same
// number of failures for every address. It reports both times and their
// ratio. No root needed.
func BenchmarkRegex1M(b *testing.B) {
	var tree f2btree.Tree
	if withFail2ban() {
		if _, err := os.Stat(systemPython); err != nil {
			b.Skipf("fail2ban-regex needs %s: %v (set GAOL_BENCH_FAIL2BAN=0 to measure gaol alone)", systemPython, err)
		}
		tree = f2btree.Get(b)
	}
	bin := buildGaol(b)
	dir := b.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	f, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	authlog.Write(w, regexLines, 1)
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(logPath)
	b.Logf("log: %d lines, %.1f MiB", regexLines, float64(fi.Size())/(1<<20))

	// The stock filter when fail2ban is measured; without fail2ban's
	// package, gaol's own sshd filter.
	filter := "sshd"
	if withFail2ban() {
		filter = filepath.Join(tree.Etc(), "filter.d", "sshd.conf")
	}
	secs := map[string][]float64{} // wall-clock time
	cpu := map[string][]float64{}  // user and system CPU time
	for range b.N {
		b.Logf("gaol: load average before: %s", loadavg())
		gaolOut, el, c := runTool(b, exec.Command(bin, "regex", "-o", "ip", logPath, filter))
		secs["gaol"], cpu["gaol"] = append(secs["gaol"], el), append(cpu["gaol"], c)
		got := countAddrs(gaolOut)
		b.Logf("gaol regex: %.2f s (CPU %.2f s), %d failures from %d addresses", el, c, total(got), len(got))
		if !withFail2ban() {
			continue
		}
		b.Logf("fail2ban: load average before: %s", loadavg())
		cmd := exec.Command(systemPython, filepath.Join(tree.Root, "usr", "bin", "fail2ban-regex"), "-o", "ip", logPath, filter)
		cmd.Env = append(os.Environ(), "PYTHONPATH="+tree.PythonPath())
		f2bOut, el, c := runTool(b, cmd)
		secs["fail2ban"], cpu["fail2ban"] = append(secs["fail2ban"], el), append(cpu["fail2ban"], c)
		want := countAddrs(f2bOut)
		b.Logf("fail2ban-regex: %.2f s (CPU %.2f s), %d failures from %d addresses", el, c, total(want), len(want))
		if diff := diffCounts(got, want); diff != "" {
			b.Fatalf("gaol and fail2ban-regex count different failures per address:\n%s", diff)
		}
	}
	b.ReportMetric(median(secs["gaol"]), "gaol-s")
	b.ReportMetric(median(cpu["gaol"]), "gaol-cpu-s")
	b.ReportMetric(regexLines/median(secs["gaol"]), "gaol-lines/s")
	if withFail2ban() {
		b.ReportMetric(median(secs["fail2ban"]), "fail2ban-s")
		b.ReportMetric(median(cpu["fail2ban"]), "fail2ban-cpu-s")
		b.ReportMetric(median(secs["fail2ban"])/median(secs["gaol"]), "x-faster")
		b.ReportMetric(median(cpu["fail2ban"])/median(cpu["gaol"]), "x-less-cpu")
	}
	b.ReportMetric(0, "ns/op")
}

// runTool runs cmd and returns its standard output, the time it took and
// the CPU time it used.
func runTool(b *testing.B, cmd *exec.Cmd) (out []byte, secs, cpu float64) {
	b.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	secs = time.Since(start).Seconds()
	if err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.Bytes())
	}
	cpu = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return out, secs, cpu
}

// countAddrs counts the lines of -o ip output by address.
func countAddrs(out []byte) map[string]int {
	m := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			m[l]++
		}
	}
	return m
}

func total(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// diffCounts describes how got differs from want (at most 20 addresses).
func diffCounts(got, want map[string]int) string {
	var lines []string
	for a, n := range want {
		if got[a] != n {
			lines = append(lines, fmt.Sprintf("  %s: gaol %d, fail2ban %d", a, got[a], n))
		}
	}
	for a, n := range got {
		if _, ok := want[a]; !ok {
			lines = append(lines, fmt.Sprintf("  %s: gaol %d, fail2ban 0", a, n))
		}
	}
	if len(lines) > 20 {
		lines = append(lines[:20], fmt.Sprintf("  ... and %d more", len(lines)-20))
	}
	return strings.Join(lines, "\n")
}
