// Package engine decides when an address is banned and when its ban ends.
//
// The engine is pure: it performs no I/O, starts no goroutines and never reads
// the wall clock; the current time comes from the clock it is given. Callers
// feed it failures (from log lines) and manual requests and apply the
// Decisions it returns to the store and the firewall. It is not safe for
// concurrent use: one goroutine owns it.
package engine

import (
	"container/heap"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"time"
)

// Permanent, as a JailConfig.BanTime, bans until an explicit unban.
const Permanent time.Duration = -1

// MaxMatches is how many matched log lines a ban keeps as evidence.
const MaxMatches = 10

// JailConfig is the ban policy of one jail.
type JailConfig struct {
	Name     string
	MaxRetry int           // failures within FindTime that trigger a ban
	FindTime time.Duration // the window failures are counted in
	BanTime  time.Duration // how long a ban lasts; negative means permanent
	// Ignore lists prefixes that are never banned: ignoreip, plus the local
	// addresses when the jail has ignoreself.
	Ignore []netip.Prefix
}

func (c JailConfig) validate() error {
	switch {
	case c.Name == "":
		return errors.New("jail without a name")
	case c.MaxRetry < 1:
		return fmt.Errorf("jail %q: maxretry must be at least 1, not %d", c.Name, c.MaxRetry)
	case c.FindTime <= 0:
		return fmt.Errorf("jail %q: findtime must be positive, not %v", c.Name, c.FindTime)
	case c.BanTime == 0:
		return fmt.Errorf("jail %q: bantime must not be zero", c.Name)
	}
	return nil
}

// Failure is one failed attempt seen in a log.
type Failure struct {
	Addr netip.Addr
	Time time.Time // when the log says it happened; zero means now
	Line string    // the log line, kept as evidence
}

// Action says what a Decision does.
type Action int

// The actions a Decision can carry.
const (
	Ban Action = iota + 1
	Unban
)

func (a Action) String() string {
	switch a {
	case Ban:
		return "ban"
	case Unban:
		return "unban"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Reasons an Unban decision carries.
const (
	ReasonExpired     = "expired"
	ReasonUnbanned    = "unbanned"
	ReasonJailRemoved = "jail removed"
)

// Decision is a ban or unban the caller must record and enforce.
type Decision struct {
	Action   Action
	Jail     string
	Prefix   netip.Prefix
	Start    time.Time // Ban: when it starts
	End      time.Time // Ban: when it ends; zero means permanent
	Failures int       // Ban: the failures that led to it
	Matches  []string  // Ban: the last matched lines, oldest first
	Manual   bool      // Ban: requested by an operator
	Reason   string    // Unban: why it ends
}

// Permanent reports whether a Ban decision never expires.
func (d Decision) Permanent() bool { return d.End.IsZero() }

// Outcome classifies what a failure did.
type Outcome int

// The outcomes of Engine.Fail.
const (
	Counted       Outcome = iota + 1 // recorded, below maxretry
	Banned                           // triggered a ban
	Ignored                          // the address is on the jail's ignore list
	Stale                            // older than findtime: not counted
	AlreadyBanned                    // the address is banned already
)

func (o Outcome) String() string {
	switch o {
	case Counted:
		return "counted"
	case Banned:
		return "banned"
	case Ignored:
		return "ignored"
	case Stale:
		return "stale"
	case AlreadyBanned:
		return "already banned"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// ErrUnknownJail is returned for a jail the engine is not configured with.
var ErrUnknownJail = errors.New("unknown jail")

// ErrIgnored is returned when a manual ban targets an ignored address.
var ErrIgnored = errors.New("address is on the jail's ignore list")

// ActiveBan is an active ban as the engine knows it.
type ActiveBan struct {
	Jail     string
	Prefix   netip.Prefix
	Start    time.Time
	End      time.Time // zero means permanent
	Failures int
	Manual   bool
}

// JailStats are a jail's counters.
type JailStats struct {
	CurrentlyFailed int // addresses with failures inside findtime
	TotalFailed     int // failures counted since start
	CurrentlyBanned int
	TotalBanned     int // bans since start, restored ones included
}

type failures struct {
	times   []time.Time // ascending, at most MaxRetry, all within FindTime of the newest
	matches []string    // last MaxMatches lines
}

type jail struct {
	cfg    JailConfig
	fails  map[netip.Addr]*failures
	bans   map[netip.Prefix]*banEntry
	wide   int // number of bans that are not single addresses
	totalF int
	totalB int
}

type banEntry struct {
	ActiveBan
	index int // in the expiry heap; -1 when not in it
}

// Engine holds the failure windows and active bans of every jail.
type Engine struct {
	now    func() time.Time
	jails  map[string]*jail
	expiry expiryHeap
}

// New returns an engine reading time from now.
func New(now func() time.Time) *Engine {
	return &Engine{now: now, jails: make(map[string]*jail)}
}

// Configure sets the jails. Jails that remain keep their failures and bans
// (a reload loses nothing); jails no longer listed are dropped, and the
// returned decisions unban what they had banned.
func (e *Engine) Configure(cfgs []JailConfig) ([]Decision, error) {
	seen := make(map[string]bool, len(cfgs))
	for _, c := range cfgs {
		if err := c.validate(); err != nil {
			return nil, err
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("jail %q configured twice", c.Name)
		}
		seen[c.Name] = true
	}
	var out []Decision
	for name, j := range e.jails {
		if seen[name] {
			continue
		}
		for _, b := range j.bans {
			e.removeBan(j, b)
			out = append(out, Decision{Action: Unban, Jail: name, Prefix: b.Prefix, Reason: ReasonJailRemoved})
		}
		delete(e.jails, name)
	}
	for _, c := range cfgs {
		c.Ignore = slices.Clone(c.Ignore)
		if j, ok := e.jails[c.Name]; ok {
			j.cfg = c
			continue
		}
		e.jails[c.Name] = &jail{
			cfg:   c,
			fails: make(map[netip.Addr]*failures),
			bans:  make(map[netip.Prefix]*banEntry),
		}
	}
	sortDecisions(out)
	return out, nil
}

// Jails returns the configured jail names, sorted.
func (e *Engine) Jails() []string {
	names := make([]string, 0, len(e.jails))
	for n := range e.jails {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Fail records a failure of addr in jail. It returns the outcome and, when
// the failure triggers a ban, the Ban decision.
func (e *Engine) Fail(jailName string, f Failure) (Outcome, *Decision, error) {
	j, ok := e.jails[jailName]
	if !ok {
		return 0, nil, fmt.Errorf("%w %q", ErrUnknownJail, jailName)
	}
	addr := f.Addr.Unmap()
	if j.ignored(addr) {
		return Ignored, nil, nil
	}
	now := e.now()
	t := f.Time
	if t.IsZero() || t.After(now) {
		t = now
	}
	if !t.After(now.Add(-j.cfg.FindTime)) {
		return Stale, nil, nil
	}
	if j.banned(addr) != nil {
		return AlreadyBanned, nil, nil
	}
	j.totalF++
	fl := j.fails[addr]
	if fl == nil {
		fl = &failures{
			times:   make([]time.Time, 0, min(j.cfg.MaxRetry, 16)),
			matches: make([]string, 0, min(j.cfg.MaxRetry, MaxMatches)),
		}
		j.fails[addr] = fl
	}
	fl.add(t, f.Line, j.cfg)
	if len(fl.times) < j.cfg.MaxRetry {
		return Counted, nil, nil
	}
	delete(j.fails, addr)
	// The failures are forgotten: the decision can take their lines.
	d := e.ban(j, netip.PrefixFrom(addr, addr.BitLen()), now, len(fl.times), fl.matches, false)
	return Banned, &d, nil
}

// add inserts t keeping times ascending and only the newest MaxRetry of
// those within FindTime of the newest.
func (fl *failures) add(t time.Time, line string, cfg JailConfig) {
	if n := len(fl.times); n == 0 || !t.Before(fl.times[n-1]) {
		fl.times = append(fl.times, t) // in order, as log lines come
	} else {
		i := sort.Search(n, func(i int) bool { return fl.times[i].After(t) })
		fl.times = slices.Insert(fl.times, i, t)
	}
	newest := fl.times[len(fl.times)-1]
	cut := 0
	for cut < len(fl.times) && !fl.times[cut].After(newest.Add(-cfg.FindTime)) {
		cut++
	}
	if n := len(fl.times) - cut; n > cfg.MaxRetry {
		cut += n - cfg.MaxRetry
	}
	if cut > 0 {
		// Shift rather than reslice, so the backing array is reused.
		fl.times = fl.times[:copy(fl.times, fl.times[cut:])]
	}
	if line != "" {
		if len(fl.matches) == MaxMatches {
			fl.matches = fl.matches[:copy(fl.matches, fl.matches[1:])]
		}
		fl.matches = append(fl.matches, line)
	}
}

// BanRequest is an operator's request to ban a prefix.
type BanRequest struct {
	Jail   string
	Prefix netip.Prefix
	// Force bans even an address on the jail's ignore list.
	Force bool
}

// ManualBan bans a prefix on request. Banning what is banned already
// refreshes the ban's end.
func (e *Engine) ManualBan(r BanRequest) (Decision, error) {
	j, ok := e.jails[r.Jail]
	if !ok {
		return Decision{}, fmt.Errorf("%w %q", ErrUnknownJail, r.Jail)
	}
	p := canonical(r.Prefix)
	if !r.Force && j.ignoredPrefix(p) {
		return Decision{}, fmt.Errorf("%v in jail %q: %w (use --force to ban it anyway)", p, r.Jail, ErrIgnored)
	}
	for a := range j.fails {
		if p.Contains(a) {
			delete(j.fails, a)
		}
	}
	return e.ban(j, p, e.now(), 0, nil, true), nil
}

func (e *Engine) ban(j *jail, p netip.Prefix, now time.Time, failures int, matches []string, manual bool) Decision {
	if old, ok := j.bans[p]; ok {
		e.removeBan(j, old)
	}
	b := &banEntry{ActiveBan: ActiveBan{Jail: j.cfg.Name, Prefix: p, Start: now, Failures: failures, Manual: manual}, index: -1}
	if j.cfg.BanTime > 0 {
		b.End = now.Add(j.cfg.BanTime)
	}
	e.addBan(j, b)
	j.totalB++
	return Decision{
		Action: Ban, Jail: j.cfg.Name, Prefix: p, Start: b.Start, End: b.End,
		Failures: failures, Matches: matches, Manual: manual,
	}
}

// Restore loads bans that were active before a restart. Bans that have
// ended by now are skipped; it returns how many were restored.
func (e *Engine) Restore(bans []ActiveBan) (int, error) {
	now := e.now()
	n := 0
	for _, rb := range bans {
		j, ok := e.jails[rb.Jail]
		if !ok {
			return n, fmt.Errorf("restoring ban of %v: %w %q", rb.Prefix, ErrUnknownJail, rb.Jail)
		}
		if !rb.End.IsZero() && !rb.End.After(now) {
			continue
		}
		rb.Prefix = canonical(rb.Prefix)
		if old, ok := j.bans[rb.Prefix]; ok {
			e.removeBan(j, old)
		}
		e.addBan(j, &banEntry{ActiveBan: rb, index: -1})
		j.totalB++
		n++
	}
	return n, nil
}

// Unban ends the bans of jail (every jail when jail is "") that equal the
// prefix or, for a single address, contain it.
func (e *Engine) Unban(jailName string, p netip.Prefix) ([]Decision, error) {
	p = canonical(p)
	var js []*jail
	if jailName == "" {
		for _, n := range e.Jails() {
			js = append(js, e.jails[n])
		}
	} else {
		j, ok := e.jails[jailName]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownJail, jailName)
		}
		js = []*jail{j}
	}
	var out []Decision
	for _, j := range js {
		for _, b := range j.bans {
			if b.Prefix == p || (p.IsSingleIP() && b.Prefix.Contains(p.Addr())) {
				e.removeBan(j, b)
				out = append(out, Decision{Action: Unban, Jail: j.cfg.Name, Prefix: b.Prefix, Reason: ReasonUnbanned})
			}
		}
		// An unbanned address starts with a clean slate.
		for a := range j.fails {
			if p.Contains(a) {
				delete(j.fails, a)
			}
		}
	}
	sortDecisions(out)
	return out, nil
}

// UnbanAll ends every ban of every jail.
func (e *Engine) UnbanAll() []Decision {
	var out []Decision
	for _, j := range e.jails {
		for _, b := range j.bans {
			e.removeBan(j, b)
			out = append(out, Decision{Action: Unban, Jail: j.cfg.Name, Prefix: b.Prefix, Reason: ReasonUnbanned})
		}
	}
	sortDecisions(out)
	return out
}

// Expire ends the bans whose time is up and forgets failures that fell out
// of their window.
func (e *Engine) Expire() []Decision {
	now := e.now()
	var out []Decision
	for len(e.expiry) > 0 && !e.expiry[0].End.After(now) {
		b := e.expiry[0]
		j := e.jails[b.Jail]
		e.removeBan(j, b)
		out = append(out, Decision{Action: Unban, Jail: b.Jail, Prefix: b.Prefix, End: b.End, Reason: ReasonExpired})
	}
	for _, j := range e.jails {
		cutoff := now.Add(-j.cfg.FindTime)
		for a, fl := range j.fails {
			if !fl.times[len(fl.times)-1].After(cutoff) {
				delete(j.fails, a)
			}
		}
	}
	sortDecisions(out)
	return out
}

// NextExpiry returns when the next ban ends, and false when no ban is due
// to end.
func (e *Engine) NextExpiry() (time.Time, bool) {
	if len(e.expiry) == 0 {
		return time.Time{}, false
	}
	return e.expiry[0].End, true
}

// Stats returns the counters of a jail.
func (e *Engine) Stats(jailName string) (JailStats, error) {
	j, ok := e.jails[jailName]
	if !ok {
		return JailStats{}, fmt.Errorf("%w %q", ErrUnknownJail, jailName)
	}
	cutoff := e.now().Add(-j.cfg.FindTime)
	cur := 0
	for _, fl := range j.fails {
		if fl.times[len(fl.times)-1].After(cutoff) {
			cur++
		}
	}
	return JailStats{CurrentlyFailed: cur, TotalFailed: j.totalF, CurrentlyBanned: len(j.bans), TotalBanned: j.totalB}, nil
}

// Bans returns the active bans of a jail (of every jail when jail is ""),
// sorted by jail and prefix.
func (e *Engine) Bans(jailName string) ([]ActiveBan, error) {
	var out []ActiveBan
	for name, j := range e.jails {
		if jailName != "" && name != jailName {
			continue
		}
		for _, b := range j.bans {
			out = append(out, b.ActiveBan)
		}
	}
	if jailName != "" {
		if _, ok := e.jails[jailName]; !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownJail, jailName)
		}
	}
	slices.SortFunc(out, func(a, b ActiveBan) int {
		if a.Jail != b.Jail {
			if a.Jail < b.Jail {
				return -1
			}
			return 1
		}
		return comparePrefix(a.Prefix, b.Prefix)
	})
	return out, nil
}

// BannedIn returns the active bans, in every jail, whose prefix contains addr.
func (e *Engine) BannedIn(addr netip.Addr) []ActiveBan {
	addr = addr.Unmap()
	var out []ActiveBan
	for _, n := range e.Jails() {
		for _, b := range e.jails[n].bans {
			if b.Prefix.Contains(addr) {
				out = append(out, b.ActiveBan)
			}
		}
	}
	return out
}

func (e *Engine) addBan(j *jail, b *banEntry) {
	j.bans[b.Prefix] = b
	if !b.Prefix.IsSingleIP() {
		j.wide++
	}
	if !b.End.IsZero() {
		heap.Push(&e.expiry, b)
	}
}

func (e *Engine) removeBan(j *jail, b *banEntry) {
	delete(j.bans, b.Prefix)
	if !b.Prefix.IsSingleIP() {
		j.wide--
	}
	if b.index >= 0 {
		heap.Remove(&e.expiry, b.index)
	}
}

func (j *jail) banned(addr netip.Addr) *banEntry {
	if b, ok := j.bans[netip.PrefixFrom(addr, addr.BitLen())]; ok {
		return b
	}
	if j.wide == 0 {
		return nil
	}
	for bits := addr.BitLen() - 1; bits >= 0; bits-- {
		p, _ := addr.Prefix(bits)
		if b, ok := j.bans[p]; ok {
			return b
		}
	}
	return nil
}

func (j *jail) ignored(addr netip.Addr) bool {
	for _, p := range j.cfg.Ignore {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ignoredPrefix reports whether banning p would ban an ignored address.
func (j *jail) ignoredPrefix(p netip.Prefix) bool {
	for _, ig := range j.cfg.Ignore {
		if ig.Overlaps(p) {
			return true
		}
	}
	return false
}

func canonical(p netip.Prefix) netip.Prefix {
	a := p.Addr()
	if a.Is4In6() {
		bits := p.Bits() - 96
		if bits < 0 {
			bits = 0
		}
		p = netip.PrefixFrom(a.Unmap(), bits)
	}
	return p.Masked()
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

func sortDecisions(ds []Decision) {
	slices.SortFunc(ds, func(a, b Decision) int {
		if a.Jail != b.Jail {
			if a.Jail < b.Jail {
				return -1
			}
			return 1
		}
		return comparePrefix(a.Prefix, b.Prefix)
	})
}

type expiryHeap []*banEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, k int) bool { return h[i].End.Before(h[k].End) }
func (h expiryHeap) Swap(i, k int) {
	h[i], h[k] = h[k], h[i]
	h[i].index = i
	h[k].index = k
}
func (h *expiryHeap) Push(x any) {
	b := x.(*banEntry)
	b.index = len(*h)
	*h = append(*h, b)
}
func (h *expiryHeap) Pop() any {
	old := *h
	b := old[len(old)-1]
	old[len(old)-1] = nil
	b.index = -1
	*h = old[:len(old)-1]
	return b
}
