package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gaol-project/gaol/internal/ini"
)

// Defaults of the ban policy settings.
const (
	DefaultBanPrefix4   = 32
	DefaultBanPrefix6   = 64
	DefaultSubnetCount  = 5
	DefaultSubnetWindow = time.Hour
	DefaultSubnet4      = 24
	DefaultSubnet6      = 48
)

// Increment is fail2ban's bantime.increment: each ban of an address lasts
// longer than the one before.
type Increment struct {
	Factor       float64       // bantime.factor (default 1)
	Formula      Expr          // bantime.formula; empty: fail2ban's default
	Multipliers  []float64     // bantime.multipliers; if set, used instead of the formula
	MaxTime      time.Duration // bantime.maxtime; 0 = no limit
	RndTime      time.Duration // bantime.rndtime; 0 = no randomness
	OverallJails bool          // bantime.overalljails
}

// Expr is an expression with the place it was written.
type Expr struct {
	Src string
	Loc ini.Location
}

// Window is an extra (maxretry, findtime) pair of a jail.
type Window struct {
	MaxRetry int
	FindTime time.Duration
}

// Subnet is the subnet escalation of a jail: once Count addresses of one
// subnet (/Bits4 or /Bits6) are banned within Window, the subnet is.
type Subnet struct {
	Count        int
	Window       time.Duration
	Bits4, Bits6 int
}

// policy reads the ban policy settings beyond fail2ban's basic ones.
func (p *jailParser) policy() {
	j := p.j
	j.BanPrefix4, j.BanPrefix6 = DefaultBanPrefix4, DefaultBanPrefix6
	p.bits("banprefix.ipv4", 1, 32, &j.BanPrefix4)
	p.bits("banprefix.ipv6", 1, 128, &j.BanPrefix6)

	if s, at, ok := p.get("windows"); ok && strings.TrimSpace(s) != "" {
		ws, err := parseWindows(s)
		if err != nil {
			p.fail(at, "windows", err)
		}
		j.Windows = ws
	}

	if p.flag("bantime.increment") {
		inc := &Increment{Factor: 1}
		if s, at, ok := p.get("bantime.factor"); ok && strings.TrimSpace(s) != "" {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || f <= 0 {
				p.fail(at, "bantime.factor", fmt.Errorf("%q is not a positive number", s))
			} else {
				inc.Factor = f
			}
		}
		if s, at, ok := p.get("bantime.formula"); ok && strings.TrimSpace(s) != "" {
			inc.Formula = Expr{Src: strings.Join(strings.Fields(s), " "), Loc: at}
		}
		if s, at, ok := p.get("bantime.multipliers"); ok && strings.TrimSpace(s) != "" {
			for _, f := range strings.Fields(s) {
				m, err := strconv.ParseFloat(f, 64)
				if err != nil || m <= 0 {
					p.fail(at, "bantime.multipliers", fmt.Errorf("%q is not a positive number", f))
					break
				}
				inc.Multipliers = append(inc.Multipliers, m)
			}
		}
		p.duration("bantime.maxtime", &inc.MaxTime)
		p.duration("bantime.rndtime", &inc.RndTime)
		inc.OverallJails = p.flag("bantime.overalljails")
		j.Increment = inc
	}

	if p.flag("subnet.escalate") {
		sn := &Subnet{Count: DefaultSubnetCount, Window: DefaultSubnetWindow, Bits4: DefaultSubnet4, Bits6: DefaultSubnet6}
		if s, at, ok := p.get("subnet.count"); ok && strings.TrimSpace(s) != "" {
			n, err := parsePositive(s)
			if err == nil && n < 2 {
				err = fmt.Errorf("must be at least 2, got %d", n)
			}
			if err != nil {
				p.fail(at, "subnet.count", err)
			} else {
				sn.Count = n
			}
		}
		p.duration("subnet.window", &sn.Window)
		p.bits("subnet.ipv4", 1, 31, &sn.Bits4)
		p.bits("subnet.ipv6", 1, 127, &sn.Bits6)
		j.Subnet = sn
	}
}

// flag reads a boolean setting; unset is false.
func (p *jailParser) flag(key string) bool {
	s, at, ok := p.get(key)
	if !ok || strings.TrimSpace(s) == "" {
		return false
	}
	b, err := parseBool(s)
	if err != nil {
		p.fail(at, key, err)
	}
	return b
}

// duration reads a positive duration setting into d, if set.
func (p *jailParser) duration(key string, d *time.Duration) {
	s, at, ok := p.get(key)
	if !ok || strings.TrimSpace(s) == "" {
		return
	}
	v, err := ParseDuration(s)
	if err == nil && v <= 0 {
		err = fmt.Errorf("must be positive, got %q", s)
	}
	if err != nil {
		p.fail(at, key, err)
		return
	}
	*d = v
}

// bits reads a prefix length setting within [lo, hi] into n, if set.
func (p *jailParser) bits(key string, lo, hi int, n *int) {
	s, at, ok := p.get(key)
	if !ok || strings.TrimSpace(s) == "" {
		return
	}
	v, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(s), "/"))
	if err != nil || v < lo || v > hi {
		p.fail(at, key, fmt.Errorf("%q is not a prefix length from %d to %d", s, lo, hi))
		return
	}
	*n = v
}

// parseWindows parses "20/1d 100/1w": extra maxretry/findtime pairs.
func parseWindows(s string) ([]Window, error) {
	var out []Window
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		count, dur, ok := strings.Cut(f, "/")
		if !ok {
			return nil, fmt.Errorf("%q is not MAXRETRY/FINDTIME (for example 20/1d)", f)
		}
		n, err := parsePositive(count)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", f, err)
		}
		d, err := ParseDuration(dur)
		if err == nil && d <= 0 {
			err = errors.New("must be positive")
		}
		if err != nil {
			return nil, fmt.Errorf("%q: findtime: %w", f, err)
		}
		out = append(out, Window{MaxRetry: n, FindTime: d})
	}
	return out, nil
}
