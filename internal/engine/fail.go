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
type failures struct {
	entries  []failEntry
	matches  []string // last MaxMatches lines
	category string   // of the newest failure that had one
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
	out, d := e.fail(j, f)
	if d == nil {
		return out, nil, nil
	}
	ds := []Decision{*d}
	return out, e.follow(j, ds), nil
}

func (e *Engine) fail(j *jail, f Failure) (Outcome, *Decision) {
	addr := f.Addr.Unmap()
	if j.ignored(addr) {
		return Ignored, nil
	}
	now := e.now()
	t := f.Time
	if t.IsZero() || t.After(now) {
		t = now
	}
	if !t.After(now.Add(-j.maxFind)) {
		return Stale, nil
	}
	if j.banned(addr) != nil {
		return AlreadyBanned, nil
	}
	p := j.prefixOf(addr)
	j.totalF++
	fl := j.fails[p]
	if fl == nil {
		fl = &failures{
			entries: make([]failEntry, 0, min(j.maxRetry, 16)),
			matches: make([]string, 0, min(j.maxRetry, MaxMatches)),
		}
		j.fails[p] = fl
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
		return Counted, nil
	}
	delete(j.fails, p)
	// The failures are forgotten: the decision can take their lines.
	d := e.ban(j, p, now, banInfo{failures: n, matches: fl.matches, category: fl.category})
	return Banned, &d
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
	k := histKey{j.cfg.Name, p}
	if j.cfg.Increment != nil && j.cfg.Increment.OverallJails {
		k.jail = ""
	}
	if h := e.history[k]; h != nil {
		return h.count
	}
	return 0
}
