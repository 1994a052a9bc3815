// Package engine decides when an address is banned and when its ban ends.
//
// The engine is pure: it performs no I/O, starts no goroutines and never reads
// the wall clock; the current time comes from the clock it is given (and the
// randomness of bantime.rndtime from the source it is given). Callers feed it
// failures (from log lines) and manual requests and apply the Decisions it
// returns to the store and the firewall. It is not safe for concurrent use:
// one goroutine owns it.
//
// Policy, per jail: failures are counted per prefix (the whole IPv4 address
// and the IPv6 /64 by default) and a prefix is banned when MaxRetry of them
// fall within FindTime, or the count of any extra Window is reached (slow
// attacks). With Increment, each ban of a prefix lasts longer than the one
// before (fail2ban's bantime.increment), and failures of a prefix banned
// before count more. With Subnet, a wider prefix is banned when enough of its
// addresses were banned within a window. A Recidive jail counts the bans of
// the other jails as its failures.
package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/gaol-project/gaol/internal/netprefix"
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
	// Windows are extra windows, each banning on its own count: 20
	// failures in a day catch an attacker who stays under 5 in 10 minutes.
	Windows []Window
	// Prefix4 and Prefix6 are the prefix lengths failures are counted and
	// banned by; 0 means the whole address.
	Prefix4, Prefix6 int
	// Ignore holds the addresses never banned: ignoreip, the local
	// addresses when the jail has ignoreself, logged-in administrators.
	// Nil ignores nothing.
	Ignore IgnoreSet
	// Increment, if set, makes repeated bans of a prefix longer.
	Increment *Increment
	// Subnet, if set, bans a whole subnet when enough of its addresses
	// are banned.
	Subnet *SubnetRule
	// Recidive jails count the bans of the other jails as failures.
	Recidive bool
}

// IgnoreSet holds the addresses a jail never bans. Overlaps(p) must
// report true if Contains does for an address of p. A set must not change
// while a jail has it: the engine remembers which prefixes it found free
// of ignored addresses, and asks again about their addresses only after
// SetIgnore or Configure gives the jail a set.
type IgnoreSet interface {
	Contains(netip.Addr) bool
	Overlaps(netip.Prefix) bool
}

// Window is a (maxretry, findtime) pair.
type Window struct {
	MaxRetry int
	FindTime time.Duration
}

// Formula computes a ban time in seconds from the jail's ban time in
// seconds, the number of earlier bans and the factor.
type Formula func(banTime float64, count int, factor float64) (float64, error)

// DefaultFormula is fail2ban's default bantime.formula,
// ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor.
func DefaultFormula(banTime float64, count int, factor float64) (float64, error) {
	return banTime * float64(int64(1)<<min(max(count, 0), 20)) * factor, nil
}

// Increment is fail2ban's bantime.increment.
type Increment struct {
	Formula     Formula   // nil: DefaultFormula (unless Multipliers are set)
	Factor      float64   // banFactor; 0 means 1
	Multipliers []float64 // if set, ban time = BanTime * Multipliers[count]; the last repeats
	MaxTime     time.Duration
	RndTime     time.Duration
	// OverallJails counts the earlier bans of a prefix in every jail, not
	// only this one.
	OverallJails bool
}

// SubnetRule bans a subnet once Count of its prefixes were banned within
// Window.
type SubnetRule struct {
	Count        int
	Window       time.Duration
	Bits4, Bits6 int // subnet sizes; 0 means /24 and /48
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
	case c.Prefix4 < 0 || c.Prefix4 > 32:
		return fmt.Errorf("jail %q: IPv4 ban prefix /%d is not within /0 to /32", c.Name, c.Prefix4)
	case c.Prefix6 < 0 || c.Prefix6 > 128:
		return fmt.Errorf("jail %q: IPv6 ban prefix /%d is not within /0 to /128", c.Name, c.Prefix6)
	}
	for _, w := range c.Windows {
		if w.MaxRetry < 1 || w.FindTime <= 0 {
			return fmt.Errorf("jail %q: window %d/%v: needs a positive count and duration", c.Name, w.MaxRetry, w.FindTime)
		}
	}
	if s := c.Subnet; s != nil {
		if s.Count < 2 || s.Window <= 0 {
			return fmt.Errorf("jail %q: subnet escalation needs a count of at least 2 and a positive window", c.Name)
		}
		b4, b6 := s.bits()
		if b4 < 1 || b4 >= 32 || b6 < 1 || b6 >= 128 {
			return fmt.Errorf("jail %q: subnet prefixes /%d and /%d are out of range", c.Name, b4, b6)
		}
	}
	if inc := c.Increment; inc != nil {
		if inc.Factor < 0 || inc.MaxTime < 0 || inc.RndTime < 0 {
			return fmt.Errorf("jail %q: bantime.factor, maxtime and rndtime must not be negative", c.Name)
		}
		for _, m := range inc.Multipliers {
			if m <= 0 {
				return fmt.Errorf("jail %q: bantime.multipliers must be positive", c.Name)
			}
		}
	}
	return nil
}

func (s *SubnetRule) bits() (int, int) {
	b4, b6 := s.Bits4, s.Bits6
	if b4 == 0 {
		b4 = 24
	}
	if b6 == 0 {
		b6 = 48
	}
	return b4, b6
}

// Failure is one failed attempt seen in a log.
type Failure struct {
	Addr     netip.Addr
	Time     time.Time // when the log says it happened; zero means now
	Line     string    // the log line, kept as evidence
	Category string    // what kind of attack, if the filter says
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
	Count    int       // Ban: the how-manieth ban of this prefix it is (1 = first)
	Category string    // Ban: what kind of attack, from the last failure
	Reason   string    // Ban: why, for bans not caused by failures; Unban: why it ends
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
	Count    int
	Category string
}

// BanCount is how often a prefix was banned in a jail, for
// bantime.increment across restarts.
type BanCount struct {
	Jail   string
	Prefix netip.Prefix
	Count  int
	Last   time.Time // start of the latest ban (the engine uses only Count)
}

// JailStats are a jail's counters.
type JailStats struct {
	CurrentlyFailed int // prefixes with failures inside findtime
	TotalFailed     int // failures counted since start
	CurrentlyBanned int
	TotalBanned     int // bans since start, restored ones included
}

// jail is one jail's configuration and state. Its failures and bans are
// also found by prefix, in the engine's prefixes.
type jail struct {
	cfg     JailConfig
	fails   []*failures // the failures of each prefix failing; fails[i].slot == i
	bans    []*banEntry // bans[i].slot == i
	singles int         // bans of single addresses
	wide    []wideBans  // bans that are not single addresses, by prefix length (sorted by wideKey)
	subnets map[netip.Prefix][]subnetHit
	totalF  int
	totalB  int
	failed  failedCount // CurrentlyFailed, kept up to date as fails changes
	// ignoreGen counts the ignore sets the jail had: failures know which
	// set last found their prefix free of ignored addresses.
	ignoreGen uint32
	// since's latest answer
	sinceNow, sinceCut time.Time
	sinceOK            bool
	// derived from cfg
	maxFind  time.Duration // longest window
	maxRetry int           // largest count of any window
}

type banEntry struct {
	ActiveBan
	info  *prefixInfo // of Prefix
	slot  int         // in the jail's bans
	index int         // in the expiry heap; -1 when not in it
}

// history is how often one prefix was banned: in every jail and in each.
// The first jail is kept inline: most prefixes are banned by one jail
// only, and then the history takes no allocation of its own.
type history struct {
	all   int
	first jailTally   // jail "" until the first ban
	more  []jailTally // the other jails
}

type jailTally struct {
	jail  string
	count int
}

// tally returns the ban count of jail ("" = every jail), adding one if
// add is set, or nil. The pointer is into h.
func (h *history) tally(jail string, add bool) *int {
	switch {
	case jail == "":
		return &h.all
	case h.first.jail == jail:
		return &h.first.count
	}
	for i := range h.more {
		if h.more[i].jail == jail {
			return &h.more[i].count
		}
	}
	switch {
	case !add:
		return nil
	case h.first.jail == "":
		h.first.jail = jail
		return &h.first.count
	}
	h.more = append(h.more, jailTally{jail: jail})
	return &h.more[len(h.more)-1].count
}

// empty reports whether h holds no count at all.
func (h *history) empty() bool { return h.all == 0 && h.first.jail == "" && h.more == nil }

// Engine holds the failure windows, active bans and ban history of every
// jail.
type Engine struct {
	now    func() time.Time
	rand   func() float64
	jails  map[string]*jail
	expiry expiryHeap
	// prefixes holds every prefix that fails or is banned in a jail, or
	// was banned before.
	prefixes prefixIndex
	// recidive are the recidive jails, sorted by name.
	recidive []*jail
	last     *jail // the jail of the latest Fail
}

// New returns an engine reading time from now.
func New(now func() time.Time) *Engine {
	return &Engine{now: now, rand: rand.Float64, jails: make(map[string]*jail)}
}

// SetRand sets the source of randomness for bantime.rndtime: a function
// returning numbers in [0, 1).
func (e *Engine) SetRand(f func() float64) { e.rand = f }

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
		for len(j.bans) > 0 {
			b := j.bans[len(j.bans)-1]
			e.removeBan(j, b)
			out = append(out, Decision{Action: Unban, Jail: name, Prefix: b.Prefix, Reason: ReasonJailRemoved})
		}
		e.dropAllFails(j)
		delete(e.jails, name)
	}
	for _, c := range cfgs {
		c.Windows = slices.Clone(c.Windows)
		j, ok := e.jails[c.Name]
		if !ok {
			j = &jail{subnets: make(map[netip.Prefix][]subnetHit)}
			e.jails[c.Name] = j
		} else if c.Prefix4 != j.cfg.Prefix4 || c.Prefix6 != j.cfg.Prefix6 {
			// Failures counted by other prefixes cannot be carried over.
			e.dropAllFails(j)
		}
		j.failed.invalidate()
		j.cfg = c
		j.ignoreGen++
		j.sinceOK = false
		j.maxFind, j.maxRetry = c.FindTime, c.MaxRetry
		for _, w := range c.Windows {
			j.maxFind = max(j.maxFind, w.FindTime)
			j.maxRetry = max(j.maxRetry, w.MaxRetry)
		}
	}
	e.recidive, e.last = nil, nil
	for _, name := range e.Jails() {
		if j := e.jails[name]; j.cfg.Recidive {
			e.recidive = append(e.recidive, j)
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

// Stats returns the counters of a jail.
func (e *Engine) Stats(jailName string) (JailStats, error) {
	j, ok := e.jails[jailName]
	if !ok {
		return JailStats{}, fmt.Errorf("%w %q", ErrUnknownJail, jailName)
	}
	cur := j.currentlyFailed(e.now().Add(-j.cfg.FindTime))
	return JailStats{CurrentlyFailed: cur, TotalFailed: j.totalF, CurrentlyBanned: len(j.bans), TotalBanned: j.totalB}, nil
}

// Bans returns the active bans of a jail (of every jail when jail is ""),
// sorted by jail and prefix.
func (e *Engine) Bans(jailName string) ([]ActiveBan, error) {
	if jailName != "" {
		if _, ok := e.jails[jailName]; !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownJail, jailName)
		}
	}
	var out []ActiveBan
	for name, j := range e.jails {
		if jailName != "" && name != jailName {
			continue
		}
		for _, b := range j.bans {
			out = append(out, b.ActiveBan)
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

// BanCount returns how often prefix was banned in jail ("" = in every
// jail) since the history began.
func (e *Engine) BanCount(jail string, p netip.Prefix) int {
	if pi := e.info(keyOf(canonical(p))); pi != nil {
		if n := pi.hist.tally(jail, false); n != nil {
			return *n
		}
	}
	return 0
}

// RestoreHistory loads ban counts kept across restarts, for
// bantime.increment. Counts add to what the engine has.
func (e *Engine) RestoreHistory(counts []BanCount) {
	for _, c := range counts {
		pi := e.addInfo(keyOf(canonical(c.Prefix)))
		// Jail "" is the tally of every jail: such a count adds to it
		// twice, as it always has.
		for _, jail := range [2]string{c.Jail, ""} {
			*pi.hist.tally(jail, true) += c.Count
		}
		e.release(pi)
	}
}

// jailKey returns the key of the prefix of addr, whose number is a, that
// the jail counts failures by, unless that prefix would take in an
// ignored address (see overIgnored).
func (j *jail) jailKey(addr netip.Addr, a netprefix.U128) pkey {
	bits := 0
	switch {
	case addr.Is4():
		bits = j.cfg.Prefix4
		if bits != 0 {
			bits += 96
		}
	case addr.Is6():
		bits = j.cfg.Prefix6
	default:
		return pkey{n: invalidLen}
	}
	if bits == 0 {
		return pkey{a, 128}
	}
	return pkey{a.Masked(bits), uint8(bits)}
}

// overIgnored reports whether k, a key jailKey returned, is of a prefix
// wider than an address that would take in an ignored address: then
// failures are counted and banned by address.
func (j *jail) overIgnored(k pkey) bool {
	return k.n < 128 && j.ignoredPrefix(k.prefix())
}

// banned returns a ban of j that holds addr, whose number is a, or nil:
// the ban of the address itself, else the widest. The caller has looked
// up the prefixInfo of k already: pi.
func (e *Engine) banned(j *jail, addr netip.Addr, a netprefix.U128, k pkey, pi *prefixInfo) *banEntry {
	if len(j.bans) == 0 {
		return nil
	}
	info := func(k2 pkey) *prefixInfo {
		if k2 == k {
			return pi
		}
		return e.info(k2)
	}
	if j.singles > 0 || !addr.IsValid() {
		if b := info(hostKey(addr, a)).banOf(j); b != nil {
			return b
		}
	}
	// Only the prefix lengths some ban has are looked up: a jail banning
	// IPv6 /64s looks up one more prefix per failure, not 127.
	lo, hi := 0, 128 // the lengths of wideKey that can hold addr
	switch {
	case addr.Is4():
		lo = 96
	case !addr.IsValid():
		hi = 0
	}
	for _, w := range j.wide {
		if w.key < lo || w.key >= hi {
			continue
		}
		if b := info(pkey{a.Masked(w.key), uint8(w.key)}).banOf(j); b != nil {
			return b
		}
	}
	return nil
}

// bannedIn returns a ban of j that holds addr, or nil, as banned does.
func (e *Engine) bannedIn(j *jail, addr netip.Addr) *banEntry {
	return e.banned(j, addr, netprefix.From16(addr), noKey, nil)
}

// wideBans counts a jail's bans of one prefix length.
type wideBans struct {
	key int // wideKey
	n   int
}

// countWide adds n to the count of bans of p's length, keeping j.wide
// sorted and free of zero counts.
func (j *jail) countWide(p netip.Prefix, n int) {
	k := wideKey(p)
	i := 0 // a jail bans prefixes of a few lengths at most
	for i < len(j.wide) && j.wide[i].key < k {
		i++
	}
	switch {
	case i == len(j.wide) || j.wide[i].key != k:
		j.wide = slices.Insert(j.wide, i, wideBans{k, n})
	case j.wide[i].n+n == 0:
		j.wide = slices.Delete(j.wide, i, i+1)
	default:
		j.wide[i].n += n
	}
}

// wideKey is the key of a prefix length in jail.wide: IPv6 lengths as
// they are, IPv4 lengths + 96, so that the widest prefixes of a family
// come first.
func wideKey(p netip.Prefix) int {
	if p.Addr().Is4() {
		return p.Bits() + 96
	}
	return p.Bits()
}

func (j *jail) ignored(addr netip.Addr) bool {
	return j.cfg.Ignore != nil && j.cfg.Ignore.Contains(addr)
}

// ignoredPrefix reports whether banning p would ban an ignored address.
func (j *jail) ignoredPrefix(p netip.Prefix) bool {
	return j.cfg.Ignore != nil && j.cfg.Ignore.Overlaps(p)
}

// SetIgnore replaces the ignore set of a jail, keeping everything else:
// host names in ignoreip resolve to new addresses, administrators log in.
func (e *Engine) SetIgnore(jailName string, set IgnoreSet) error {
	j, ok := e.jails[jailName]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownJail, jailName)
	}
	j.cfg.Ignore = set
	j.ignoreGen++
	return nil
}

func canonical(p netip.Prefix) netip.Prefix {
	c, _ := netprefix.Canonical(p)
	return c
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

func sortDecisions(ds []Decision) {
	slices.SortStableFunc(ds, func(a, b Decision) int {
		if a.Jail != b.Jail {
			if a.Jail < b.Jail {
				return -1
			}
			return 1
		}
		return comparePrefix(a.Prefix, b.Prefix)
	})
}
