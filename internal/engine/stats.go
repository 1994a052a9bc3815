package engine

import "time"

// failedCount keeps a jail's CurrentlyFailed, the number of prefixes whose
// newest failure is after a cutoff (now - findtime), without looking at
// every prefix on each call: a status poll during an attack would
// otherwise walk tens of thousands of them every time.
//
// The count is exact for one cutoff, at, and is kept exact for it as
// failures come and go. It also holds for any other cutoff as long as no
// prefix's newest failure lies between the two: below is at most the
// earliest newest failure after at, and above at least the latest one at
// or before at. Between recounts a new failure can only move a bound
// towards at, and a prefix that goes leaves it where it was, so a bound
// may be tighter than it need be, which costs at worst an early recount,
// never a wrong count.
//
// This relies on time.Time's comparisons being a consistent order. They
// are, except after a step of the wall clock, when times carrying a
// monotonic reading (time.Now's) and times without one (a log's) may not
// be: then the count may be off until the next recount.
type failedCount struct {
	valid bool
	at    time.Time
	n     int // prefixes whose newest failure is after at

	below, above       time.Time
	hasBelow, hasAbove bool
}

func (c *failedCount) invalidate() { *c = failedCount{} }

// holds reports whether the count for at is also the count for cutoff.
func (c *failedCount) holds(cutoff time.Time) bool {
	switch {
	case !c.valid:
		return false
	case cutoff.After(c.at):
		// Prefixes whose newest failure is in (at, cutoff] drop out.
		return !c.hasBelow || c.below.After(cutoff)
	case cutoff.Before(c.at):
		// Prefixes whose newest failure is in (cutoff, at] come in.
		return !c.hasAbove || !c.above.After(cutoff)
	}
	return true
}

// add counts a prefix whose newest failure is t.
func (c *failedCount) add(t time.Time) {
	if !c.valid {
		return
	}
	if t.After(c.at) {
		c.n++
		if !c.hasBelow || t.Before(c.below) {
			c.below, c.hasBelow = t, true
		}
	} else if !c.hasAbove || t.After(c.above) {
		c.above, c.hasAbove = t, true
	}
}

// remove uncounts a prefix whose newest failure was t.
func (c *failedCount) remove(t time.Time) {
	if c.valid && t.After(c.at) {
		c.n--
	}
}

// move follows a prefix whose newest failure moves from old to t.
func (c *failedCount) move(old, t time.Time) {
	if old != t {
		c.remove(old)
		c.add(t)
	}
}

// currentlyFailed returns the number of prefixes with a failure after
// cutoff, counting them afresh only when the count kept cannot tell.
func (j *jail) currentlyFailed(cutoff time.Time) int {
	c := &j.failed
	if c.holds(cutoff) {
		return c.n
	}
	*c = failedCount{valid: true, at: cutoff}
	for _, fl := range j.fails {
		c.add(fl.newest())
	}
	return c.n
}

// addFails records that the prefix of pi, whose state in j is st, has
// the failures fl.
func (j *jail) addFails(pi *prefixInfo, st *jailState, fl *failures) {
	fl.info, fl.slot = pi, int32(len(j.fails))
	j.fails = append(j.fails, fl)
	st.fl = fl
	j.failed.add(fl.newest())
}

// unlinkFails takes fl, whose newest failure is newest, out of j's
// failures; its prefix's state still holds it.
func (j *jail) unlinkFails(fl *failures, newest time.Time) {
	j.failed.remove(newest)
	last := j.fails[len(j.fails)-1]
	j.fails[fl.slot], last.slot = last, fl.slot
	j.fails[len(j.fails)-1] = nil
	j.fails = j.fails[:len(j.fails)-1]
}

// dropFails forgets the failures fl of a prefix in j.
func (e *Engine) dropFails(j *jail, fl *failures) {
	j.unlinkFails(fl, fl.newest())
	fl.info.state(j).fl = nil
	e.release(fl.info)
}

// dropAllFails forgets every failure of j.
func (e *Engine) dropAllFails(j *jail) {
	for len(j.fails) > 0 {
		e.dropFails(j, j.fails[len(j.fails)-1])
	}
}
