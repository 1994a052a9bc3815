package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/gaol-project/gaol/internal/control"
	"github.com/gaol-project/gaol/internal/engine"
	"github.com/gaol-project/gaol/internal/source/syslog"
	"github.com/gaol-project/gaol/internal/store"
)

// The Daemon serves the control API.
var _ control.Daemon = (*Daemon)(nil)

// Status implements control.Daemon.
func (d *Daemon) Status(ctx context.Context) (control.Status, error) {
	var s control.Status
	err := d.do(ctx, func() error {
		s = control.Status{Version: d.opts.Version, Started: d.started, DryRun: d.opts.Firewall == nil}
		for _, name := range d.eng.Jails() {
			js, err := d.jailStatus(name, false)
			if err != nil {
				return err
			}
			s.Jails = append(s.Jails, js)
		}
		return nil
	})
	return s, err
}

// JailStatus implements control.Daemon.
func (d *Daemon) JailStatus(ctx context.Context, jail string) (control.JailStatus, error) {
	var js control.JailStatus
	err := d.do(ctx, func() error {
		var err error
		js, err = d.jailStatus(jail, true)
		return err
	})
	return js, err
}

// jailStatus describes a jail; the list of banned addresses, which can be
// long, only when withBans is set.
func (d *Daemon) jailStatus(name string, withBans bool) (control.JailStatus, error) {
	rt, ok := d.jails[name]
	if !ok {
		return control.JailStatus{}, d.unknownJail(name)
	}
	st, err := d.eng.Stats(name)
	if err != nil {
		return control.JailStatus{}, err
	}
	js := control.JailStatus{
		Name: name, Filter: rt.cfg.Filter.Name,
		Files: slices.Clone(rt.files), MissingFiles: missingFiles(rt),
		CurrentlyFailed: st.CurrentlyFailed, TotalFailed: st.TotalFailed,
		CurrentlyBanned: st.CurrentlyBanned, TotalBanned: st.TotalBanned,
	}
	switch rt.kind {
	case kindJournal:
		js.Journal = rt.cfg.JournalMatch
	case kindSyslog:
		js.Syslog = cmp.Or(d.opts.SyslogListen, syslog.DefaultAddress)
	}
	if !withBans {
		return js, nil
	}
	bans, err := d.eng.Bans(name)
	if err != nil {
		return control.JailStatus{}, err
	}
	js.Banned = make([]string, 0, len(bans))
	for _, b := range bans {
		js.Banned = append(js.Banned, prefixString(b.Prefix))
	}
	return js, nil
}

func (d *Daemon) unknownJail(name string) error {
	known := d.eng.Jails()
	if len(known) == 0 {
		return fmt.Errorf("%w: jail %q: no jail is enabled", control.ErrNotFound, name)
	}
	return fmt.Errorf("%w: jail %q (enabled jails: %s)", control.ErrNotFound, name, strings.Join(known, ", "))
}

// parseTargets parses addresses and CIDR prefixes; every bad one is named.
func parseTargets(targets []string) ([]netip.Prefix, error) {
	if len(targets) == 0 {
		return nil, fmt.Errorf("%w: no address given", control.ErrInvalid)
	}
	var out []netip.Prefix
	var bad []string
	for _, t := range targets {
		p, err := ParseTarget(t)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q", t))
			continue
		}
		out = append(out, p)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: not an IP address or CIDR prefix: %s", control.ErrInvalid, strings.Join(bad, ", "))
	}
	return out, nil
}

// ParseTarget parses an address ("192.0.2.1", "2001:db8::1") or a CIDR
// prefix ("198.51.100.0/24"); IPv4-mapped IPv6 becomes IPv4.
func ParseTarget(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a := p.Addr()
		if a.Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("prefix %s is wider than the IPv4-mapped range", s)
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("address %s has a zone", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Ban implements control.Daemon.
func (d *Daemon) Ban(ctx context.Context, r control.BanRequest) (control.BanResult, error) {
	ps, err := parseTargets(r.Targets)
	if err != nil {
		return control.BanResult{}, err
	}
	guard := d.guard
	if r.Client != "" {
		c, err := netip.ParseAddr(r.Client)
		if err != nil {
			return control.BanResult{}, fmt.Errorf("%w: client address %q: %v", control.ErrInvalid, r.Client, err)
		}
		guard = guard.WithClient(c)
	}
	if !r.Force {
		// The lockout guard: never ban an administrator's own session.
		for _, p := range ps {
			if reason, refused := guard.Check(p); refused {
				return control.BanResult{}, fmt.Errorf("%w: %s", control.ErrRefused, reason)
			}
		}
	}
	var res control.BanResult
	err = d.do(ctx, func() error {
		if _, ok := d.jails[r.Jail]; !ok {
			return d.unknownJail(r.Jail)
		}
		var ds []engine.Decision
		for _, p := range ps {
			dec, err := d.eng.ManualBan(engine.BanRequest{Jail: r.Jail, Prefix: p, Force: r.Force})
			if errors.Is(err, engine.ErrIgnored) {
				// Commit what was banned before refusing the rest.
				if cerr := d.commit(ctx, ds); cerr != nil {
					return cerr
				}
				return fmt.Errorf("%w: %v", control.ErrRefused, err)
			}
			if err != nil {
				return err
			}
			ds = append(ds, dec)
		}
		if err := d.commit(ctx, ds); err != nil {
			return err
		}
		for _, dec := range ds {
			res.Bans = append(res.Bans, decisionBan(dec))
		}
		return nil
	})
	return res, err
}

// Unban implements control.Daemon.
func (d *Daemon) Unban(ctx context.Context, r control.UnbanRequest) (control.BanResult, error) {
	var ps []netip.Prefix
	if !r.All {
		var err error
		if ps, err = parseTargets(r.Targets); err != nil {
			return control.BanResult{}, err
		}
	} else if len(r.Targets) > 0 {
		return control.BanResult{}, fmt.Errorf("%w: --all takes no address", control.ErrInvalid)
	}
	var res control.BanResult
	err := d.do(ctx, func() error {
		if r.Jail != "" {
			if _, ok := d.jails[r.Jail]; !ok {
				return d.unknownJail(r.Jail)
			}
		}
		var ds []engine.Decision
		if r.All {
			if r.Jail == "" {
				ds = d.eng.UnbanAll()
			} else {
				bans, _ := d.eng.Bans(r.Jail)
				for _, b := range bans {
					out, _ := d.eng.Unban(r.Jail, b.Prefix)
					ds = append(ds, out...)
				}
			}
		}
		for _, p := range ps {
			out, err := d.eng.Unban(r.Jail, p)
			if err != nil {
				return err
			}
			if len(out) == 0 {
				res.NotBanned = append(res.NotBanned, prefixString(p))
			}
			ds = append(ds, out...)
		}
		if err := d.commit(ctx, ds); err != nil {
			return err
		}
		for _, dec := range ds {
			res.Bans = append(res.Bans, control.Ban{Jail: dec.Jail, Prefix: prefixString(dec.Prefix), EndReason: dec.Reason})
		}
		return nil
	})
	return res, err
}

// Banned implements control.Daemon.
func (d *Daemon) Banned(ctx context.Context, addr string) (control.Banned, error) {
	var res control.Banned
	var a netip.Addr
	if addr != "" {
		p, err := ParseTarget(addr)
		if err != nil || !p.IsSingleIP() {
			return res, fmt.Errorf("%w: not an IP address: %q", control.ErrInvalid, addr)
		}
		a = p.Addr()
		res.Addr = a.String()
	}
	err := d.do(ctx, func() error {
		var active []engine.ActiveBan
		if a.IsValid() {
			active = d.eng.BannedIn(a)
		} else {
			active, _ = d.eng.Bans("")
		}
		res.Active = make([]control.Ban, 0, len(active))
		for _, b := range active {
			res.Active = append(res.Active, control.Ban{
				Jail: b.Jail, Prefix: prefixString(b.Prefix), Start: b.Start, End: b.End,
				Permanent: b.End.IsZero(), Failures: b.Failures, Manual: b.Manual,
				Count: b.Count, Category: b.Category,
			})
		}
		return nil
	})
	if err != nil || !a.IsValid() {
		return res, err
	}
	// History is read from the store, outside the loop: it may be long.
	if err := d.syncStore(ctx); err != nil {
		return res, err
	}
	hist, err := d.opts.Store.History(ctx, a)
	if err != nil {
		return res, fmt.Errorf("reading ban history: %w", err)
	}
	for _, b := range hist {
		res.History = append(res.History, storeBan(b))
	}
	return res, nil
}

// Reload implements control.Daemon: it re-reads the configuration and
// restarts the sources, keeping every failure count and ban.
func (d *Daemon) Reload(ctx context.Context, r control.ReloadRequest) (control.ReloadResult, error) {
	var res control.ReloadResult
	err := d.do(ctx, func() error {
		cfg, jails, err := d.load()
		if err != nil {
			return fmt.Errorf("%w: reload refused, the running configuration is unchanged: %v", control.ErrInvalid, err)
		}
		if r.Jail != "" {
			if _, ok := jails[r.Jail]; !ok {
				return fmt.Errorf("%w: jail %q is not enabled in the new configuration", control.ErrNotFound, r.Jail)
			}
		}
		for n := range jails {
			if _, ok := d.jails[n]; !ok {
				res.Added = append(res.Added, n)
			}
		}
		for n := range d.jails {
			if _, ok := jails[n]; !ok {
				res.Removed = append(res.Removed, n)
			}
		}
		d.stopPipeline(ctx)
		d.flushOffsets()
		err = d.apply(ctx, cfg, jails)
		if err == nil && len(res.Added) > 0 {
			// Bans of a jail that comes back are enforced again.
			err = d.restoreJails(ctx, res.Added)
		}
		d.startPipeline()
		if err != nil {
			return err
		}
		res.Jails = d.eng.Jails()
		slices.Sort(res.Added)
		slices.Sort(res.Removed)
		d.log.Info("configuration reloaded", "jails", res.Jails, "added", res.Added, "removed", res.Removed)
		return nil
	})
	return res, err
}

// restoreJails restores the store's active bans of the named jails.
func (d *Daemon) restoreJails(ctx context.Context, names []string) error {
	n, err := d.restoreBans(ctx, func(jail string) bool { return slices.Contains(names, jail) })
	if err != nil || n == 0 || d.opts.Firewall == nil {
		return err
	}
	return d.replaceAll()
}

func decisionBan(dec engine.Decision) control.Ban {
	return control.Ban{
		Jail: dec.Jail, Prefix: prefixString(dec.Prefix), Start: dec.Start, End: dec.End,
		Permanent: dec.End.IsZero(), Failures: dec.Failures, Manual: dec.Manual, Matches: dec.Matches,
		Count: dec.Count, Category: dec.Category,
	}
}

func storeBan(b store.Ban) control.Ban {
	return control.Ban{
		Jail: b.Jail, Prefix: prefixString(b.Prefix), Start: b.Start, End: b.End,
		Permanent: b.End.IsZero(), Failures: b.Failures, Manual: b.Manual, Matches: b.Matches,
		Count: b.Count, Category: b.Category, EndedAt: b.EndedAt, EndReason: b.EndReason,
	}
}

// missingFiles lists the log paths of a jail that do not exist now.
func missingFiles(rt *jailRuntime) []string {
	var out []string
	for _, m := range rt.missing {
		if _, err := os.Stat(m); err != nil {
			out = append(out, m)
		}
	}
	return out
}
