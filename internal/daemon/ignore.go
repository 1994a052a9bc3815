package daemon

import (
	"context"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gaol-project/gaol/internal/ignore"
)

// jailIgnore is what a jail never bans, kept up to date: its ignoreip list
// (host names re-resolved, file: lists re-read), the host's own addresses,
// and the addresses of logged-in administrators.
type jailIgnore struct {
	spec *ignore.Spec
	list ignore.Set                 // the list as last resolved
	next time.Time                  // when the list is due for a refresh; zero: never
	set  atomic.Pointer[ignore.Set] // list plus sessions, as the engine has it
}

// resolveIgnore resolves the ignore list of a jail for the first time.
func (d *Daemon) resolveIgnore(ctx context.Context, name string, rt *jailRuntime) {
	snap, errs := rt.ignore.spec.Resolve(ctx, d.opts.Resolver, d.now())
	for _, err := range errs {
		d.log.Warn("ignoreip", "jail", name, "err", err)
	}
	rt.ignore.list, rt.ignore.next = snap.Set, snap.NextRefresh
}

// ignoreSet combines a jail's list with the protected sessions.
func (d *Daemon) ignoreSet(rt *jailRuntime) *ignore.Set {
	ps := slices.Clone(rt.ignore.list.Prefixes())
	for _, a := range d.sessions {
		ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
	}
	s := ignore.NewSet(ps...)
	return &s
}

// pushIgnore gives every jail's ignore set to the engine and the matchers.
func (d *Daemon) pushIgnore() {
	for name, rt := range d.jails {
		s := d.ignoreSet(rt)
		rt.ignore.set.Store(s)
		d.eng.SetIgnore(name, s)
	}
}

// refreshIgnore runs on every tick: it notices logins and logouts (utmp)
// and starts the refresh of ignore lists that are due, in the background,
// since host name lookups can take seconds.
func (d *Daemon) refreshIgnore(ctx context.Context) {
	changed := false
	if sessions, err := d.guard.Sessions(); err == nil {
		var addrs []netip.Addr
		for _, s := range sessions {
			addrs = append(addrs, s.Addr)
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
		addrs = slices.Compact(addrs)
		if !slices.Equal(addrs, d.sessions) {
			d.sessions = addrs
			changed = true
			d.log.Info("logged-in SSH sessions are never banned", "addresses", addrs)
		}
	}
	if changed {
		d.pushIgnore()
	}
	if d.resolving {
		return
	}
	now := d.now()
	due := map[string]*ignore.Spec{}
	for name, rt := range d.jails {
		if !rt.ignore.next.IsZero() && !now.Before(rt.ignore.next) {
			due[name] = rt.ignore.spec
		}
	}
	if len(due) == 0 {
		return
	}
	d.resolving = true
	go func() {
		snaps := map[string]ignore.Snapshot{}
		for name, spec := range due {
			snap, errs := spec.Resolve(ctx, d.opts.Resolver, now)
			for _, err := range errs {
				d.log.Warn("ignoreip", "jail", name, "err", err)
			}
			snaps[name] = snap
		}
		d.do(ctx, func() error {
			d.resolving = false
			for name, snap := range snaps {
				rt, ok := d.jails[name]
				if !ok || rt.ignore.spec != due[name] {
					continue // reloaded meanwhile
				}
				rt.ignore.next = snap.NextRefresh
				if snap.Changed {
					rt.ignore.list = snap.Set
					s := d.ignoreSet(rt)
					rt.ignore.set.Store(s)
					d.eng.SetIgnore(name, s)
				}
			}
			return nil
		})
	}()
}
