package match

import (
	"hash/maphash"
	"time"
)

// mlfCache holds the state of <F-MLFID> connections: at most 100, each
// for 5 minutes, the oldest dropped first (fail2ban's Utils.Cache). The
// states it drops are reused for new connections.
type mlfCache struct {
	table mlfTable // the live entries, by key
	// order holds the entries in the order they were set, from head on
	// (the slots before head are taken); entries unset since are dead
	// and skipped. An entry leaves order only to be reused (spare).
	order []*mlfEntry
	head  int
	// free holds states dropped, for newData; spare entries out of
	// order, for set.
	free  []*failData
	spare []*mlfEntry
}

type mlfEntry struct {
	key     string
	hash    uint64 // mlfHash(key)
	fd      *failData
	expires time.Time
	live    bool // in the table
}

const (
	mlfCacheSize = 100
	mlfCacheTTL  = 5 * time.Minute
)

// mlfSeed seeds the hashes of the cache's keys.
var mlfSeed = maphash.MakeSeed()

// mlfHash returns the hash of a key of the cache, which its methods take
// along with the key: the caller hashes it once for a lookup and an
// insertion.
func mlfHash(key string) uint64 { return maphash.String(mlfSeed, key) }

// get returns the state of key, nil if it has none or if it expired by
// now (read only if key has one).
func (c *mlfCache) get(key string, h uint64, now func() time.Time) *failData {
	i, ok := c.table.find(key, h)
	if !ok {
		return nil
	}
	e := c.table.slots[i].e
	if !e.expires.After(now()) {
		c.table.remove(i)
		c.recycle(e.fd)
		*e = mlfEntry{} // dead, and holding no line
		return nil
	}
	return e.fd
}

// set sets the state of key.
func (c *mlfCache) set(key string, h uint64, fd *failData, now time.Time) {
	if i, ok := c.table.find(key, h); ok {
		e := c.table.slots[i].e
		e.fd, e.expires = fd, now.Add(mlfCacheTTL)
		return
	}
	c.setNew(key, h, fd, now)
}

// setNew sets the state of key, which has none.
func (c *mlfCache) setNew(key string, h uint64, fd *failData, now time.Time) {
	if c.table.n >= mlfCacheSize {
		for c.head < len(c.order) {
			e := c.order[c.head]
			c.order[c.head] = nil
			c.head++
			if !e.live {
				c.spare = append(c.spare, e)
				continue
			}
			if i, ok := c.table.find(e.key, e.hash); ok {
				c.table.remove(i)
			}
			c.recycle(e.fd)
			live := e.expires.After(now)
			*e = mlfEntry{}
			c.spare = append(c.spare, e)
			if live && c.table.n < mlfCacheSize {
				break
			}
		}
	}
	switch {
	case len(c.order)-c.head >= 4*mlfCacheSize:
		// Mostly entries unset since: keep the live ones, in order, in
		// place.
		live := c.order[:0]
		for _, e := range c.order[c.head:] {
			if e.live {
				live = append(live, e)
			} else {
				c.spare = append(c.spare, e)
			}
		}
		clear(c.order[len(live):])
		c.order, c.head = live, 0
	case c.head > 0 && len(c.order) == cap(c.order):
		// Full: move the entries down over the slots taken rather than
		// grow the array.
		n := copy(c.order, c.order[c.head:])
		clear(c.order[n:])
		c.order, c.head = c.order[:n], 0
	}
	e := pop(&c.spare)
	if e == nil {
		e = new(mlfEntry)
	}
	*e = mlfEntry{key: key, hash: h, fd: fd, expires: now.Add(mlfCacheTTL), live: true}
	i, _ := c.table.find(key, h)
	c.table.insert(i, e)
	c.order = append(c.order, e)
}

// unset drops the state of key; the caller recycles it when done with it.
func (c *mlfCache) unset(key string, h uint64) {
	if i, ok := c.table.find(key, h); ok {
		e := c.table.slots[i].e
		c.table.remove(i)
		*e = mlfEntry{} // dead, and holding no line
	}
}

// newData returns a state for a new connection with the groups cur: a
// dropped one if there is one.
func (c *mlfCache) newData(cur groupVals) *failData {
	fd := pop(&c.free)
	if fd == nil {
		fd = &failData{vals: make(groupVals, len(cur))}
	}
	copy(fd.vals, cur)
	return fd
}

// pop takes the last of a list of things to reuse, nil if it is empty.
func pop[T any](list *[]*T) *T {
	n := len(*list)
	if n == 0 {
		return nil
	}
	x := (*list)[n-1]
	(*list)[n-1] = nil
	*list = (*list)[:n-1]
	return x
}

// recycle takes back a state nothing refers to any more, for newData.
func (c *mlfCache) recycle(fd *failData) {
	if fd == nil || len(c.free) >= mlfCacheSize {
		return
	}
	clear(fd.vals)
	fd.users = clearStrings(fd.users)
	fd.matches = clearStrings(fd.matches)
	fd.nofailMatches = clearStrings(fd.nofailMatches)
	fd.pending = false
	fd.addr = addrMemo{}
	c.free = append(c.free, fd)
}

// mlfTable maps the keys of the cache's live entries to them. It is an
// array probed linearly from a key's hash, at most 40% full (the cache
// holds at most mlfCacheSize entries): a lookup, an insertion or a removal
// costs a fraction of a Go map's with string keys, and the connection
// cache does up to three of them for every line that fails.
type mlfTable struct {
	slots [mlfTableSize]mlfSlot
	n     int // entries
}

// mlfSlot is a slot of an mlfTable.
type mlfSlot struct {
	hash uint64
	e    *mlfEntry // nil: empty
}

// mlfTableSize is the number of slots of an mlfTable: a power of two, at
// least twice mlfCacheSize.
const mlfTableSize = 256

// find returns the slot of key (of hash h) and true, or the empty slot
// where it would go and false.
func (t *mlfTable) find(key string, h uint64) (int, bool) {
	for i := int(h % mlfTableSize); ; i = (i + 1) % mlfTableSize {
		s := &t.slots[i]
		if s.e == nil {
			return i, false
		}
		if s.hash == h && s.e.key == key {
			return i, true
		}
	}
}

// insert puts e in the empty slot i that find returned for its key.
func (t *mlfTable) insert(i int, e *mlfEntry) {
	t.slots[i] = mlfSlot{hash: e.hash, e: e}
	t.n++
}

// remove empties slot i. The entries after it in its run move back into
// the slots their probes pass through (backward-shift deletion), so that
// no marks of removed entries are needed.
func (t *mlfTable) remove(i int) {
	t.n--
	for {
		t.slots[i] = mlfSlot{}
		j := i
		for {
			j = (j + 1) % mlfTableSize
			s := t.slots[j]
			if s.e == nil {
				return
			}
			// s stays if its home slot lies cyclically in (i, j]: its
			// probe does not pass through i.
			home := int(s.hash % mlfTableSize)
			if i < j && (home <= i || home > j) || i > j && home <= i && home > j {
				t.slots[i] = s
				i = j
				break
			}
		}
	}
}
