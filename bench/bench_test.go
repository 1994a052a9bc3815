// Package bench measures gaol end to end against fail2ban, both measured
// in the same run on the same workloads: each daemon runs for real in its
// own network namespace with an sshd jail on a temporary log file, and a
// ban counts once its address is in the kernel's nftables set. Run with
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 30m ./bench
//
// as root. fail2ban comes from Debian's package, downloaded with apt-get
// and extracted into the git-ignored .cache/fail2ban/ on first use. Set
// GAOL_BENCH_FAIL2BAN=0 to measure gaol alone. The benchmarks report their
// figures, and the ratios, with b.ReportMetric; README.md describes them.
package bench

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// withFail2ban reports whether fail2ban is measured too.
func withFail2ban() bool { return os.Getenv("GAOL_BENCH_FAIL2BAN") != "0" }

// subject is one daemon to measure: started afresh for each run.
type subject struct {
	name  string
	start func(b *testing.B, spec jailSpec) daemon
}

// subjects returns gaol and, unless disabled, fail2ban. It fetches
// fail2ban first, so that a benchmark that cannot compare skips before
// measuring anything.
func subjects(b *testing.B) []subject {
	b.Helper()
	var tree f2bTree
	if withFail2ban() {
		// A fail2ban run takes minutes: fail now rather than at go
		// test's default 10-minute timeout.
		if f := flag.Lookup("test.timeout"); f != nil {
			if t, _ := time.ParseDuration(f.Value.String()); t > 0 && t < 20*time.Minute {
				b.Fatalf("measuring fail2ban takes minutes: run with -timeout 30m (or GAOL_BENCH_FAIL2BAN=0 for gaol alone); -timeout is %v", t)
			}
		}
		tree = fail2banTree(b)
		b.Logf("fail2ban from %s, backend %s", tree.Root, tree.backend)
	}
	bin := buildGaol(b)
	s := []subject{{"gaol", func(b *testing.B, spec jailSpec) daemon { return startGaol(b, bin, spec) }}}
	if withFail2ban() {
		s = append(s, subject{"fail2ban", func(b *testing.B, spec jailSpec) daemon { return startFail2ban(b, tree, spec) }})
	}
	return s
}

// newLog creates an empty log file for a jail to read.
func newLog(b *testing.B) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "auth.log")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

func appendLog(b *testing.B, path, text string) {
	b.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// failLine is an sshd failure line that gaol's and fail2ban's sshd
// filters both match.
func failLine(t time.Time, addr string, n int) string {
	return fmt.Sprintf("%s web1 sshd[%d]: Failed password for invalid user admin from %s port %d ssh2\n",
		t.Format(time.Stamp), 1000+n%30000, addr, 1024+n%60000)
}

// attacker returns the i-th attacker address, in 2001:db8::/32 (the
// documentation prefix; IPv4's documentation ranges hold only 768).
func attacker(i int) string {
	return fmt.Sprintf("2001:db8:%x:%x::%x", i>>16, i&0xffff, i%251+1)
}

// BenchmarkBan10000 appends failure lines (maxretry = 5) for 10,000
// distinct attackers in one write and measures until all 10,000 are in the
// kernel's set; it also reports the daemon's RSS holding those bans.
func BenchmarkBan10000(b *testing.B) {
	const attackers, maxretry = 10000, 5
	subs := subjects(b)
	secs := map[string][]float64{}
	rss := map[string][]float64{}
	for range b.N {
		for _, s := range subs {
			el, mb := ban10000(b, s, attackers, maxretry)
			secs[s.name] = append(secs[s.name], el.Seconds())
			rss[s.name] = append(rss[s.name], mb)
		}
	}
	for _, s := range subs {
		b.ReportMetric(median(secs[s.name]), s.name+"-s")
		b.ReportMetric(median(rss[s.name]), s.name+"-MB-RSS")
	}
	if withFail2ban() {
		b.ReportMetric(median(secs["fail2ban"])/median(secs["gaol"]), "x-faster")
		b.ReportMetric(median(rss["fail2ban"])/median(rss["gaol"]), "x-less-RSS")
	}
	b.ReportMetric(0, "ns/op")
}

// ban10000 runs one BenchmarkBan10000 measurement of s and returns the
// time until all attackers were banned and the daemon's RSS in MiB.
func ban10000(b *testing.B, s subject, attackers, maxretry int) (time.Duration, float64) {
	b.Helper()
	spec := jailSpec{logPath: newLog(b), maxretry: maxretry}
	d := s.start(b, spec)
	defer d.stop()
	var sb strings.Builder
	now := time.Now()
	n := 0
	for range maxretry {
		for i := range attackers {
			sb.WriteString(failLine(now, attacker(i), n))
			n++
		}
	}
	b.Logf("%s: load average before: %s", s.name, loadavg())
	start := time.Now()
	appendLog(b, spec.logPath, sb.String())
	at, err := d.awaitBanned(start, attackers)
	if err != nil {
		b.Fatalf("%v\n%s", err, d.logs())
	}
	el := at.Sub(start)
	if got := d.set().count(); got != attackers {
		b.Fatalf("%s: banned all %d, but the kernel set %s holds %d", d.name(), attackers, d.set(), got)
	}
	mb := float64(d.rssKB()) / 1024
	b.Logf("%s: %d bans in %.3f s (from %s), RSS %.1f MiB; %s", d.name(), attackers, el.Seconds(), start.Format("15:04:05.000"), mb, d.summary())
	return el, mb
}

// BenchmarkBanLatency measures, 50 times, the time from an attacker's last
// failure line (maxretry = 3) being written to its address being in the
// kernel's set.
func BenchmarkBanLatency(b *testing.B) {
	const tries, maxretry = 50, 3
	subs := subjects(b)
	lat := map[string][]float64{}
	for range b.N {
		for _, s := range subs {
			lat[s.name] = append(lat[s.name], banLatency(b, s, tries, maxretry)...)
		}
	}
	p := func(name string, q float64) float64 {
		v := slices.Clone(lat[name])
		slices.Sort(v)
		return percentile(v, q)
	}
	for _, s := range subs {
		b.ReportMetric(p(s.name, 50), s.name+"-ms-p50")
		b.ReportMetric(p(s.name, 99), s.name+"-ms-p99")
	}
	if withFail2ban() {
		b.ReportMetric(p("fail2ban", 50)/p("gaol", 50), "x-faster-p50")
		b.ReportMetric(p("fail2ban", 99)/p("gaol", 99), "x-faster-p99")
	}
	b.ReportMetric(0, "ns/op")
}

// banLatency runs one BenchmarkBanLatency measurement of s: the latencies
// of tries bans, in milliseconds. One untimed ban first makes the daemon
// set its firewall up (fail2ban does that on the first ban of a family).
// Before each timed line, it waits until the daemon has counted the
// attacker's earlier failures, so that only the last line's path is timed,
// and then for arrivalDelay, so that the line arrives at any moment of the
// daemon's internal timers, as real attacks do.
func banLatency(b *testing.B, s subject, tries, maxretry int) []float64 {
	b.Helper()
	spec := jailSpec{logPath: newLog(b), maxretry: maxretry}
	d := s.start(b, spec)
	defer d.stop()
	failed, banned := 0, 0
	wait := func(what string, every time.Duration, cond func() bool) {
		b.Helper()
		if !pollUntil(time.Now(), d.timeout(1), every, cond) {
			b.Fatalf("%s: %s not seen within %v\n%s", d.name(), what, d.timeout(1), d.logs())
		}
	}
	// Warm-up: an attacker past the ones timed.
	var sb strings.Builder
	for i := range maxretry {
		sb.WriteString(failLine(time.Now(), attacker(tries), i))
	}
	appendLog(b, spec.logPath, sb.String())
	failed += maxretry
	banned++
	wait("the warm-up ban", d.pollEvery(), func() bool { return d.set().count() == banned })

	b.Logf("%s: load average before: %s", s.name, loadavg())
	var lat []float64
	for try := range tries {
		addr := attacker(try)
		sb.Reset()
		for i := range maxretry - 1 {
			sb.WriteString(failLine(time.Now(), addr, i))
		}
		appendLog(b, spec.logPath, sb.String())
		failed += maxretry - 1
		wait("the first failures", max(d.pollEvery(), time.Millisecond), func() bool {
			n, err := d.failures()
			return err == nil && n >= failed
		})
		time.Sleep(arrivalDelay(try))
		start := time.Now()
		appendLog(b, spec.logPath, failLine(time.Now(), addr, maxretry))
		failed++
		banned++
		wait(fmt.Sprintf("ban %d", try), d.pollEvery(), func() bool { return d.set().count() == banned })
		lat = append(lat, float64(time.Since(start).Microseconds())/1000)
	}
	return lat
}

// loadavg returns the machine's load averages, to judge how quiet a run was.
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return err.Error()
	}
	f := strings.Fields(string(data))
	return strings.Join(f[:min(3, len(f))], " ")
}

// arrivalDelay spreads the timed lines of BanLatency evenly over a 2 s
// window after the previous ban (a golden-ratio sequence: reproducible
// and evenly spread for any number of tries). fail2ban's actions thread
// looks for new tickets 0.2, 0.6 and 1.2 s into a 2 s cycle that restarts
// after each ban: without this delay every line would arrive just before
// its first look, its best case.
func arrivalDelay(try int) time.Duration {
	const phi = 0.6180339887498949
	f := float64(try+1) * phi
	return time.Duration((f - math.Floor(f)) * float64(2*time.Second))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return percentile(s, 50)
}

// percentile returns the p-th percentile of sorted values (nearest rank).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
