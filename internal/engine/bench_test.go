//go:build unix

package engine

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// cpuPerOp reports, when called after b's loop, the CPU time the process
// used per op since it was made (cpu-ns/op): on a busy machine it says more
// than the wall time does.
func cpuPerOp(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// attack returns the failures of a mass attack as the daemon sees it:
// attackers addresses, each in a /64 of its own, failing in turn rounds
// times, one log line each, the log's times a second apart.
func attack(attackers, rounds int) []Failure {
	fs := make([]Failure, 0, attackers*rounds)
	for r := range rounds {
		for i := range attackers {
			a := netip.MustParseAddr(fmt.Sprintf("2001:db8:%x:%x::%x", i>>16, i&0xffff, i%251+1))
			fs = append(fs, Failure{
				Addr: a, Time: t0.Add(time.Duration(r) * time.Second),
				Line: fmt.Sprintf("Nov 22 10:00:0%d web1 sshd[%d]: Failed password for invalid user admin from %v port 22 ssh2", r, 1000+i, a),
			})
		}
	}
	return fs
}

// attackJail is sshd() with the daemon's default IPv6 ban prefix.
func attackJail() JailConfig {
	cfg := sshd()
	cfg.Prefix6 = 64
	return cfg
}

// BenchmarkFailAttack measures one Engine.Fail call of a mass attack:
// 10,000 IPv6 /64s failing 5 times each in turn, maxretry 5, so that
// every one is banned at its fifth failure. Every 50,000 failures the
// engine is replaced by a fresh one (outside the timer).
func BenchmarkFailAttack(b *testing.B) {
	runAttack(b, func(e *Engine, c *clock, k int, f Failure) {
		out, _, _ := e.Fail("sshd", f)
		if want := k >= 40000; (out == Banned) != want {
			b.Fatalf("failure %d: %v", k, out)
		}
	})
}

// runAttack calls fail for each failure of the attack BenchmarkFailAttack
// describes (k is its index in the attack), b.N times in all, on a fresh
// engine every round.
func runAttack(b *testing.B, fail func(e *Engine, c *clock, k int, f Failure)) {
	fs := attack(10000, 5)
	c := &clock{t: t0.Add(5 * time.Second)}
	var e *Engine
	fresh := func() {
		e = New(c.now)
		if _, err := e.Configure([]JailConfig{attackJail()}); err != nil {
			b.Fatal(err)
		}
	}
	fresh()
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuPerOp(b)()
	for i := 0; i < b.N; i++ {
		k := i % len(fs)
		if k == 0 && i > 0 {
			b.StopTimer()
			fresh()
			b.StartTimer()
		}
		fail(e, c, k, fs[k])
	}
}

// BenchmarkStats measures Engine.Stats with 10,000 prefixes failing (4
// failures each, below maxretry) while the clock moves on by a
// microsecond per call, as a status poll during an attack sees it.
func BenchmarkStats(b *testing.B) {
	c := &clock{t: t0.Add(5 * time.Second)}
	e := New(c.now)
	if _, err := e.Configure([]JailConfig{attackJail()}); err != nil {
		b.Fatal(err)
	}
	for _, f := range attack(10000, 4) {
		e.Fail("sshd", f)
	}
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuPerOp(b)()
	for i := 0; i < b.N; i++ {
		c.advance(time.Microsecond)
		if st, _ := e.Stats("sshd"); st.CurrentlyFailed != 10000 && c.t.Before(t0.Add(10*time.Minute)) {
			b.Fatalf("stats %+v", st)
		}
	}
}

// BenchmarkFailAndStats is a status poll every 100 failures of the attack
// (the daemon's benchmark polls every 2 ms), per failure.
func BenchmarkFailAndStats(b *testing.B) {
	runAttack(b, func(e *Engine, c *clock, k int, f Failure) {
		e.Fail("sshd", f)
		if k%100 == 0 {
			c.advance(time.Microsecond)
			e.Stats("sshd")
		}
	})
}
