package daemon

import (
	"context"
	"fmt"
	"slices"

	"github.com/gaol-project/gaol/internal/config"
	"github.com/gaol-project/gaol/internal/engine"
	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/ignore"
	"github.com/gaol-project/gaol/internal/match"
	"github.com/gaol-project/gaol/internal/policy"
	"github.com/gaol-project/gaol/internal/source/journal"
)

// Load reads and validates the configuration in dir ("" = embedded
// defaults) and compiles the filters of its enabled jails, the way the
// daemon would at start. `gaol check` uses it.
func Load(dir string) (*config.Config, map[string]*match.Filter, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	filters := map[string]*match.Filter{}
	for _, j := range cfg.Enabled() {
		if _, err := policy.Engine(j, nil); err != nil {
			return nil, nil, err
		}
		if j.Recidive {
			continue // fed with bans, not log lines
		}
		f, err := CompileFilter(j)
		if err != nil {
			return nil, nil, err
		}
		filters[j.Name] = f
	}
	return cfg, filters, nil
}

// CompileFilter compiles the filter of jail j; errors name the file and line
// of the expression at fault.
func CompileFilter(j *config.Jail) (*match.Filter, error) {
	spec := match.Spec{
		Name: j.Filter.Name, PrefRegex: j.Filter.PrefRegex.Expr,
		DatePattern: j.Filter.DatePattern, MaxLines: j.Filter.MaxLines,
		Category: j.Filter.Category, UseDNS: j.UseDNS,
	}
	for _, r := range j.Filter.FailRegex {
		spec.FailRegex = append(spec.FailRegex, r.Expr)
	}
	for _, r := range j.Filter.IgnoreRegex {
		spec.IgnoreRegex = append(spec.IgnoreRegex, r.Expr)
	}
	f, err := match.Compile(spec)
	if err == nil {
		return f, nil
	}
	// Compile each expression alone to point at the faulty line.
	check := func(kind string, rs []config.Regex, mk func(string) match.Spec) error {
		for i, r := range rs {
			if _, err := match.Compile(mk(r.Expr)); err != nil {
				return fmt.Errorf("%s: jail %q: filter %q: %s #%d: %w", r.Loc, j.Name, j.Filter.Name, kind, i+1, err)
			}
		}
		return nil
	}
	if e := check("failregex", j.Filter.FailRegex, func(s string) match.Spec { return match.Spec{FailRegex: []string{s}} }); e != nil {
		return nil, e
	}
	if j.Filter.PrefRegex.Expr != "" {
		if e := check("prefregex", []config.Regex{j.Filter.PrefRegex}, func(s string) match.Spec { return match.Spec{PrefRegex: s, FailRegex: []string{"<HOST>"}} }); e != nil {
			return nil, e
		}
	}
	return nil, fmt.Errorf("%s: jail %q: filter %q: %w", j.Loc, j.Name, j.Filter.Name, err)
}

// load reads the configuration and prepares the runtime of every enabled
// jail without touching the running state.
func (d *Daemon) load() (*config.Config, map[string]*jailRuntime, error) {
	cfg, filters := d.opts.Config, d.opts.Filters
	d.opts.Config, d.opts.Filters = nil, nil // only for the start
	if cfg == nil {
		var err error
		if cfg, filters, err = Load(d.opts.ConfigDir); err != nil {
			return nil, nil, err
		}
	}
	for _, w := range cfg.Warnings {
		d.log.Warn("config", "warning", w.String())
	}
	for _, j := range cfg.Jails {
		if j.Auto != "" {
			d.log.Info("enabled = auto", "jail", j.Name, "decision", j.Auto)
		}
	}
	jails := map[string]*jailRuntime{}
	for _, j := range cfg.Enabled() {
		rt := &jailRuntime{cfg: j, filter: filters[j.Name]}
		if rt.filter != nil && rt.filter.ResolvesNames() {
			rt.useDNS = rt.filter.UseDNS()
		}
		rt.ignore.spec = j.Ignore
		if d.opts.LocalAddrs != nil {
			rt.ignore.spec.LocalAddrs = d.opts.LocalAddrs
		}
		d.resolveIgnore(context.Background(), j.Name, rt)
		if cc := j.IgnoreCommand; cc != nil {
			cc.Now = d.now
			cmd, err := ignore.NewCommand(*cc)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: jail %q: ignorecommand: %w", j.Loc, j.Name, err)
			}
			rt.command = cmd
		}
		rt.files, rt.missing = expandLogPaths(j.LogPath)
		rt.kind = d.sourceKind(j, rt.files, rt.missing)
		jails[j.Name] = rt
		switch rt.kind {
		case kindJournal:
			rt.files, rt.missing = nil, nil
			if _, err := journal.ParseMatch(j.JournalMatch); err != nil {
				return nil, nil, fmt.Errorf("%s: jail %q: journalmatch: %w", j.Loc, j.Name, err)
			}
			d.log.Info("jail reads the journal", "jail", j.Name, "journalmatch", j.JournalMatch)
		case kindSyslog, kindRecidive:
			rt.files, rt.missing = nil, nil
		default:
			for _, m := range rt.missing {
				d.log.Warn("log file does not exist; the jail waits for it", "jail", j.Name, "logpath", m)
			}
			if len(rt.files) == 0 {
				d.log.Warn("jail has no log file to read; it stays idle", "jail", j.Name, "logpath", j.LogPath)
			}
		}
	}
	if len(jails) == 0 {
		d.log.Warn("no jail is enabled")
	}
	return cfg, jails, nil
}

// apply makes cfg the running configuration: the engine keeps the state of
// jails that remain, bans of removed jails end, and the firewall gets the
// new set of jails. The bans of a jail whose ban prefix lengths changed
// are applied to the firewall again, which may have dropped them
// (firewall.Jail.BanPrefix4).
func (d *Daemon) apply(ctx context.Context, cfg *config.Config, jails map[string]*jailRuntime) error {
	var ecfgs []engine.JailConfig
	var fjails []firewall.Jail
	var reapply []string // jails whose ban prefix lengths changed
	all := map[string]firewall.Jail{}
	names := make([]string, 0, len(jails))
	for n := range jails {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		j := jails[n].cfg
		set := d.ignoreSet(jails[n])
		jails[n].ignore.set.Store(set)
		ec, err := policy.Engine(j, set)
		if err != nil {
			return err
		}
		ecfgs = append(ecfgs, ec)
		fj := firewall.Jail{Name: n, Protocol: j.Protocol, BanPrefix4: j.BanPrefix4, BanPrefix6: j.BanPrefix6}
		for _, p := range j.Ports {
			fj.Ports = append(fj.Ports, firewall.PortRange{From: p.From, To: p.To})
		}
		all[n] = fj
		if j.NativeBan {
			fjails = append(fjails, fj)
			if old, ok := d.jails[n]; ok && old.cfg.NativeBan && (old.cfg.BanPrefix4 != j.BanPrefix4 || old.cfg.BanPrefix6 != j.BanPrefix6) {
				reapply = append(reapply, n)
			}
		}
	}
	removed, err := d.eng.Configure(ecfgs)
	if err != nil {
		return fmt.Errorf("configuring jails: %w", err)
	}
	d.cfg, d.jails = cfg, jails
	if d.opts.Firewall != nil {
		if err := d.opts.Firewall.Setup(fjails); err != nil {
			return fmt.Errorf("setting up the firewall: %w", err)
		}
		if len(reapply) > 0 {
			// At once rather than at the loop's next tick, which retries
			// if this fails.
			d.log.Info("ban prefix lengths changed; applying the jails' bans again", "jails", reapply)
			d.resync = true
			d.resyncFirewall()
		}
	}
	if err := d.setupActions(all); err != nil {
		d.log.Error("starting actions", "err", err)
	}
	if len(removed) > 0 {
		if err := d.commit(ctx, removed); err != nil {
			return err
		}
	}
	return nil
}
