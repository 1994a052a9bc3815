// Package hostres resolves host names to addresses through a bounded cache,
// as fail2ban's usedns does for failures that name a host: answers, failed
// lookups included, are kept for a while, and concurrent lookups of one
// name are made once.
package hostres

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Lookuper looks up the addresses of a host name; *net.Resolver satisfies
// it. The Cache calls it with network "ip" (IPv4 and IPv6 addresses).
type Lookuper interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Defaults of Options, as fail2ban's cache of names (1,000 names, 5
// minutes, failures as long as answers).
const (
	DefaultSize        = 1000
	DefaultTTL         = 5 * time.Minute
	DefaultNegativeTTL = 5 * time.Minute
	DefaultTimeout     = 5 * time.Second
)

// ErrNoAddress is the error of a lookup that succeeded without an address.
var ErrNoAddress = errors.New("no address")

// ErrNotName is the error for text that cannot be a host name (empty,
// too long, with an empty label, a space or a colon, or only digits and
// dots, as a malformed IPv4 address): it is never looked up.
var ErrNotName = errors.New("not a host name")

// Options configure a Cache. Zero values mean the defaults.
type Options struct {
	// Lookup makes the lookups; nil means net.DefaultResolver.
	Lookup Lookuper
	// Now is the clock the cache's entries expire by; nil means time.Now.
	Now func() time.Time
	// Timeout bounds one lookup (DefaultTimeout if 0).
	Timeout time.Duration
	// Size is the most names kept; the least recently used go first
	// (DefaultSize if 0).
	Size int
	// TTL is how long addresses are kept (DefaultTTL if 0); NegativeTTL
	// how long a failed lookup is (DefaultNegativeTTL if 0). A negative
	// value keeps none.
	TTL, NegativeTTL time.Duration
}

// Cache resolves host names and remembers the answers. It is safe for
// concurrent use.
type Cache struct {
	lookup      Lookuper
	now         func() time.Time
	timeout     time.Duration
	size        int
	ttl, negTTL time.Duration

	mu      sync.Mutex
	entries map[string]*list.Element // of *entry
	lru     *list.List               // most recently used first
	calls   map[string]*call         // lookups under way
}

// entry is a cached answer.
type entry struct {
	name    string
	addrs   []netip.Addr
	err     error
	expires time.Time
}

// call is a lookup under way, which callers of the same name wait for.
type call struct {
	done    chan struct{}
	addrs   []netip.Addr
	err     error
	waiters int // callers waiting besides the one that started it
}

// New returns a Cache.
func New(o Options) *Cache {
	c := &Cache{
		lookup: o.Lookup, now: o.Now, timeout: o.Timeout, size: o.Size, ttl: o.TTL, negTTL: o.NegativeTTL,
		entries: map[string]*list.Element{}, lru: list.New(), calls: map[string]*call{},
	}
	if c.lookup == nil {
		c.lookup = net.DefaultResolver
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.size <= 0 {
		c.size = DefaultSize
	}
	if c.ttl == 0 {
		c.ttl = DefaultTTL
	}
	if c.negTTL == 0 {
		c.negTTL = DefaultNegativeTTL
	}
	return c
}

// Resolve returns the addresses of a host name: IPv4 and IPv6, IPv4-mapped
// addresses unmapped, sorted, without duplicates. The slice is shared:
// callers must not modify it. Names are compared without regard to case.
//
// fresh reports that this call made the lookup: the answer (or err) comes
// neither from the cache nor from a lookup another caller started, which
// lets callers report a failed lookup once rather than at every hit of the
// negative cache.
//
// A lookup runs until it ends or its timeout, even if ctx is done first:
// Resolve then returns ctx's error, and the answer is cached for the next
// caller.
func (c *Cache) Resolve(ctx context.Context, name string) (addrs []netip.Addr, fresh bool, err error) {
	if !ValidName(name) {
		return nil, false, fmt.Errorf("%q: %w", name, ErrNotName)
	}
	key := strings.ToLower(name)
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*entry)
		if c.now().Before(e.expires) {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			return e.addrs, false, e.err
		}
		c.lru.Remove(el)
		delete(c.entries, key)
	}
	cl, joined := c.calls[key]
	if joined {
		cl.waiters++
	} else {
		cl = &call{done: make(chan struct{})}
		c.calls[key] = cl
		go c.run(context.WithoutCancel(ctx), key, cl)
	}
	c.mu.Unlock()
	select {
	case <-cl.done:
		return cl.addrs, !joined, cl.err
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// run makes a lookup, caches its answer and hands it to its callers.
func (c *Cache) run(ctx context.Context, key string, cl *call) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	addrs, err := c.lookup.LookupNetIP(ctx, "ip", key)
	addrs = cleanAddrs(addrs)
	switch {
	case len(addrs) > 0:
		err = nil // some were found: what failed does not matter
	case err == nil:
		err = fmt.Errorf("looking up %s: %w", key, ErrNoAddress)
	}
	cl.addrs, cl.err = addrs, err
	c.mu.Lock()
	delete(c.calls, key)
	c.store(key, addrs, err)
	c.mu.Unlock()
	close(cl.done)
}

// store caches an answer, evicting the least recently used names beyond
// the bound. c.mu is held.
func (c *Cache) store(key string, addrs []netip.Addr, err error) {
	ttl := c.ttl
	if err != nil {
		ttl = c.negTTL
	}
	if ttl < 0 {
		return
	}
	e := &entry{name: key, addrs: addrs, err: err, expires: c.now().Add(ttl)}
	if el, ok := c.entries[key]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
	} else {
		c.entries[key] = c.lru.PushFront(e)
	}
	for c.lru.Len() > c.size {
		el := c.lru.Back()
		c.lru.Remove(el)
		delete(c.entries, el.Value.(*entry).name)
	}
}

// Len returns the number of names cached (expired ones not yet dropped
// included).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// ValidName reports whether s may be a host name worth looking up: at most
// 253 characters (and a final dot), labels of 1 to 63 characters, no
// space, control character or colon, and not only digits and dots.
func ValidName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	numeric, label := true, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
			continue
		case c <= ' ' || c == 0x7f || c == ':':
			return false
		case c < '0' || c > '9':
			numeric = false
		}
		if label++; label > 63 {
			return false
		}
	}
	return label > 0 && !numeric
}

// cleanAddrs unmaps IPv4-mapped addresses, drops zones and invalid
// addresses, sorts and removes duplicates.
func cleanAddrs(in []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range in {
		if a.IsValid() {
			out = append(out, a.Unmap().WithZone(""))
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}
