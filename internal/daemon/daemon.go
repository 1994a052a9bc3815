// Package daemon wires gaol's pipeline together: log sources feed the
// matchers, failures feed the engine, and the engine's decisions are written
// to the store and then enforced by the firewall. It also serves the control
// API. One goroutine (the loop) owns the engine and performs every write;
// sources and matchers run in goroutines of their own and send it events.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/gaol-project/gaol/internal/config"
	"github.com/gaol-project/gaol/internal/control"
	"github.com/gaol-project/gaol/internal/engine"
	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/firewall/command"
	"github.com/gaol-project/gaol/internal/geo"
	"github.com/gaol-project/gaol/internal/hostres"
	"github.com/gaol-project/gaol/internal/ignore"
	"github.com/gaol-project/gaol/internal/match"
	"github.com/gaol-project/gaol/internal/store"
)

// Store is where bans and read positions are kept: the source of truth.
type Store interface {
	AddBans(ctx context.Context, bans []store.Ban) ([]int64, error)
	EndBans(ctx context.Context, ends []store.End) (int, error)
	ExpireBans(ctx context.Context, now time.Time) (int, error)
	ActiveBans(ctx context.Context, now time.Time) ([]store.Ban, error)
	History(ctx context.Context, addr netip.Addr) ([]store.Ban, error)
	BanCounts(ctx context.Context, since time.Time) ([]store.BanCount, error)
	PurgeHistory(ctx context.Context, before time.Time) (int, error)
	Offset(ctx context.Context, path string) (store.Offset, bool, error)
	SaveOffsets(ctx context.Context, offs []store.Offset) error
}

// Locator tells where an address is.
type Locator interface {
	Lookup(addr netip.Addr) geo.Info
}

// Firewall enforces bans; it is a cache of the store.
type Firewall interface {
	Setup(jails []firewall.Jail) error
	Ban(jail string, elems []firewall.Element) error
	Unban(jail string, prefixes []netip.Prefix) error
	Replace(jail string, elems []firewall.Element) error
}

// Options configure a daemon.
type Options struct {
	ConfigDir string // "" = embedded defaults only
	// Config and Filters, if set, are ConfigDir's configuration as Load
	// returned it, already read by the caller: the daemon starts with them
	// instead of reading it again. Reloads read ConfigDir.
	Config   *config.Config
	Filters  map[string]*match.Filter
	Store    Store
	Firewall Firewall // nil = touch no firewall (dry run)
	Socket   string   // control socket path; "" = no control API
	Version  string
	Logger   *slog.Logger
	Now      func() time.Time // default time.Now
	// LocalAddrs lists this machine's addresses, for ignoreself; nil means
	// ask the kernel.
	LocalAddrs func() ([]netip.Addr, error)
	// Resolver resolves host names: those of ignoreip, and, through a
	// cache (package hostres), those failures name in jails with usedns =
	// yes or warn; nil means the system's (net.DefaultResolver).
	Resolver ignore.Resolver
	// Utmp is the utmp file listing logged-in sessions, whose addresses
	// are never banned; "" means the system's.
	Utmp string
	// JournalDir, if set, is a directory of journal files read instead of
	// the system journal (journalctl --directory); Journalctl is the
	// journalctl binary ("" = from PATH).
	JournalDir, Journalctl string
	// SyslogListen is the address the syslog listener of backend = syslog
	// jails binds, for UDP and TCP ("" = syslog.DefaultAddress, loopback).
	SyslogListen string
	// FromStart reads log files never read before from their start
	// instead of their end.
	FromStart bool
	// RunActions runs the jails' fail2ban action.d actions (mail, ufw,
	// firewalld, ...) besides the native firewall; off in a dry run.
	RunActions bool
	// Geo attributes banned addresses (country, network, place) when
	// they are banned, so that history keeps its attribution; nil: none.
	Geo Locator
	// Poll is the sources' fallback polling interval (default 1 s).
	Poll time.Duration
	// PurgeAge is how long ended bans are kept in the store (default
	// DefaultPurgeAge); bantime.increment counts the bans within it.
	PurgeAge time.Duration
	// Ready, if set, is called once the daemon has restored its bans and
	// started its sources and control socket.
	Ready func()
}

// DefaultPurgeAge is how long ended bans are kept by default.
const DefaultPurgeAge = 90 * 24 * time.Hour

// Daemon is a running gaol.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	started time.Time

	// Owned by the loop goroutine.
	eng *engine.Engine
	// eventsNow, if not zero, is the time for the events being handled:
	// the engine's clock then, read once for a batch of failures rather
	// than for each (reading the clock is not free).
	eventsNow time.Time
	cfg       *config.Config
	jails     map[string]*jailRuntime
	pipe      *pipeline
	rec       *recorder               // writes to the store in order
	offsets   map[string]store.Offset // read positions processed, not yet saved
	resync    bool                    // the firewall missed a change: replace it whole
	actions   *command.Backend        // action.d actions; nil when not run
	newFiles  map[string]bool         // log files that appeared while running
	ticks     int
	guard     *ignore.Guard
	sessions  []netip.Addr // of logged-in remote sessions, sorted
	resolving bool         // ignore lists are being refreshed
	// timeWarned: when a jail last warned of a live line's odd timestamp.
	timeWarned map[string]time.Time
	// hosts resolves the host names failures name (usedns); the matchers
	// share it.
	hosts *hostres.Cache

	events chan event
	calls  chan call
}

type jailRuntime struct {
	cfg     *config.Jail
	filter  *match.Filter
	files   []string // expanded log paths
	missing []string // log paths that do not exist (yet)
	ignore  jailIgnore
	command *ignore.Command // ignorecommand; nil if none
	kind    string          // what it reads: kindFile, kindJournal, ...
	// useDNS is "yes" or "warn" when failures that name a host count for
	// its addresses, "" otherwise.
	useDNS string
}

// call is a function the loop runs on behalf of another goroutine.
type call struct {
	fn   func() error
	done chan error
}

// New returns a daemon; Run starts it.
func New(opts Options) (*Daemon, error) {
	if opts.Store == nil {
		return nil, errors.New("daemon: no store")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PurgeAge <= 0 {
		opts.PurgeAge = DefaultPurgeAge
	}
	d := &Daemon{
		opts:     opts,
		log:      opts.Logger,
		now:      opts.Now,
		jails:    make(map[string]*jailRuntime),
		offsets:  make(map[string]store.Offset),
		newFiles: make(map[string]bool),
		events:   make(chan event, 64),
		calls:    make(chan call),
	}
	d.eng = engine.New(d.loopNow)
	// A nil Resolver is a nil Lookup: the system's.
	d.hosts = hostres.New(hostres.Options{Lookup: opts.Resolver, Now: d.now})
	if opts.RunActions {
		a, err := command.New(command.Options{Logger: opts.Logger.With("actions", true)})
		if err != nil {
			return nil, err
		}
		d.actions = a
	}
	d.guard = ignore.NewGuard(opts.Utmp)
	d.guard.Now, d.guard.Logger = d.now, d.log
	return d, nil
}

// Run starts the daemon and blocks until ctx is cancelled or a fatal error
// occurs. Nothing recorded is lost on return: read positions are saved.
func (d *Daemon) Run(ctx context.Context) error {
	d.started = d.now()
	d.rec = newRecorder(d)
	var closeRec sync.Once
	stopRecorder := func() { closeRec.Do(d.rec.close) }
	defer stopRecorder()
	cfg, jails, err := d.load()
	if err != nil {
		return err
	}
	if err := d.apply(ctx, cfg, jails); err != nil {
		return err
	}
	if err := d.restore(ctx); err != nil {
		return err
	}

	var wg sync.WaitGroup
	ctrlCtx, stopCtrl := context.WithCancel(context.Background())
	defer func() {
		stopCtrl()
		wg.Wait()
	}()
	if d.opts.Socket != "" {
		l, err := control.Listen(d.opts.Socket)
		if err != nil {
			return err
		}
		h := control.Handler(d, d.opts.Version, d.log)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := control.Serve(ctrlCtx, l, h); err != nil {
				d.log.Error("control API stopped", "err", err)
			}
		}()
	}

	d.startPipeline()
	d.log.Info("gaol started", "jails", d.eng.Jails(), "dry_run", d.opts.Firewall == nil, "socket", d.opts.Socket)
	if d.opts.Ready != nil {
		d.opts.Ready()
	}
	err = d.loop(ctx)
	d.stopPipeline(context.Background())
	d.flushOffsets()
	if d.actions != nil {
		// As fail2ban does when it stops: actionflush (or actionunban) and
		// actionstop. The native firewall keeps its bans.
		if cerr := d.actions.Close(); cerr != nil {
			d.log.Error("stopping actions", "err", cerr)
		}
	}
	stopRecorder()
	d.log.Info("gaol stopped")
	return err
}

// loop is the daemon's single owner of engine, store and firewall writes.
func (d *Daemon) loop(ctx context.Context) error {
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	for {
		d.resetExpiry(expiry)
		select {
		case <-ctx.Done():
			return nil
		case ev := <-d.events:
			d.handleEvents(ctx, ev)
		case c := <-d.calls:
			c.done <- c.fn()
		case <-expiry.C:
			d.expire(ctx)
		case <-purge.C:
			d.purge(ctx)
		case <-tick.C:
			if d.ticks++; d.ticks%globInterval == 0 {
				d.checkGlobs(ctx)
			}
			d.refreshIgnore(ctx)
			d.expire(ctx)
			d.flushOffsets()
			if d.resync {
				d.resyncFirewall()
			}
		}
	}
}

func (d *Daemon) resetExpiry(t *time.Timer) {
	next, ok := d.eng.NextExpiry()
	wait := time.Hour
	if ok {
		wait = max(next.Sub(d.now()), 0)
	}
	t.Reset(wait)
}

// handleEvents processes ev and whatever else is queued, enforcing the
// decisions they produce as it goes, and then hands them to the recorder,
// which stores them and logs them (recorder.go says why the firewall goes
// first here). The firewall takes each event's bans in one batch, on a
// goroutine of its own while the engine goes on with the next events (in
// an attack of thousands of addresses, the kernel's work and the engine's
// overlap); batches are enforced in order, and all of them before
// handleEvents returns. The store gets them all at the end, so that it
// does not take the processor from the firewall meanwhile.
func (d *Daemon) handleEvents(ctx context.Context, ev event) {
	d.eventsNow = d.now()
	defer func() { d.eventsNow = time.Time{} }()
	var (
		bans    []engine.Decision
		done    [][]engine.Decision // the batches enforced, in order
		running *enforcement
	)
	debug := d.log.Enabled(ctx, slog.LevelDebug)
	for n := 0; ; n++ {
		left := 0 // failures of the event not counted yet
		for _, fs := range ev.failures {
			left += len(fs)
		}
		for _, fs := range ev.failures {
			for _, f := range fs {
				left--
				if ev.live {
					f.failure.Time = d.liveTime(f.jail, f.failure)
				}
				out, ds, err := d.eng.Fail(f.jail, f.failure)
				if err != nil {
					// The jail went away in a reload while the line was in flight.
					continue
				}
				if len(ds) > 0 && bans == nil {
					// Room for a ban per failure left, up to a point: in
					// an attack of many addresses, most failures of an
					// event end in one.
					bans = make([]engine.Decision, 0, len(ds)+min(left, 4096))
				}
				bans = append(bans, ds...)
				if debug && out == engine.Counted {
					d.log.Debug("found", "jail", f.jail, "addr", f.failure.Addr, "time", f.failure.Time)
				}
			}
		}
		if ev.hasPos {
			d.offsets[ev.path] = ev.pos
		}
		if len(bans) > 0 {
			done = d.finishEnforce(running, done)
			running, bans = d.startEnforce(bans), nil
		}
		if n >= 256 {
			break
		}
		select {
		case ev = <-d.events:
			continue
		default:
		}
		break
	}
	if done = d.finishEnforce(running, done); len(done) > 0 {
		d.rec.enqueue(recorderJob{decisions: slices.Concat(done...)})
	}
}

// enforcement is a batch of decisions being enforced on a goroutine of its
// own (see handleEvents).
type enforcement struct {
	ds      []engine.Decision
	refused chan bool // whether the firewall refused a change
}

// startEnforce starts enforcing decisions: the plan is made here, on the
// loop (it reads the jails), and the firewall is told on a goroutine of
// its own. finishEnforce must be called before the firewall or the jails
// are used again.
func (d *Daemon) startEnforce(ds []engine.Decision) *enforcement {
	p := d.planEnforce(ds)
	e := &enforcement{ds: ds, refused: make(chan bool, 1)}
	go func() { e.refused <- d.applyEnforce(p) }()
	return e
}

// finishEnforce waits for an enforcement (nil: none) to end, and appends
// its batch of decisions to done.
func (d *Daemon) finishEnforce(e *enforcement, done [][]engine.Decision) [][]engine.Decision {
	if e == nil {
		return done
	}
	if <-e.refused {
		d.resync = true
	}
	return append(done, e.ds)
}

// commit records decisions in the store and then enforces them in the
// firewall, after every write queued before them.
func (d *Daemon) commit(ctx context.Context, ds []engine.Decision) error {
	if err := d.syncStore(ctx); err != nil {
		return err
	}
	// The store is written first, so that what the firewall enforces is
	// recorded. If the store fails, the firewall is still updated: the
	// server stays protected, and the error is reported.
	err := d.record(ctx, ds)
	d.enforce(ds)
	d.logDecisions(ds)
	return err
}

// logDecisions logs decisions once they are recorded and enforced: a ban
// in the log is in force.
func (d *Daemon) logDecisions(ds []engine.Decision) {
	if !d.log.Enabled(context.Background(), slog.LevelInfo) {
		return // nothing below info: spare formatting thousands of bans
	}
	for _, dec := range ds {
		switch {
		case dec.Action == engine.Ban:
			args := []any{"jail", dec.Jail, "prefix", prefixString(dec.Prefix), "failures", dec.Failures, "until", untilString(dec.End)}
			if dec.Manual {
				args = append(args, "manual", true)
			}
			if dec.Count > 1 {
				args = append(args, "count", dec.Count)
			}
			if dec.Category != "" {
				args = append(args, "category", dec.Category)
			}
			if dec.Reason != "" {
				args = append(args, "reason", dec.Reason)
			}
			d.log.Info("ban", args...)
		case dec.Reason != engine.ReasonExpired:
			d.log.Info("unban", "jail", dec.Jail, "prefix", prefixString(dec.Prefix), "reason", dec.Reason)
		default:
			d.log.Debug("ban expired", "jail", dec.Jail, "prefix", prefixString(dec.Prefix))
		}
	}
}

// enforce applies decisions to the firewall, batched per jail. Expired bans
// need nothing: the kernel drops them on its own timeout.
func (d *Daemon) enforce(ds []engine.Decision) {
	if d.applyEnforce(d.planEnforce(ds)) {
		d.resync = true
	}
}

// enforcePlan is what enforcing decisions asks of the firewall, by jail.
type enforcePlan struct {
	order  []string
	bans   map[string][]firewall.Element
	unbans map[string][]netip.Prefix
}

// planEnforce starts the jails' actions for decisions and returns what
// the firewall is to do for them.
func (d *Daemon) planEnforce(ds []engine.Decision) enforcePlan {
	d.runActions(ds, false)
	p := enforcePlan{bans: map[string][]firewall.Element{}, unbans: map[string][]netip.Prefix{}}
	if d.opts.Firewall == nil {
		return p
	}
	now := d.now()
	for _, dec := range ds {
		if rt, ok := d.jails[dec.Jail]; !ok || !rt.cfg.NativeBan {
			continue // its sets are gone with it, or it bans by commands only
		}
		if _, ok := p.bans[dec.Jail]; !ok {
			if _, ok := p.unbans[dec.Jail]; !ok {
				p.order = append(p.order, dec.Jail)
			}
		}
		switch {
		case dec.Action == engine.Ban:
			el, ok := element(dec.Prefix, dec.End, now)
			if ok {
				p.bans[dec.Jail] = append(p.bans[dec.Jail], el)
			}
		case dec.Reason != engine.ReasonExpired:
			p.unbans[dec.Jail] = append(p.unbans[dec.Jail], dec.Prefix)
		}
	}
	return p
}

// applyEnforce tells the firewall a plan and reports whether it refused a
// change (the daemon then resynchronises it). It uses nothing of the
// daemon but the firewall and the logger: it may run beside the loop.
func (d *Daemon) applyEnforce(p enforcePlan) (refused bool) {
	fw := d.opts.Firewall
	for _, j := range p.order {
		if ps := p.unbans[j]; len(ps) > 0 {
			if err := fw.Unban(j, ps); err != nil {
				d.log.Error("firewall unban failed; will resynchronise", "jail", j, "err", err)
				refused = true
			}
		}
		if els := p.bans[j]; len(els) > 0 {
			if err := fw.Ban(j, els); err != nil {
				d.log.Error("firewall ban failed; will resynchronise", "jail", j, "err", err)
				refused = true
			}
		}
	}
	return refused
}

// element turns a ban into a firewall element with the time it has left.
func element(p netip.Prefix, end, now time.Time) (firewall.Element, bool) {
	if end.IsZero() {
		return firewall.Element{Prefix: p}, true
	}
	left := end.Sub(now)
	if left <= 0 {
		return firewall.Element{}, false
	}
	// nftables counts timeouts in milliseconds; round up so a ban never
	// ends early.
	left = (left + time.Millisecond - 1).Truncate(time.Millisecond)
	return firewall.Element{Prefix: p, Timeout: left}, true
}

// resyncFirewall replaces every jail's sets with the engine's bans.
func (d *Daemon) resyncFirewall() {
	if d.opts.Firewall == nil {
		d.resync = false
		return
	}
	if err := d.replaceAll(); err != nil {
		d.log.Error("firewall resynchronisation failed; will retry", "err", err)
		return
	}
	d.resync = false
	d.log.Info("firewall resynchronised")
}

func (d *Daemon) replaceAll() error {
	now := d.now()
	for _, name := range d.eng.Jails() {
		if rt, ok := d.jails[name]; ok && !rt.cfg.NativeBan {
			continue
		}
		bans, err := d.eng.Bans(name)
		if err != nil {
			return err
		}
		els := make([]firewall.Element, 0, len(bans))
		for _, b := range bans {
			if el, ok := element(b.Prefix, b.End, now); ok {
				els = append(els, el)
			}
		}
		if err := d.opts.Firewall.Replace(name, els); err != nil {
			return fmt.Errorf("jail %q: %w", name, err)
		}
	}
	return nil
}

func (d *Daemon) expire(ctx context.Context) {
	ds := d.eng.Expire()
	if len(ds) == 0 {
		return
	}
	if err := d.commit(ctx, ds); err != nil {
		d.log.Error("recording expired bans", "err", err)
	}
}

// purge deletes the ban history older than the purge age.
func (d *Daemon) purge(ctx context.Context) {
	if err := d.syncStore(ctx); err != nil {
		d.log.Error("purging old bans", "err", err)
		return
	}
	n, err := d.opts.Store.PurgeHistory(ctx, d.now().Add(-d.opts.PurgeAge))
	if err != nil {
		d.log.Error("purging old bans", "err", err)
	} else if n > 0 {
		d.log.Info("purged old bans", "bans", n, "older_than", d.opts.PurgeAge)
	}
}

// restore puts the store's active bans back into the engine and, in one
// batch per jail, into the firewall, and loads the ban counts that
// bantime.increment needs.
func (d *Daemon) restore(ctx context.Context) error {
	now := d.now()
	if err := d.syncStore(ctx); err != nil {
		return err
	}
	if _, err := d.opts.Store.ExpireBans(ctx, now); err != nil {
		return fmt.Errorf("expiring old bans: %w", err)
	}
	d.purge(ctx)
	counts, err := d.opts.Store.BanCounts(ctx, now.Add(-d.opts.PurgeAge))
	if err != nil {
		return fmt.Errorf("reading ban counts: %w", err)
	}
	hist := make([]engine.BanCount, len(counts))
	for i, c := range counts {
		hist[i] = engine.BanCount{Jail: c.Jail, Prefix: c.Prefix, Count: c.Count, Last: c.Last}
	}
	d.eng.RestoreHistory(hist)
	skipped := map[string]int{}
	n, err := d.restoreBans(ctx, func(jail string) bool {
		_, ok := d.jails[jail]
		if !ok {
			skipped[jail]++
		}
		return ok
	})
	if err != nil {
		return err
	}
	for j, k := range skipped {
		d.log.Warn("active bans of a jail that is not enabled are kept in the store but not enforced", "jail", j, "bans", k)
	}
	if d.opts.Firewall != nil {
		start := time.Now()
		if err := d.replaceAll(); err != nil {
			return fmt.Errorf("re-applying %d bans to the firewall: %w", n, err)
		}
		d.log.Info("bans restored", "bans", n, "took", time.Since(start).Round(time.Microsecond))
	} else if n > 0 {
		d.log.Info("bans restored (dry run: firewall untouched)", "bans", n)
	}
	return nil
}

// flushOffsets has the recorder save the read positions processed so far,
// after the bans found before them.
func (d *Daemon) flushOffsets() {
	if len(d.offsets) == 0 {
		return
	}
	offs := make([]store.Offset, 0, len(d.offsets))
	for _, o := range d.offsets {
		offs = append(offs, o)
	}
	d.rec.enqueue(recorderJob{offsets: offs})
	clear(d.offsets)
}

// do runs fn on the loop goroutine and returns its error.
func (d *Daemon) do(ctx context.Context, fn func() error) error {
	c := call{fn: fn, done: make(chan error, 1)}
	select {
	case d.calls <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func prefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

func untilString(end time.Time) string {
	if end.IsZero() {
		return "permanent"
	}
	return end.Format(time.RFC3339)
}

func expandLogPaths(globs []string) (files, missing []string) {
	for _, g := range globs {
		if g == "-" {
			files = append(files, g) // standard input
			continue
		}
		matches, err := filepath.Glob(g)
		if err == nil && len(matches) > 0 {
			for _, m := range matches {
				if fi, err := os.Stat(m); err == nil && (fi.Mode().IsRegular() || fi.Mode()&os.ModeNamedPipe != 0) {
					files = append(files, m)
				}
			}
			continue
		}
		// A plain path that does not exist yet is watched until it appears.
		if !hasMeta(g) {
			files = append(files, g)
			if _, err := os.Stat(g); err != nil {
				missing = append(missing, g)
			}
			continue
		}
		missing = append(missing, g)
	}
	slices.Sort(files)
	return slices.Compact(files), missing
}

func hasMeta(p string) bool {
	for _, c := range p {
		switch c {
		case '*', '?', '[', '\\':
			return true
		}
	}
	return false
}

// restoreBans puts the store's active bans of the jails want accepts back
// into the engine, and runs their jails' action.d actions for them (as
// restored bans); the caller re-applies the native firewall.
func (d *Daemon) restoreBans(ctx context.Context, want func(jail string) bool) (int, error) {
	if err := d.syncStore(ctx); err != nil {
		return 0, err
	}
	active, err := d.opts.Store.ActiveBans(ctx, d.now())
	if err != nil {
		return 0, fmt.Errorf("reading active bans: %w", err)
	}
	var restore []engine.ActiveBan
	var ds []engine.Decision
	for _, b := range active {
		if !want(b.Jail) {
			continue
		}
		restore = append(restore, activeBan(b))
		ds = append(ds, engine.Decision{Action: engine.Ban, Jail: b.Jail, Prefix: b.Prefix, Start: b.Start, End: b.End, Failures: b.Failures, Count: b.Count})
	}
	n, err := d.eng.Restore(restore)
	if err != nil {
		return n, err
	}
	d.runActions(ds, true)
	return n, nil
}

// activeBan is a stored ban as the engine knows it.
func activeBan(b store.Ban) engine.ActiveBan {
	return engine.ActiveBan{
		Jail: b.Jail, Prefix: b.Prefix, Start: b.Start, End: b.End,
		Failures: b.Failures, Manual: b.Manual, Count: b.Count, Category: b.Category,
	}
}

// locate attributes a banned prefix by its first address.
func (d *Daemon) locate(p netip.Prefix) store.Geo {
	if d.opts.Geo == nil {
		return store.Geo{}
	}
	return StoreGeo(d.opts.Geo.Lookup(p.Addr()))
}

// StoreGeo converts a lookup result to what the store keeps.
func StoreGeo(g geo.Info) store.Geo {
	return store.Geo{Country: g.Country, ASN: g.ASN, Org: g.Org, City: g.City, Lat: g.Lat, Lon: g.Lon, HasCoords: g.HasCoords, RDNS: g.RDNS}
}

// globInterval is how often, in seconds, logpath globs are expanded again.
const globInterval = 5

// checkGlobs expands the jails' logpath globs again and, when they match
// new files (or lost some), restarts the sources: every file is resumed
// from its saved position, and a new one is read from its start.
func (d *Daemon) checkGlobs(ctx context.Context) {
	changed := false
	for _, rt := range d.jails {
		if rt.kind != kindFile {
			continue
		}
		files, missing := expandLogPaths(rt.cfg.LogPath)
		if slices.Equal(files, rt.files) {
			continue
		}
		for _, f := range files {
			if !slices.Contains(rt.files, f) {
				d.newFiles[f] = true
				d.log.Info("new log file", "jail", rt.cfg.Name, "file", f)
			}
		}
		rt.files, rt.missing = files, missing
		changed = true
	}
	if changed {
		d.stopPipeline(ctx)
		d.flushOffsets()
		d.startPipeline()
	}
}

// maxLiveSkew is how far from now the timestamp of a line written while
// it was followed may be before it is taken for now, as fail2ban does.
const maxLiveSkew = time.Minute

// loopNow is the clock of the loop goroutine: the time held for the events
// it handles, else now.
func (d *Daemon) loopNow() time.Time {
	if !d.eventsNow.IsZero() {
		return d.eventsNow
	}
	return d.now()
}

// liveTime returns the time to count a failure at, for a line written
// while its log was followed. A timestamp more than a minute from now is
// a clock, time zone or latency problem rather than an old line: like
// fail2ban in operation, the failure counts now (lines read from before,
// on a restart, keep their own times, and the engine ignores those older
// than findtime). The jail warns about it once a day.
func (d *Daemon) liveTime(jail string, f engine.Failure) time.Time {
	now := d.loopNow()
	if f.Time.IsZero() {
		return f.Time
	}
	skew := f.Time.Sub(now)
	if skew >= -maxLiveSkew && skew <= maxLiveSkew {
		return f.Time
	}
	if last, ok := d.timeWarned[jail]; !ok || now.Sub(last) >= 24*time.Hour {
		if d.timeWarned == nil {
			d.timeWarned = map[string]time.Time{}
		}
		d.timeWarned[jail] = now
		problem := "time zone"
		if skew < 0 && skew >= -55*time.Minute {
			problem = "latency"
		}
		d.log.Warn("log line written now carries a time far from now; counting it now (check the log's "+problem+"; logtimezone sets the zone)",
			"jail", jail, "skew", skew.Round(time.Second).String(), "line", f.Line)
	}
	return now
}
