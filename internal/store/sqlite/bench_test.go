package sqlite_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/store"
)

// bansFrom returns n bans of distinct IPv6 addresses numbered from first.
func bansFrom(first, n int) []store.Ban {
	out := make([]store.Ban, n)
	for i := range out {
		k := first + i
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(k >> 24), 13: byte(k >> 16), 14: byte(k >> 8), 15: byte(k)})
		out[i] = store.Ban{
			Jail: "sshd", Prefix: netip.PrefixFrom(a, 128), Start: t0, End: t0.Add(time.Hour),
			Failures: 5, Matches: benchMatches,
		}
	}
	return out
}

// BenchmarkAddBans10k adds 10,000 new bans in one call.
func BenchmarkAddBans10k(b *testing.B) {
	s, _ := openTemp(b)
	ctx := context.Background()
	n := 0
	c := cpuTime()
	defer reportCPU(b, c)
	for b.Loop() {
		if _, err := s.AddBans(ctx, bansFrom(n, 10_000)); err != nil {
			b.Fatal(err)
		}
		n += 10_000
	}
}

// BenchmarkAddBansOne adds one ban per call: one commit (and fsync) each.
func BenchmarkAddBansOne(b *testing.B) {
	s, _ := openTemp(b)
	ctx := context.Background()
	n := 0
	c := cpuTime()
	defer reportCPU(b, c)
	for b.Loop() {
		if _, err := s.AddBans(ctx, bansFrom(n, 1)); err != nil {
			b.Fatal(err)
		}
		n++
	}
}

// BenchmarkActiveBans100k reads 100,000 active bans.
func BenchmarkActiveBans100k(b *testing.B) {
	s, _ := openTemp(b)
	ctx := context.Background()
	for i := 0; i < 100_000; i += 10_000 {
		if _, err := s.AddBans(ctx, bansFrom(i, 10_000)); err != nil {
			b.Fatal(err)
		}
	}
	c := cpuTime()
	defer reportCPU(b, c)
	for b.Loop() {
		bans, err := s.ActiveBans(ctx, t0)
		if err != nil {
			b.Fatal(err)
		}
		if len(bans) != 100_000 {
			b.Fatalf("%d active bans", len(bans))
		}
	}
}

// BenchmarkHistory looks up one address among 100,000 bans.
func BenchmarkHistory(b *testing.B) {
	s, _ := openTemp(b)
	ctx := context.Background()
	for i := 0; i < 100_000; i += 10_000 {
		if _, err := s.AddBans(ctx, bansFrom(i, 10_000)); err != nil {
			b.Fatal(err)
		}
	}
	addr := bansFrom(54_321, 1)[0].Prefix.Addr()
	for b.Loop() {
		h, err := s.History(ctx, addr)
		if err != nil {
			b.Fatal(err)
		}
		if len(h) != 1 {
			b.Fatalf("%d bans in the history", len(h))
		}
	}
}

// benchMatches are the five lines a typical ban keeps as evidence.
var benchMatches = []string{
	"Nov 22 02:52:53 web1 sshd[4001]: Failed password for invalid user admin from 2001:db8:0:1::2 port 41001 ssh2",
	"Nov 22 02:52:53 web1 sshd[4002]: Failed password for invalid user admin from 2001:db8:0:1::2 port 41002 ssh2",
	"Nov 22 02:52:53 web1 sshd[4003]: Failed password for invalid user admin from 2001:db8:0:1::2 port 41003 ssh2",
	"Nov 22 02:52:53 web1 sshd[4004]: Failed password for invalid user admin from 2001:db8:0:1::2 port 41004 ssh2",
	"Nov 22 02:52:53 web1 sshd[4005]: Failed password for invalid user admin from 2001:db8:0:1::2 port 41005 ssh2",
}
