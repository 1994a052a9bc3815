package engine

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/gaol-project/gaol/internal/netprefix"
)

// failures are the recent failures of one prefix: the newest ones within
// the jail's longest window, oldest first. Every window ends at the newest
// failure, so the newest maxRetry entries are all any window can need.
//
// A failures must not be copied: its slices start in its own arrays.
type failures struct {
	// ignoreGen is the jail's ignoreGen when its ignore set last found
	// the prefix free of ignored addresses, and slot fl's index in the
	// jail's fails. (32 bits each keep a failures of maxretry 5 in 320
	// bytes.)
	ignoreGen uint32
	slot      int32
	entries   []failEntry
	matches   []string    // last MaxMatches lines
	category  string      // of the newest failure that had one
	info      *prefixInfo // of the prefix
	// Room for the entries and lines of a jail with a small maxretry, so
	// that a prefix costs one allocation; more move onto the heap as
	// appends do.
	entryRoom [inlineRetry]failEntry
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

// result returns d, the ban fl led to, as Fail returns it, with fl's lines
// as its Matches. They stay where fl keeps them, as the engine drops fl at
// the ban: copying them would cost more than keeping fl for as long as
// the caller keeps d.
func (fl *failures) result(d Decision) []Decision {
	if n := len(fl.matches); n == 0 {
		d.Matches = []string{}
	} else {
		d.Matches = fl.matches[:n:n]
	}
	return []Decision{d}
}

type failEntry struct {
	t time.Time
	w int // weight: failures of a prefix banned before count more
}

func (fl *failures) newest() time.Time { return fl.entries[len(fl.entries)-1].t }

// add records a failure and trims what no window can need any more. It
// returns the start of the jail's longest window, which ends at the
// newest failure.
func (fl *failures) add(t time.Time, w int, j *jail) time.Time {
	if n := len(fl.entries); n > 0 && t.Before(fl.entries[n-1].t) {
		// Out of order: the newest failure, and so the windows, stay.
		i := sort.Search(n, func(i int) bool { return fl.entries[i].t.After(t) })
		fl.entries = slices.Insert(fl.entries, i, failEntry{t, w})
		cutoff := fl.newest().Add(-j.maxFind)
		fl.trim(cutoff, j.maxRetry)
		return cutoff
	}
	// In order, as log lines come: t is the newest. What the windows
	// ending at t cannot need goes before t comes, so that maxretry
	// entries take no more room. (t is within them: trimming after would
	// leave the same.)
	cutoff := t.Add(-j.maxFind)
	fl.trim(cutoff, j.maxRetry-1)
	fl.entries = append(fl.entries, failEntry{t, w})
	return cutoff
}

// trim drops the entries not after cutoff, then all but the newest keep.
func (fl *failures) trim(cutoff time.Time, keep int) {
	cut := 0
	for cut < len(fl.entries) && !fl.entries[cut].t.After(cutoff) {
		cut++
	}
	if n := len(fl.entries) - cut; n > keep {
		cut += n - keep
	}
	if cut > 0 {
		// Shift rather than reslice, so the backing array is reused.
		fl.entries = fl.entries[:copy(fl.entries, fl.entries[cut:])]
	}
}

// within returns the weight of the failures after cutoff.
func (fl *failures) within(cutoff time.Time) int {
	n := 0
	for i := len(fl.entries) - 1; i >= 0 && fl.entries[i].t.After(cutoff); i-- {
		n += fl.entries[i].w
	}
	return n
}

// reached returns the count of the first window of j whose count is
// reached; longest is the start of j's longest window, as add returned it.
func (fl *failures) reached(j *jail, longest time.Time) (int, bool) {
	// No window counts more than all the failures: below a window's
	// count, its failures need no looking at.
	all := 0
	for _, e := range fl.entries {
		all += e.w
	}
	start := func(d time.Duration) time.Time {
		if d == j.maxFind {
			return longest
		}
		return fl.newest().Add(-d)
	}
	c := &j.cfg
	if all >= c.MaxRetry {
		if n := fl.within(start(c.FindTime)); n >= c.MaxRetry {
			return n, true
		}
	}
	for _, w := range c.Windows {
		if all < w.MaxRetry {
			continue
		}
		if n := fl.within(start(w.FindTime)); n >= w.MaxRetry {
			return n, true
		}
	}
	return 0, false
}

// Fail records a failure of addr in jail. It returns the outcome and the
// decisions it leads to: the ban of its prefix, and possibly the ban of a
// subnet and the bans of recidive jails.
func (e *Engine) Fail(jailName string, f Failure) (Outcome, []Decision, error) {
	j := e.last
	if j == nil || j.cfg.Name != jailName {
		var ok bool
		if j, ok = e.jails[jailName]; !ok {
			return 0, nil, fmt.Errorf("%w %q", ErrUnknownJail, jailName)
		}
		e.last = j
	}
	now := e.now()
	out, ds := e.fail(j, f, now)
	if out != Banned {
		return out, nil, nil
	}
	return out, e.follow(j, ds, now), nil
}

// fail records a failure at now; when the outcome is Banned, it returns
// the ban's Decision, alone in a slice of capacity 1.
func (e *Engine) fail(j *jail, f Failure, now time.Time) (Outcome, []Decision) {
	addr := f.Addr.Unmap()
	t := f.Time
	if t.IsZero() || t.After(now) {
		t = now
	}
	if !t.After(j.since(now)) {
		if j.ignored(addr) {
			return Ignored, nil // which goes before Stale
		}
		return Stale, nil
	}
	a := netprefix.From16(addr)
	k := j.jailKey(addr, a)
	pi := e.info(k)
	st := pi.state(j)
	// Failures of k counted under the jail's ignore set as it is say that
	// the set holds no address of k (see IgnoreSet), so neither addr nor
	// the prefix need asking it about again.
	clean := st != nil && st.fl != nil && st.fl.ignoreGen == j.ignoreGen
	if !clean && j.ignored(addr) {
		return Ignored, nil
	}
	if e.banned(j, addr, a, k, pi) != nil {
		return AlreadyBanned, nil
	}
	if !clean && j.overIgnored(k) {
		k = hostKey(addr, a)
		pi = e.info(k)
		st = pi.state(j)
	}
	if pi == nil {
		pi = e.newInfo(k) // not addInfo: pi is the lookup of k already
	}
	if st == nil {
		st = pi.addState(j)
	}
	j.totalF++
	fl := st.fl
	known := fl != nil
	var before time.Time // the newest failure before this one
	if known {
		before = fl.newest()
	} else {
		fl = newFailures()
	}
	longest := fl.add(t, e.weight(j, pi), j)
	fl.ignoreGen = j.ignoreGen
	if f.Line != "" {
		if len(fl.matches) == MaxMatches {
			fl.matches = fl.matches[:copy(fl.matches, fl.matches[1:])]
		}
		fl.matches = append(fl.matches, f.Line)
	}
	if f.Category != "" {
		fl.category = f.Category
	}
	n, ok := fl.reached(j, longest)
	if !ok {
		if known {
			j.failed.move(before, fl.newest())
		} else {
			j.addFails(pi, st, fl)
		}
		return Counted, nil
	}
	if known {
		j.unlinkFails(fl, before)
		st.fl = nil
	}
	// The prefix is not banned in j: banned would have found it.
	d := e.newBan(j, pi, st, k, now, banInfo{failures: n, category: fl.category})
	return Banned, fl.result(d)
}

// since returns now - j.maxFind: failures before are stale. It keeps the
// latest answer, as the clock stands still while a batch of lines is
// handled.
func (j *jail) since(now time.Time) time.Time {
	if !j.sinceOK || now != j.sinceNow {
		j.sinceNow, j.sinceCut, j.sinceOK = now, now.Add(-j.maxFind), true
	}
	return j.sinceCut
}

// weight is how much one failure of the prefix pi counts. As in
// fail2ban, with bantime.increment a failure of a prefix banned n times
// before counts 2^(n-1) times, at most maxretry.
func (e *Engine) weight(j *jail, pi *prefixInfo) int {
	if j.cfg.Increment == nil {
		return 1
	}
	n := pi.hist.earlier(j)
	if n <= 1 {
		return 1
	}
	return min(1<<min(n-1, 20), j.cfg.MaxRetry)
}

// earlier counts the bans in h that bantime.increment looks at in j.
func (h *history) earlier(j *jail) int {
	jail := j.cfg.Name
	if j.cfg.Increment != nil && j.cfg.Increment.OverallJails {
		jail = ""
	}
	if n := h.tally(jail, false); n != nil {
		return *n
	}
	return 0
}
