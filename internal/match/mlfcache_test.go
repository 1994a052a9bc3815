package match

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// refCache is the connection cache as fail2ban's Utils.Cache behaves,
// written the plain way: the order of keys in a slice.
type refCache struct {
	entries map[string]time.Time // expiry
	order   []string
}

func (c *refCache) get(key string, now time.Time) bool {
	exp, ok := c.entries[key]
	if ok && !exp.After(now) {
		c.unset(key)
		return false
	}
	return ok
}

func (c *refCache) set(key string, now time.Time) {
	if _, ok := c.entries[key]; ok {
		c.entries[key] = now.Add(mlfCacheTTL)
		return
	}
	if len(c.entries) >= mlfCacheSize {
		for len(c.order) > 0 {
			k := c.order[0]
			c.order = c.order[1:]
			exp := c.entries[k]
			delete(c.entries, k)
			if exp.After(now) && len(c.entries) < mlfCacheSize {
				break
			}
		}
	}
	c.entries[key] = now.Add(mlfCacheTTL)
	c.order = append(c.order, key)
}

func (c *refCache) unset(key string) {
	if _, ok := c.entries[key]; !ok {
		return
	}
	delete(c.entries, key)
	c.order = slices.DeleteFunc(c.order, func(k string) bool { return k == key })
}

// TestMLFCache runs random operations on the connection cache and on the
// plain model, which must agree on every answer; the cache's own
// bookkeeping must stay bounded.
func TestMLFCache(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 1))
		var c mlfCache
		ref := refCache{entries: map[string]time.Time{}}
		now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
		keys := 50 + r.IntN(300)
		for op := range 20000 {
			key := fmt.Sprintf("sshd[%d]", r.IntN(keys))
			now = now.Add(time.Duration(r.IntN(4000)) * time.Millisecond)
			switch r.IntN(3) {
			case 0:
				got, want := c.get(key, func() time.Time { return now }) != nil, ref.get(key, now)
				if got != want {
					t.Fatalf("seed %d op %d: get(%s) = %v, want %v", seed, op, key, got, want)
				}
			case 1:
				c.set(key, &failData{}, now)
				ref.set(key, now)
			case 2:
				c.unset(key)
				ref.unset(key)
			}
			if len(c.entries) != len(ref.entries) {
				t.Fatalf("seed %d op %d: %d entries, want %d", seed, op, len(c.entries), len(ref.entries))
			}
			if n := len(c.order) - c.head; n > 4*mlfCacheSize+1 || cap(c.order) > 8*mlfCacheSize || len(c.spare) > 5*mlfCacheSize {
				t.Fatalf("seed %d op %d: order holds %d keys in an array of %d, %d spare", seed, op, n, cap(c.order), len(c.spare))
			}
			for _, e := range c.order[c.head:] {
				if e.live && c.entries[e.key] != e || op%97 == 0 && slices.Contains(c.spare, e) {
					t.Fatalf("seed %d op %d: entry %q out of place", seed, op, e.key)
				}
			}
		}
	}
}
