package daemon

import (
	"net/netip"
	"time"

	"github.com/gaol-project/gaol/internal/engine"
	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/firewall/command"
)

// setupActions gives the command backend the action.d actions of the
// jails that have some, and starts them (actionstart).
func (d *Daemon) setupActions(fjails map[string]firewall.Jail) error {
	if d.actions == nil {
		return nil
	}
	acts := map[string][]command.Action{}
	var js []firewall.Jail
	for name, rt := range d.jails {
		if len(rt.cfg.Actions) > 0 {
			acts[name] = rt.cfg.Actions
			js = append(js, fjails[name])
		}
	}
	d.actions.SetActions(acts)
	return d.actions.Setup(js)
}

// runActions runs the action.d actions for decisions: actionban with the
// ban's details as tags (failures, matches, ban count, ...), actionunban.
// Expired bans need nothing: the backend unbans on its own timer.
func (d *Daemon) runActions(ds []engine.Decision, restored bool) {
	if d.actions == nil {
		return
	}
	now := d.now()
	bans := map[string][]command.Info{}
	unbans := map[string][]netip.Prefix{}
	for _, dec := range ds {
		rt, ok := d.jails[dec.Jail]
		if !ok || len(rt.cfg.Actions) == 0 {
			continue
		}
		switch {
		case dec.Action == engine.Ban:
			el, ok := element(dec.Prefix, dec.End, now)
			if !ok {
				continue
			}
			bantime := time.Duration(-1)
			if !dec.End.IsZero() {
				bantime = dec.End.Sub(dec.Start)
			}
			bans[dec.Jail] = append(bans[dec.Jail], command.Info{
				Prefix: dec.Prefix, Timeout: el.Timeout, BanTime: bantime, Time: dec.Start,
				Failures: dec.Failures, IPFailures: dec.Failures, IPJailFailures: dec.Failures,
				Matches: dec.Matches, IPMatches: dec.Matches, IPJailMatches: dec.Matches,
				Count: dec.Count, Restored: restored,
			})
		case dec.Reason != engine.ReasonExpired:
			unbans[dec.Jail] = append(unbans[dec.Jail], dec.Prefix)
		}
	}
	for j, ps := range unbans {
		if err := d.actions.Unban(j, ps); err != nil {
			d.log.Error("actionunban failed", "jail", j, "err", err)
		}
	}
	for j, infos := range bans {
		if err := d.actions.BanInfo(j, infos); err != nil {
			d.log.Error("actionban failed", "jail", j, "err", err)
		}
	}
}
