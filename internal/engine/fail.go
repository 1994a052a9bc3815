package engine

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"time"
)

// failures are the recent failures of one prefix: the newest ones within
// the jail's longest window, oldest first. Every window ends at the newest
// failure, so the newest maxRetry entries are all any window can need.
//
// A failures must not be copied: its slices start in its own arrays.
type failures struct {
	entries  []failEntry
	matches  []string // last MaxMatches lines
	category string   // of the newest failure that had one
	// Room for the entries and lines of a jail with a small maxretry (add
	// holds maxretry+1 entries for a moment), so that a prefix costs one
	// allocation; more move onto the heap as appends do.
	entryRoom [inlineRetry + 1]failEntry
	lineRoom  [inlineRetry]string
}

// inlineRetry is the largest maxretry whose failures fit in a failures.
const inlineRetry = 5

func newFailures() *failures {
	fl := &failures{}
	fl.entries = fl.entryRoom[:0]
	fl.matches = fl.lineRoom[:0]
	return fl
}

// takeMatches returns the lines for a Decision, in a slice that does not
// keep fl alive.
func (fl *failures) takeMatches() []string {
	switch {
	case len(fl.matches) == 0:
		return []string{}
	case cap(fl.matches) > len(fl.lineRoom):
		return fl.matches // on the heap already
	}
	return slices.Clone(fl.matches)
}

type failEntry struct {
	t time.Time
	w int // weight: failures of a prefix banned before count more
}

func (fl *failures) newest() time.Time { return fl.entries[len(fl.entries)-1].t }

// add records a failure and trims what no window can need any more.
func (fl *failures) add(t time.Time, w int, j *jail) {
	if n := len(fl.entries); n == 0 || !t.Before(fl.entries[n-1].t) {
		fl.entries = append(fl.entries, failEntry{t, w}) // in order, as log lines come
	} else {
		i := sort.Search(n, func(i int) bool { return fl.entries[i].t.After(t) })
		fl.entries = slices.Insert(fl.entries, i, failEntry{t, w})
	}
	cutoff := fl.newest().Add(-j.maxFind)
	cut := 0
	for cut < len(fl.entries) && !fl.entries[cut].t.After(cutoff) {
		cut++
	}
	if n := len(fl.entries) - cut; n > j.maxRetry {
		cut += n - j.maxRetry
	}
	if cut > 0 {
		// Shift rather than reslice, so the backing array is reused.
		fl.entries = fl.entries[:copy(fl.entries, fl.entries[cut:])]
	}
}

// within returns the weight of the failures within d of the newest.
func (fl *failures) within(d time.Duration) int {
	cutoff := fl.newest().Add(-d)
	n := 0
	for i := len(fl.entries) - 1; i >= 0 && fl.entries[i].t.After(cutoff); i-- {
		n += fl.entries[i].w
	}
	return n
}

// reached returns the count of the first window whose count is reached.
func (fl *failures) reached(c *JailConfig) (int, bool) {
	if n := fl.within(c.FindTime); n >= c.MaxRetry {
		return n, true
	}
	for _, w := range c.Windows {
		if n := fl.within(w.FindTime); n >= w.MaxRetry {
			return n, true
		}
	}
	return 0, false
}

// Fail records a failure of addr in jail. It returns the outcome and the
// decisions it leads to: the ban of its prefix, and possibly the ban of a
// subnet and the bans of recidive jails.
func (e *Engine) Fail(jailName string, f Failure) (Outcome, []Decision, error) {
	j, ok := e.jails[jailName]
	if !ok {
		return 0, nil, fmt.Errorf("%w %q", ErrUnknownJail, jailName)
	}
	now := e.now()
	out, d := e.fail(j, f, now)
	if out != Banned {
		return out, nil, nil
	}
	return out, e.follow(j, []Decision{d}, now), nil
}

// fail records a failure at now; the Decision is the ban it leads to when
// the outcome is Banned.
func (e *Engine) fail(j *jail, f Failure, now time.Time) (Outcome, Decision) {
	addr := f.Addr.Unmap()
	if j.ignored(addr) {
		return Ignored, Decision{}
	}
	t := f.Time
	if t.IsZero() || t.After(now) {
		t = now
	}
	if !t.After(now.Add(-j.maxFind)) {
		return Stale, Decision{}
	}
	if j.banned(addr) != nil {
		return AlreadyBanned, Decision{}
	}
	p := j.prefixOf(addr)
	j.totalF++
	fl := j.fails[p]
	known := fl != nil
	var before time.Time // the newest failure before this one
	if known {
		before = fl.newest()
	} else {
		fl = newFailures()
	}
	fl.add(t, e.weight(j, p), j)
	if f.Line != "" {
		if len(fl.matches) == MaxMatches {
			fl.matches = fl.matches[:copy(fl.matches, fl.matches[1:])]
		}
		fl.matches = append(fl.matches, f.Line)
	}
	if f.Category != "" {
		fl.category = f.Category
	}
	n, ok := fl.reached(&j.cfg)
	if !ok {
		if known {
			j.failed.move(before, fl.newest())
		} else {
			j.fails[p] = fl
			j.failed.add(fl.newest())
		}
		return Counted, Decision{}
	}
	if known {
		j.dropFails(p, before)
	}
	d := e.ban(j, p, now, banInfo{failures: n, matches: fl.takeMatches(), category: fl.category})
	return Banned, d
}

// weight is how much one failure of p counts. As in fail2ban, with
// bantime.increment a failure of a prefix banned n times before counts
// 2^(n-1) times, at most maxretry.
func (e *Engine) weight(j *jail, p netip.Prefix) int {
	if j.cfg.Increment == nil {
		return 1
	}
	n := e.earlierBans(j, p)
	if n <= 1 {
		return 1
	}
	return min(1<<min(n-1, 20), j.cfg.MaxRetry)
}

// earlierBans counts the earlier bans of p that bantime.increment looks at.
func (e *Engine) earlierBans(j *jail, p netip.Prefix) int {
	h := e.history[p]
	return h.earlier(j)
}

// earlier counts the bans in h that bantime.increment looks at in j.
func (h *history) earlier(j *jail) int {
	jail := j.cfg.Name
	if j.cfg.Increment != nil && j.cfg.Increment.OverallJails {
		jail = ""
	}
	if t := h.tally(jail, false); t != nil {
		return t.count
	}
	return 0
}
