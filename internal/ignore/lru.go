package ignore

import (
	"container/list"
	"time"
)

// lru is a bounded cache of answers with expiry, least recently used out
// first. It is not safe for concurrent use.
type lru struct {
	size  int
	order *list.List // of *lruEntry, most recent first
	items map[string]*list.Element
}

type lruEntry struct {
	key     string
	ignored bool
	expires time.Time
}

func newLRU(size int) *lru {
	return &lru{size: size, order: list.New(), items: make(map[string]*list.Element)}
}

// get returns the answer for key if it has not expired at now.
func (c *lru) get(key string, now time.Time) (ignored, ok bool) {
	el, ok := c.items[key]
	if !ok {
		return false, false
	}
	e := el.Value.(*lruEntry)
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, key)
		return false, false
	}
	c.order.MoveToFront(el)
	return e.ignored, true
}

// put stores an answer, evicting the least recently used one if full.
func (c *lru) put(key string, ignored bool, expires time.Time) {
	if el, ok := c.items[key]; ok {
		e := el.Value.(*lruEntry)
		e.ignored, e.expires = ignored, expires
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry{key: key, ignored: ignored, expires: expires})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruEntry).key)
	}
}

// len returns the number of entries, expired ones included.
func (c *lru) len() int { return c.order.Len() }
