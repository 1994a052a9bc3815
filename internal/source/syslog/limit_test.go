package syslog

import (
	"net/netip"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("2001:db8::1")
	l := newLimiter(2, 3, 100) // 2 a second, bursts of 3
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		sender netip.Addr
		at     time.Duration
		want   bool
	}{
		{a, 0, true}, {a, 0, true}, {a, 0, true}, {a, 0, false}, // the burst
		{b, 0, true}, // each sender has its own bucket
		{a, 499 * time.Millisecond, false},
		{a, 500 * time.Millisecond, true}, // one token back
		{a, 500 * time.Millisecond, false},
		{a, 10 * time.Second, true}, {a, 10 * time.Second, true}, {a, 10 * time.Second, true},
		{a, 10 * time.Second, false}, // refilled to the burst, not more
		{a, 9 * time.Second, false},  // the clock going back gives nothing
	}
	for i, s := range steps {
		if got := l.allow(s.sender, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d (%v at %v): allow = %v, want %v", i, s.sender, s.at, got, s.want)
		}
	}
}

func TestLimiterUnlimited(t *testing.T) {
	l := newLimiter(0, 0, 1)
	for range 1000 {
		if !l.allow(netip.MustParseAddr("192.0.2.1"), time.Time{}) {
			t.Fatal("limited without a rate")
		}
	}
}

func TestLimiterBounded(t *testing.T) {
	l := newLimiter(1, 1, 100)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		if !l.allow(a, t0) {
			t.Fatalf("new sender %v limited", a)
		}
		if len(l.buckets) > 100 {
			t.Fatalf("%d senders tracked", len(l.buckets))
		}
	}
	// Full buckets are forgotten first: a sender that spent its tokens
	// is still limited after a sweep of the rested ones.
	l = newLimiter(1, 1, 10)
	spent := netip.MustParseAddr("203.0.113.1")
	l.allow(spent, t0)
	for i := range 8 {
		l.allow(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), t0.Add(-time.Hour))
	}
	l.allow(netip.MustParseAddr("203.0.113.2"), t0) // full: sweeps the rested ones
	if l.allow(spent, t0) {
		t.Error("the limited sender was forgotten")
	}
}
