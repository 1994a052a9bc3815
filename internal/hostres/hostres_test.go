package hostres

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/testutil"
)

// fakeLookup answers from a table, counts lookups, and can hold them until
// released.
type fakeLookup struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	errs    map[string]error
	calls   map[string]int
	// hold, if not nil, blocks every lookup until it is closed (or the
	// lookup's context is done).
	hold chan struct{}
}

func newFakeLookup() *fakeLookup {
	return &fakeLookup{answers: map[string][]netip.Addr{}, errs: map[string]error{}, calls: map[string]int{}}
}

func (f *fakeLookup) set(name string, addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[name] = nil
	for _, a := range addrs {
		f.answers[name] = append(f.answers[name], netip.MustParseAddr(a))
	}
}

func (f *fakeLookup) fail(name string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[name] = err
}

func (f *fakeLookup) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

func (f *fakeLookup) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if network != "ip" {
		return nil, fmt.Errorf("network %q", network)
	}
	f.mu.Lock()
	f.calls[host]++
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs[host]; err != nil {
		return nil, err
	}
	if a, ok := f.answers[host]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("lookup %s: no such host", host)
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// step is one call of a scenario: advance the clock, resolve a name, and
// check the answer and the number of lookups of that name so far.
type step struct {
	advance time.Duration
	name    string
	want    []netip.Addr
	wantErr bool
	fresh   bool
	lookups int
	cached  int // Cache.Len after the call; -1: not checked
}

func TestResolve(t *testing.T) {
	v4, v6 := "192.0.2.10", "2001:db8::10"
	tests := []struct {
		name  string
		opts  Options
		setup func(f *fakeLookup)
		steps []step
	}{
		{
			name:  "hit",
			setup: func(f *fakeLookup) { f.set("mail.example", v6, v4) },
			steps: []step{
				{name: "mail.example", want: addrs(v4, v6), fresh: true, lookups: 1, cached: 1},
				{name: "mail.example", want: addrs(v4, v6), lookups: 1, cached: 1},
				{advance: DefaultTTL - time.Second, name: "MAIL.example", want: addrs(v4, v6), lookups: 1, cached: 1},
			},
		},
		{
			name:  "expiry",
			opts:  Options{TTL: time.Minute},
			setup: func(f *fakeLookup) { f.set("mail.example", v4) },
			steps: []step{
				{name: "mail.example", want: addrs(v4), fresh: true, lookups: 1, cached: 1},
				{advance: 59 * time.Second, name: "mail.example", want: addrs(v4), lookups: 1, cached: 1},
				{advance: time.Second, name: "mail.example", want: addrs(v4), fresh: true, lookups: 2, cached: 1},
			},
		},
		{
			name:  "negative cache",
			opts:  Options{TTL: time.Hour, NegativeTTL: time.Minute},
			setup: func(f *fakeLookup) { f.fail("gone.example", errors.New("no such host")) },
			steps: []step{
				{name: "gone.example", wantErr: true, fresh: true, lookups: 1, cached: 1},
				{advance: 30 * time.Second, name: "gone.example", wantErr: true, lookups: 1, cached: 1},
				{advance: 30 * time.Second, name: "gone.example", wantErr: true, fresh: true, lookups: 2, cached: 1},
			},
		},
		{
			name:  "no negative cache",
			opts:  Options{NegativeTTL: -1},
			setup: func(f *fakeLookup) { f.fail("gone.example", errors.New("no such host")) },
			steps: []step{
				{name: "gone.example", wantErr: true, fresh: true, lookups: 1, cached: 0},
				{name: "gone.example", wantErr: true, fresh: true, lookups: 2, cached: 0},
			},
		},
		{
			name:  "empty answer",
			setup: func(f *fakeLookup) { f.set("empty.example") },
			steps: []step{
				{name: "empty.example", wantErr: true, fresh: true, lookups: 1, cached: 1},
				{name: "empty.example", wantErr: true, lookups: 1, cached: 1},
			},
		},
		{
			name: "mapped, duplicate and zoned addresses",
			setup: func(f *fakeLookup) {
				f.set("multi.example", "2001:db8::2", "::ffff:198.51.100.7", "203.0.113.1", "198.51.100.7", "fe80::1%eth0", "2001:db8::2")
			},
			steps: []step{
				{name: "multi.example", want: addrs("198.51.100.7", "203.0.113.1", "2001:db8::2", "fe80::1"), fresh: true, lookups: 1, cached: 1},
			},
		},
		{
			name: "bound evicts the least recently used",
			opts: Options{Size: 2},
			setup: func(f *fakeLookup) {
				f.set("a.example", "192.0.2.1")
				f.set("b.example", "192.0.2.2")
				f.set("c.example", "192.0.2.3")
			},
			steps: []step{
				{name: "a.example", want: addrs("192.0.2.1"), fresh: true, lookups: 1, cached: 1},
				{name: "b.example", want: addrs("192.0.2.2"), fresh: true, lookups: 1, cached: 2},
				{name: "a.example", want: addrs("192.0.2.1"), lookups: 1, cached: 2}, // a is now the most recent
				{name: "c.example", want: addrs("192.0.2.3"), fresh: true, lookups: 1, cached: 2},
				{name: "a.example", want: addrs("192.0.2.1"), lookups: 1, cached: 2},
				{name: "b.example", want: addrs("192.0.2.2"), fresh: true, lookups: 2, cached: 2}, // evicted
			},
		},
		{
			name: "timeout",
			opts: Options{Timeout: time.Millisecond},
			setup: func(f *fakeLookup) {
				f.hold = make(chan struct{}) // never released: the timeout ends the lookup
				f.set("slow.example", "192.0.2.5")
			},
			steps: []step{
				{name: "slow.example", wantErr: true, fresh: true, lookups: 1, cached: 1},
				{name: "slow.example", wantErr: true, lookups: 1, cached: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeLookup()
			tt.setup(f)
			clock := testutil.NewClock(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC))
			o := tt.opts
			o.Lookup, o.Now = f, clock.Now
			c := New(o)
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				got, fresh, err := c.Resolve(context.Background(), s.name)
				if (err != nil) != s.wantErr {
					t.Fatalf("step %d: %s: err %v, want error %v", i, s.name, err, s.wantErr)
				}
				if !slices.Equal(got, s.want) {
					t.Errorf("step %d: %s: %v, want %v", i, s.name, got, s.want)
				}
				if fresh != s.fresh {
					t.Errorf("step %d: %s: fresh %v, want %v", i, s.name, fresh, s.fresh)
				}
				if n := f.count(strings.ToLower(s.name)); n != s.lookups {
					t.Errorf("step %d: %s: %d lookups, want %d", i, s.name, n, s.lookups)
				}
				if s.cached >= 0 && c.Len() != s.cached {
					t.Errorf("step %d: %d names cached, want %d", i, c.Len(), s.cached)
				}
			}
		})
	}
}

func TestErrNoAddress(t *testing.T) {
	f := newFakeLookup()
	f.set("empty.example")
	_, _, err := New(Options{Lookup: f}).Resolve(context.Background(), "empty.example")
	if !errors.Is(err, ErrNoAddress) {
		t.Errorf("err %v, want ErrNoAddress", err)
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"mail.example", true},
		{"mail.example.", true},
		{"localhost", true},
		{"under_score.example", true},
		{"2nd.example", true},
		{"a-1.example.com", true},
		{"", false},
		{".", false},
		{"999.1.1.1", false},
		{"12345", false},
		{"a..example", false},
		{".example", false},
		{"2001:db8::1", false},
		{"bad name.example", false},
		{"tab\tname", false},
		{strings.Repeat("a", 64) + ".example", false},
		{strings.Repeat("a", 63) + ".example", true},
		{strings.Repeat("a.", 127) + "a", false},
	}
	for _, tt := range tests {
		if got := ValidName(tt.in); got != tt.want {
			t.Errorf("ValidName(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestNotName: text that cannot be a name is refused without a lookup.
func TestNotName(t *testing.T) {
	f := newFakeLookup()
	c := New(Options{Lookup: f})
	for _, s := range []string{"", "999.1.1.1", "a..example"} {
		if _, fresh, err := c.Resolve(context.Background(), s); !errors.Is(err, ErrNotName) || fresh {
			t.Errorf("%q: fresh %v, err %v", s, fresh, err)
		}
	}
	if n := len(f.calls); n != 0 || c.Len() != 0 {
		t.Errorf("%d names looked up, %d cached", n, c.Len())
	}
}

// waitWaiters waits until n callers besides the first wait for the lookup
// of name.
func waitWaiters(t *testing.T, c *Cache, name string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		cl := c.calls[name]
		got := 0
		if cl != nil {
			got = cl.waiters
		}
		c.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d callers wait for %s, want %d", got, name, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCoalesce: callers that ask for a name while it is being looked up
// share that lookup; only the one that started it is told it is fresh.
func TestCoalesce(t *testing.T) {
	f := newFakeLookup()
	f.set("busy.example", "2001:db8::7", "203.0.113.7")
	f.hold = make(chan struct{})
	c := New(Options{Lookup: f})
	const callers = 8
	type answer struct {
		addrs []netip.Addr
		fresh bool
		err   error
	}
	answers := make(chan answer, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			a, fresh, err := c.Resolve(context.Background(), "busy.example")
			answers <- answer{a, fresh, err}
		})
	}
	waitWaiters(t, c, "busy.example", callers-1)
	close(f.hold)
	wg.Wait()
	close(answers)
	fresh := 0
	for a := range answers {
		if a.err != nil || !slices.Equal(a.addrs, addrs("203.0.113.7", "2001:db8::7")) {
			t.Errorf("answer %v, %v", a.addrs, a.err)
		}
		if a.fresh {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d fresh answers, want 1", fresh)
	}
	if n := f.count("busy.example"); n != 1 {
		t.Errorf("%d lookups, want 1", n)
	}
}

// TestCancel: a caller whose context ends stops waiting; the lookup goes
// on and its answer is cached.
func TestCancel(t *testing.T) {
	f := newFakeLookup()
	f.set("late.example", "198.51.100.20")
	f.hold = make(chan struct{})
	c := New(Options{Lookup: f})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, fresh, err := c.Resolve(ctx, "late.example"); !errors.Is(err, context.Canceled) || fresh {
		t.Fatalf("cancelled: fresh %v, err %v", fresh, err)
	}
	// A second caller joins the lookup still under way.
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Resolve(context.Background(), "late.example")
		done <- err
	}()
	waitWaiters(t, c, "late.example", 1)
	close(f.hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, fresh, err := c.Resolve(context.Background(), "late.example")
	if err != nil || fresh || !slices.Equal(got, addrs("198.51.100.20")) {
		t.Errorf("after the lookup: %v, fresh %v, err %v", got, fresh, err)
	}
	if n := f.count("late.example"); n != 1 {
		t.Errorf("%d lookups, want 1", n)
	}
}

// TestConcurrent resolves many names from many goroutines (for the race
// detector) within a small bound.
func TestConcurrent(t *testing.T) {
	f := newFakeLookup()
	for i := range 20 {
		f.set(fmt.Sprintf("h%d.example", i), fmt.Sprintf("192.0.2.%d", i+1))
	}
	c := New(Options{Lookup: f, Size: 5})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (i*7 + g) % 20
				a, _, err := c.Resolve(context.Background(), fmt.Sprintf("h%d.example", k))
				if err != nil || len(a) != 1 || a[0] != netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", k+1)) {
					t.Errorf("h%d: %v %v", k, a, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 5 {
		t.Errorf("%d names cached, bound 5", n)
	}
}
