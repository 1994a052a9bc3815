// Package policy turns a configured jail into the engine's ban policy, for
// every user of the engine (the daemon, and gaol scan's replay).
package policy

import (
	"fmt"

	"github.com/gaol-project/gaol/internal/config"
	"github.com/gaol-project/gaol/internal/engine"
	"github.com/gaol-project/gaol/internal/engine/formula"
)

// Engine is the ban policy of jail j as the engine takes it: maxretry,
// findtime, bantime, extra windows, ban prefixes, bantime.increment (with
// its formula compiled), subnet escalation and recidive.
func Engine(j *config.Jail, ignore engine.IgnoreSet) (engine.JailConfig, error) {
	bantime := j.BanTime
	if bantime < 0 {
		bantime = engine.Permanent
	}
	ec := engine.JailConfig{
		Name: j.Name, MaxRetry: j.MaxRetry, FindTime: j.FindTime, BanTime: bantime, Ignore: ignore,
		Prefix4: j.BanPrefix4, Prefix6: j.BanPrefix6, Recidive: j.Recidive,
	}
	for _, w := range j.Windows {
		ec.Windows = append(ec.Windows, engine.Window{MaxRetry: w.MaxRetry, FindTime: w.FindTime})
	}
	if inc := j.Increment; inc != nil {
		ei := &engine.Increment{
			Factor: inc.Factor, Multipliers: inc.Multipliers,
			MaxTime: inc.MaxTime, RndTime: inc.RndTime, OverallJails: inc.OverallJails,
		}
		if src := inc.Formula.Src; src != "" {
			x, err := formula.Compile(src)
			if err != nil {
				return engine.JailConfig{}, fmt.Errorf("%s: bantime.formula: %w", inc.Formula.Loc, err)
			}
			ei.Formula = func(banTime float64, count int, factor float64) (float64, error) {
				return x.Eval(formula.Vars{Time: banTime, Count: count, Factor: factor})
			}
		}
		ec.Increment = ei
	}
	if sn := j.Subnet; sn != nil {
		ec.Subnet = &engine.SubnetRule{Count: sn.Count, Window: sn.Window, Bits4: sn.Bits4, Bits6: sn.Bits6}
	}
	return ec, nil
}
