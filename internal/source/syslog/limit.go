package syslog

import (
	"net/netip"
	"sync"
	"time"
)

// limiter is a token bucket per sender: each sender may send burst
// messages at once and rate messages a second after that.
type limiter struct {
	rate  float64 // tokens a second; 0: no limit
	burst float64
	max   int // senders tracked

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst, maxSenders int) *limiter {
	return &limiter{rate: rate, burst: float64(max(burst, 1)), max: maxSenders,
		buckets: map[netip.Addr]*bucket{}}
}

// allow takes a token from sender's bucket at time now, and reports
// whether there was one.
func (l *limiter) allow(sender netip.Addr, now time.Time) bool {
	if l.rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[sender]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[sender] = b
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(l.burst, b.tokens+dt*l.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// evict makes room for a sender: it forgets the senders whose bucket is
// full again (nothing is lost by forgetting them) and, if that is not
// enough, some others.
func (l *limiter) evict(now time.Time) {
	for a, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, a)
		}
	}
	for a := range l.buckets { // map order: arbitrary ones
		if len(l.buckets) < l.max*3/4 {
			break
		}
		delete(l.buckets, a)
	}
}
