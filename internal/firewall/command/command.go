// Package command runs fail2ban's action.d command actions as a ban
// backend: shell commands that start an action for a jail (actionstart),
// ban and unban one address (actionban, actionunban), check and repair the
// action (actioncheck, actionrepair), drop every ban at once (actionflush),
// prolong a ban (actionprolong) and stop (actionstop). firewalld, ufw,
// iptables without ipset, hosts.deny, mail and reporting services are all
// reached through their stock action.d files this way.
//
// Commands are written with fail2ban's tags. The action's own options
// ([Definition] and [Init], with the jail's parameters) are substituted
// first, recursively: <port>, <chain>, <iptables> and so on; an option
// "name?family=inet6" wins over "name" for IPv6 bans. Then the ban's
// values: <ip>, <family>, <ip-rev>, <ip-host>, <fid>, <failures>,
// <ipfailures>, <ipjailfailures>, <time>, <bantime>, <bancount>,
// <restored>, <matches>, <ipmatches>, <ipjailmatches> and <F-NAME> for the
// filter's named groups; <br> is a newline, <sp> a space, <fq-hostname>
// and <sh-hostname> this host's names. Tags that name nothing are left as
// they are. Values that come from log lines (<matches>, <F-*>, <fid>) or
// from DNS (<ip-host>) are never written into the shell text: each goes in
// an environment variable (GAOL_MATCHES, GAOL_F_USER, ...) and the tag
// becomes a reference to it, quoted for where it stands ("${GAOL_X}",
// ${GAOL_X} or '"${GAOL_X}"'), so no log line can run a command, as one
// could in fail2ban's CVE-2021-32749 (see shell.go).
//
// Commands run with /bin/sh -c in their own process group, killed when
// they outlast the action's timeout (60 s by default). As in fail2ban 1.0,
// actionban runs once per ban; the backend runs the bans of one call
// concurrently, a few at a time. A command that fails is retried once,
// after actioncheck (if the action has one) passed or repaired the action
// with actionrepair, or with actionstop and actionstart.
//
// Bans end when their timeout passes: unlike the kernel backends, the
// backend runs actionunban itself then, so it must keep running.
package command

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/netprefix"
)

// DefaultTimeout is how long a command may run when its action sets no
// timeout, as in fail2ban.
const DefaultTimeout = 60 * time.Second

// DefaultParallel is how many commands run at once when Options.Parallel
// is zero.
const DefaultParallel = 4

// ErrActionFailed is wrapped by the errors of commands that failed (after
// the check, repair and second try fail2ban makes). Running the bans
// again does not repair an action: a caller that resynchronises a
// firewall after errors may want to only log these.
var ErrActionFailed = errors.New("action command failed")

// ErrUnknownJail is wrapped by the errors of methods given a jail that the
// last Setup did not list.
var ErrUnknownJail = errors.New("unknown jail")

// Action is one action.d command action of one jail, as the configuration
// loaded it.
type Action struct {
	// Name names the action in logs (the action's name in the jail).
	Name string
	// The commands of the action's [Definition], with the configuration's
	// own %(name)s interpolation done and fail2ban's tags left in.
	Start, Stop, Check, Ban, Unban, Flush, Prolong string
	// Repair and Reban are the optional actionrepair and actionreban.
	Repair, Reban string
	// Init holds every other option the tags may name: the [Init] values
	// with the jail's parameters, the [Definition] options other than the
	// commands, conditional options as "name?family=inet6", and options of
	// other sections that tags refer to as "section/name" (as in
	// <ipt_<type>/_chain_rule>). "name" defaults to the jail's name;
	// "norestored", "actionstart_on_demand" and "actionrepair_on_unban"
	// work as in fail2ban.
	Init map[string]string
	// Timeout bounds each command; if zero, the "timeout" option in
	// seconds, else DefaultTimeout.
	Timeout time.Duration
}

// Info is a ban with what fail2ban's tags may show of it. Only Prefix is
// required.
type Info struct {
	Prefix netip.Prefix
	// Timeout is the time the ban has left; 0 = permanent. The backend
	// runs actionunban when it has passed.
	Timeout time.Duration
	// BanTime is the ban's whole length for <bantime> (in seconds, -1 for
	// a permanent ban); Timeout if zero.
	BanTime time.Duration
	// Time is when the ban started, for <time>; now if zero.
	Time time.Time
	// Failures is <failures>; IPFailures and IPJailFailures, if not zero,
	// are <ipfailures> and <ipjailfailures> (else Failures).
	Failures, IPFailures, IPJailFailures int
	// Matches are the matched log lines, <matches>; IPMatches and
	// IPJailMatches, if not nil, are <ipmatches> and <ipjailmatches>
	// (else Matches).
	Matches, IPMatches, IPJailMatches []string
	// Count is <bancount>, how many times the address was banned.
	Count int
	// ID is <fid>, the failure's identifier; the address if empty.
	ID string
	// Host is <ip-host>, the address's DNS name, if known.
	Host string
	// Fields are the filter's named groups, by lower-case name without
	// "F-": Fields["user"] is <F-USER>.
	Fields map[string]string
	// Restored marks a ban re-applied after a restart (<restored> is 1);
	// actions with norestored skip it.
	Restored bool
}

// Options configure New.
type Options struct {
	// Actions are the actions of each jail, by jail name. Jails without
	// actions are accepted and do nothing.
	Actions map[string][]Action
	// Shell runs the commands with -c; "/bin/sh" if empty.
	Shell string
	// Env is the commands' environment; os.Environ() if nil. Variables
	// named GAOL_* are dropped: the backend uses them for values.
	Env []string
	// Parallel bounds the commands running at once; DefaultParallel if
	// zero. 1 runs them one by one, as fail2ban does.
	Parallel int
	// KillGrace is how long a timed-out command has between SIGTERM and
	// SIGKILL; 5 s if zero.
	KillGrace time.Duration
	// Hostname is this host's fully qualified name for <fq-hostname> (and,
	// up to its first dot, <sh-hostname>); os.Hostname() if empty.
	Hostname string
	// Logger receives the commands run and their failures; slog.Default()
	// if nil.
	Logger *slog.Logger
	// Now and AfterFunc are the clock and timer of ban expiry; time.Now
	// and time.AfterFunc if nil.
	Now       func() time.Time
	AfterFunc func(time.Duration, func()) (stop func() bool)
}

// Backend runs the command actions of jails. Its methods may be called
// from several goroutines; they wait for the commands they run.
type Backend struct {
	mu        sync.Mutex
	actions   map[string][]Action
	jails     map[string]*jailRun
	order     []string // jails in Setup order
	run       *runner
	log       *slog.Logger
	now       func() time.Time
	afterFunc func(time.Duration, func()) func() bool
	local     func(string) (string, bool)
	parallel  int
	timer     func() bool // stops the pending expiry timer
	closed    bool
}

// jailRun is a jail's actions and the bans they hold.
type jailRun struct {
	name    string
	defs    []Action
	actions []*actionState
	bans    map[netip.Prefix]*knownBan
}

type knownBan struct {
	info     Info
	deadline time.Time // zero = permanent
	applied  []bool    // per action: banned (or skipped as restored)
}

// New returns a backend. It runs nothing: Setup starts the actions.
func New(opts Options) (*Backend, error) {
	shell := cmp.Or(opts.Shell, "/bin/sh")
	if _, err := exec.LookPath(shell); err != nil {
		return nil, fmt.Errorf("command actions: shell %s: %w", shell, err)
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	parallel := cmp.Or(opts.Parallel, DefaultParallel)
	if parallel < 1 {
		return nil, fmt.Errorf("command actions: Parallel %d must be positive", parallel)
	}
	b := &Backend{
		actions:   cloneActions(opts.Actions),
		jails:     make(map[string]*jailRun),
		run:       newRunner(shell, env, parallel, cmp.Or(opts.KillGrace, 5*time.Second)),
		log:       opts.Logger,
		now:       opts.Now,
		afterFunc: opts.AfterFunc,
		parallel:  parallel,
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.afterFunc == nil {
		b.afterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	fq := opts.Hostname
	if fq == "" {
		fq, _ = os.Hostname()
	}
	short, _, _ := strings.Cut(fq, ".")
	b.local = func(tag string) (string, bool) {
		switch tag {
		case "br":
			return "\n", true
		case "sp":
			return " ", true
		case "fq-hostname":
			return fq, true
		case "sh-hostname":
			return short, true
		}
		return "", false
	}
	return b, nil
}

func cloneActions(m map[string][]Action) map[string][]Action {
	out := make(map[string][]Action, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// SetActions replaces the actions of every jail, on a configuration
// reload. They take effect at the next Setup.
func (b *Backend) SetActions(actions map[string][]Action) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.actions = cloneActions(actions)
}

// Setup starts the actions of the given jails (actionstart, except for
// actions that start on demand). On a reload, jails no longer listed are
// stopped (their bans flushed or unbanned one by one, then actionstop),
// jails whose actions are unchanged keep running, and jails whose actions
// changed are stopped and started with the new ones, which then ban the
// jail's current bans again as restored bans. Errors are returned
// together; the jails are set up nonetheless.
func (b *Backend) Setup(jails []firewall.Jail) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("command actions: backend is closed")
	}
	var errs []error
	listed := make(map[string]bool, len(jails))
	for _, j := range jails {
		if j.Name == "" {
			return errors.New("command actions: a jail has no name")
		}
		if listed[j.Name] {
			return fmt.Errorf("command actions: jail %q listed twice", j.Name)
		}
		listed[j.Name] = true
	}
	for _, name := range b.order {
		if !listed[name] {
			errs = append(errs, b.stopJail(b.jails[name]))
			delete(b.jails, name)
		}
	}
	b.order = b.order[:0]
	for _, j := range jails {
		b.order = append(b.order, j.Name)
		defs := b.actions[j.Name]
		jr, ok := b.jails[j.Name]
		if ok && reflect.DeepEqual(jr.defs, defs) {
			continue
		}
		var keep []*knownBan
		if ok {
			keep = sortedBans(jr.bans)
			errs = append(errs, b.stopJail(jr))
		}
		jr = b.newJail(j.Name, defs)
		b.jails[j.Name] = jr
		for _, as := range jr.actions {
			errs = append(errs, as.start("", false))
		}
		if len(keep) > 0 {
			infos := make([]Info, 0, len(keep))
			now := b.now()
			for _, kb := range keep {
				in := kb.info
				in.Restored = true
				in.Timeout = 0
				if !kb.deadline.IsZero() {
					if in.Timeout = kb.deadline.Sub(now); in.Timeout <= 0 {
						continue
					}
				}
				infos = append(infos, in)
			}
			errs = append(errs, b.banInfo(jr, infos))
		}
	}
	b.schedule()
	return errors.Join(errs...)
}

func (b *Backend) newJail(name string, defs []Action) *jailRun {
	jr := &jailRun{name: name, defs: slices.Clone(defs), bans: make(map[netip.Prefix]*knownBan)}
	for _, a := range defs {
		jr.actions = append(jr.actions, newActionState(name, a, b.run, b.log, b.now, b.local))
	}
	return jr
}

// stopJail drops a jail's bans (actionflush, or actionunban for each) and
// stops its actions.
func (b *Backend) stopJail(jr *jailRun) error {
	var errs []error
	for i, as := range jr.actions {
		errs = append(errs, b.flushAction(jr, i, as))
		errs = append(errs, as.stop(""))
	}
	jr.bans = make(map[netip.Prefix]*knownBan)
	return errors.Join(errs...)
}

// flushAction drops the bans of one action: actionflush, or actionunban
// for each ban it holds.
func (b *Backend) flushAction(jr *jailRun, i int, as *actionState) error {
	ok, err := as.flush()
	if ok {
		for _, kb := range jr.bans {
			kb.applied[i] = false
		}
		return err
	}
	var tasks []func() error
	for _, kb := range sortedBans(jr.bans) {
		if !kb.applied[i] {
			continue
		}
		tasks = append(tasks, func() error {
			kb.applied[i] = false
			return as.unban(&kb.info)
		})
	}
	return b.parallelDo(tasks)
}

func sortedBans(m map[netip.Prefix]*knownBan) []*knownBan {
	out := make([]*knownBan, 0, len(m))
	for _, kb := range m {
		out = append(out, kb)
	}
	slices.SortFunc(out, func(x, y *knownBan) int {
		if c := x.info.Prefix.Addr().Compare(y.info.Prefix.Addr()); c != 0 {
			return c
		}
		return x.info.Prefix.Bits() - y.info.Prefix.Bits()
	})
	return out
}

// parallelDo runs tasks, at most b.parallel at once, and joins their
// errors.
func (b *Backend) parallelDo(tasks []func() error) error {
	if len(tasks) == 0 {
		return nil
	}
	errs := make([]error, len(tasks))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(b.parallel, len(tasks)) {
		wg.Go(func() {
			for i := range next {
				errs[i] = tasks[i]()
			}
		})
	}
	for i := range tasks {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

func (b *Backend) jail(name string) (*jailRun, error) {
	if b.closed {
		return nil, errors.New("command actions: backend is closed")
	}
	jr, ok := b.jails[name]
	if !ok {
		return nil, fmt.Errorf("command actions: %w %q", ErrUnknownJail, name)
	}
	return jr, nil
}

// Ban bans prefixes in a jail with no more than their timeouts known; see
// BanInfo.
func (b *Backend) Ban(jail string, elems []firewall.Element) error {
	infos := make([]Info, len(elems))
	for i, e := range elems {
		infos[i] = Info{Prefix: e.Prefix, Timeout: e.Timeout}
	}
	return b.BanInfo(jail, infos)
}

// BanInfo runs each action's actionban for each ban, with the ban's
// values for the tags. The bans run concurrently, the actions of one ban
// in order. A prefix the jail already bans gets its new timeout, and
// actionprolong where the action has one (actionban again where its first
// ban had failed). Errors are returned together; bans that failed are
// still recorded, so that they are unbanned in time.
func (b *Backend) BanInfo(jail string, bans []Info) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	jr, err := b.jail(jail)
	if err != nil {
		return err
	}
	err = b.banInfo(jr, bans)
	b.schedule()
	return err
}

func (b *Backend) banInfo(jr *jailRun, bans []Info) error {
	now := b.now()
	var errs []error
	// A prefix given twice is banned once, with its last values.
	last := make(map[netip.Prefix]int, len(bans))
	valid := make([]Info, 0, len(bans))
	for _, in := range bans {
		p, ok := netprefix.Canonical(in.Prefix)
		if !ok {
			errs = append(errs, fmt.Errorf("command actions: jail %q: invalid prefix %v", jr.name, in.Prefix))
			continue
		}
		if in.Timeout < 0 {
			errs = append(errs, fmt.Errorf("command actions: jail %q: negative timeout %v for %v", jr.name, in.Timeout, in.Prefix))
			continue
		}
		in.Prefix = p
		if in.Time.IsZero() {
			in.Time = now
		}
		if i, dup := last[p]; dup {
			valid[i] = in
			continue
		}
		last[p] = len(valid)
		valid = append(valid, in)
	}
	var tasks []func() error
	for _, in := range valid {
		p := in.Prefix
		var deadline time.Time
		if in.Timeout > 0 {
			deadline = now.Add(in.Timeout)
		}
		kb, known := jr.bans[p]
		if !known {
			kb = &knownBan{applied: make([]bool, len(jr.actions))}
			jr.bans[p] = kb
		}
		kb.info, kb.deadline = in, deadline
		tasks = append(tasks, func() error {
			var errs []error
			for i, as := range jr.actions {
				if in.Restored && as.noRestored() {
					kb.applied[i] = true
					continue
				}
				var err error
				switch {
				case !kb.applied[i]:
					op := opBan
					if known && as.defined(opReban, in.family()) {
						op = opReban
					}
					err = as.ban(&kb.info, op)
					kb.applied[i] = err == nil
				case as.prolongable():
					err = as.process(opProlong, &kb.info)
				}
				errs = append(errs, err)
			}
			return errors.Join(errs...)
		})
	}
	// Actions started on demand start for each family before the bans
	// run side by side.
	for _, as := range jr.actions {
		for _, fam := range []string{familyInet4, familyInet6} {
			for _, in := range valid {
				if in.family() == fam {
					errs = append(errs, as.startOnDemand(fam))
					break
				}
			}
		}
	}
	errs = append(errs, b.parallelDo(tasks))
	return errors.Join(errs...)
}

// Unban runs actionunban for each banned prefix; prefixes the jail does
// not ban are ignored.
func (b *Backend) Unban(jail string, prefixes []netip.Prefix) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	jr, err := b.jail(jail)
	if err != nil {
		return err
	}
	var kbs []*knownBan
	for _, p := range prefixes {
		n, ok := netprefix.Canonical(p)
		if !ok {
			return fmt.Errorf("command actions: jail %q: invalid prefix %v", jail, p)
		}
		if kb, ok := jr.bans[n]; ok {
			kbs = append(kbs, kb)
			delete(jr.bans, n)
		}
	}
	err = b.unbanAll(jr, kbs)
	b.schedule()
	return err
}

func (b *Backend) unbanAll(jr *jailRun, kbs []*knownBan) error {
	tasks := make([]func() error, 0, len(kbs))
	for _, kb := range kbs {
		tasks = append(tasks, func() error {
			var errs []error
			for i, as := range jr.actions {
				if kb.applied[i] {
					errs = append(errs, as.unban(&kb.info))
				}
			}
			return errors.Join(errs...)
		})
	}
	return b.parallelDo(tasks)
}

// Replace makes elems the jail's only bans: each action drops its bans
// (actionflush, or actionunban for each) and bans elems again, as restored
// bans (actions with norestored skip them). The daemon uses it at start to
// apply the bans of its store and to resynchronise.
func (b *Backend) Replace(jail string, elems []firewall.Element) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	jr, err := b.jail(jail)
	if err != nil {
		return err
	}
	var errs []error
	for i, as := range jr.actions {
		errs = append(errs, b.flushAction(jr, i, as))
	}
	jr.bans = make(map[netip.Prefix]*knownBan)
	infos := make([]Info, len(elems))
	for i, e := range elems {
		infos[i] = Info{Prefix: e.Prefix, Timeout: e.Timeout, Restored: true}
	}
	errs = append(errs, b.banInfo(jr, infos))
	b.schedule()
	return errors.Join(errs...)
}

// List returns the jail's bans, sorted, with the time they have left (0
// for permanent ones).
func (b *Backend) List(jail string) ([]firewall.Element, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	jr, err := b.jail(jail)
	if err != nil {
		return nil, err
	}
	now := b.now()
	var out []firewall.Element
	for _, kb := range sortedBans(jr.bans) {
		var left time.Duration
		if !kb.deadline.IsZero() {
			left = kb.deadline.Sub(now)
		}
		out = append(out, firewall.Element{Prefix: kb.info.Prefix, Timeout: left})
	}
	return out, nil
}

// Stop drops the bans of every jail (actionflush, or actionunban for each)
// and stops their actions (actionstop), as fail2ban does when it stops.
// The backend may be set up again afterwards.
func (b *Backend) Stop() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stopAll()
}

func (b *Backend) stopAll() error {
	b.stopTimer()
	var errs []error
	for _, name := range slices.Backward(b.order) {
		errs = append(errs, b.stopJail(b.jails[name]))
	}
	b.jails = make(map[string]*jailRun)
	b.order = nil
	return errors.Join(errs...)
}

// Close stops every jail as Stop does and releases the backend.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	err := b.stopAll()
	b.closed = true
	return err
}

// schedule arms the timer of the earliest ban to end.
func (b *Backend) schedule() {
	b.stopTimer()
	if b.closed {
		return
	}
	var next time.Time
	for _, jr := range b.jails {
		for _, kb := range jr.bans {
			if !kb.deadline.IsZero() && (next.IsZero() || kb.deadline.Before(next)) {
				next = kb.deadline
			}
		}
	}
	if next.IsZero() {
		return
	}
	b.timer = b.afterFunc(max(next.Sub(b.now()), 0), b.expire)
}

func (b *Backend) stopTimer() {
	if b.timer != nil {
		b.timer()
		b.timer = nil
	}
}

// expire unbans the bans whose time has passed.
func (b *Backend) expire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	now := b.now()
	for _, name := range b.order {
		jr := b.jails[name]
		var due []*knownBan
		for p, kb := range jr.bans {
			if !kb.deadline.IsZero() && !kb.deadline.After(now) {
				due = append(due, kb)
				delete(jr.bans, p)
			}
		}
		if len(due) == 0 {
			continue
		}
		if err := b.unbanAll(jr, due); err != nil {
			b.log.Error("unbanning expired bans failed", "jail", name, "err", err)
		}
	}
	b.schedule()
}
