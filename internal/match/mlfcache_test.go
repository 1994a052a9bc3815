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
				got, want := c.get(key, mlfHash(key), func() time.Time { return now }) != nil, ref.get(key, now)
				if got != want {
					t.Fatalf("seed %d op %d: get(%s) = %v, want %v", seed, op, key, got, want)
				}
			case 1:
				c.set(key, mlfHash(key), &failData{}, now)
				ref.set(key, now)
			case 2:
				c.unset(key, mlfHash(key))
				ref.unset(key)
			}
			if c.table.n != len(ref.entries) {
				t.Fatalf("seed %d op %d: %d entries, want %d", seed, op, c.table.n, len(ref.entries))
			}
			if n := len(c.order) - c.head; n > 4*mlfCacheSize+1 || cap(c.order) > 8*mlfCacheSize || len(c.spare) > 5*mlfCacheSize {
				t.Fatalf("seed %d op %d: order holds %d keys in an array of %d, %d spare", seed, op, n, cap(c.order), len(c.spare))
			}
			for _, e := range c.order[c.head:] {
				i, ok := c.table.find(e.key, e.hash)
				if e.live && (!ok || c.table.slots[i].e != e) || op%97 == 0 && slices.Contains(c.spare, e) {
					t.Fatalf("seed %d op %d: entry %q out of place", seed, op, e.key)
				}
			}
		}
	}
}

// TestMLFTable runs random insertions, lookups and removals on the
// cache's table and on a map, which must agree. The hashes put every key
// in one of a few slots, so that probe runs are long and wrap around the
// end of the array, and some keys have equal hashes.
func TestMLFTable(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 2))
		var tb mlfTable
		ref := map[string]*mlfEntry{}
		hashes := []uint64{0, 1, 2, mlfTableSize - 1, mlfTableSize - 2, 2*mlfTableSize - 1, 5 + mlfTableSize, 0}
		hashOf := func(k int) uint64 { return hashes[k%len(hashes)] + uint64(k/len(hashes))*mlfTableSize*3 }
		for op := range 20000 {
			k := r.IntN(3 * mlfCacheSize)
			key := fmt.Sprintf("k%d", k)
			h := hashOf(k)
			i, ok := tb.find(key, h)
			want, wantOK := ref[key]
			if ok != wantOK || ok && tb.slots[i].e != want {
				t.Fatalf("seed %d op %d: find(%s) = %v, want %v", seed, op, key, ok, wantOK)
			}
			switch {
			case ok && r.IntN(2) == 0:
				tb.remove(i)
				delete(ref, key)
			case !ok && len(ref) < mlfCacheSize:
				e := &mlfEntry{key: key, hash: h}
				tb.insert(i, e)
				ref[key] = e
			}
			if tb.n != len(ref) {
				t.Fatalf("seed %d op %d: %d entries, want %d", seed, op, tb.n, len(ref))
			}
		}
		for key, e := range ref {
			if i, ok := tb.find(key, e.hash); !ok || tb.slots[i].e != e {
				t.Fatalf("seed %d: %s lost", seed, key)
			}
		}
	}
}
