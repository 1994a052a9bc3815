package geo

import (
	"container/list"
	"context"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// reverse returns addr's reverse DNS name, from the cache when it can.
func (r *Resolver) reverse(ctx context.Context, addr netip.Addr) string {
	if name, ok := r.cache.get(addr); ok {
		return name
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	names, err := r.rdns.LookupAddr(ctx, addr.String())
	name := ""
	if err == nil && len(names) > 0 {
		name = strings.TrimSuffix(names[0], ".")
	}
	r.cache.put(addr, name, err == nil && name != "")
	return name
}

// rdnsCache is a bounded LRU cache of reverse names with expiry.
type rdnsCache struct {
	mu    sync.Mutex
	size  int
	ttl   time.Duration
	now   func() time.Time
	order *list.List // front = most recently used; values are *rdnsEntry
	byKey map[netip.Addr]*list.Element
}

type rdnsEntry struct {
	addr    netip.Addr
	name    string
	expires time.Time
}

func newRDNSCache(size int, ttl time.Duration, now func() time.Time) *rdnsCache {
	return &rdnsCache{size: size, ttl: ttl, now: now, order: list.New(), byKey: map[netip.Addr]*list.Element{}}
}

func (c *rdnsCache) get(addr netip.Addr) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[addr]
	if !ok {
		return "", false
	}
	e := el.Value.(*rdnsEntry)
	if !c.now().Before(e.expires) {
		c.order.Remove(el)
		delete(c.byKey, addr)
		return "", false
	}
	c.order.MoveToFront(el)
	return e.name, true
}

// put caches a result; failures (found false) are kept for a tenth of the
// TTL so that a resolver that was down is asked again soon.
func (c *rdnsCache) put(addr netip.Addr, name string, found bool) {
	ttl := c.ttl
	if !found {
		ttl /= 10
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &rdnsEntry{addr: addr, name: name, expires: c.now().Add(ttl)}
	if el, ok := c.byKey[addr]; ok {
		el.Value = e
		c.order.MoveToFront(el)
		return
	}
	c.byKey[addr] = c.order.PushFront(e)
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*rdnsEntry).addr)
	}
}
