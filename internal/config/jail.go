package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gaol-project/gaol/internal/ini"
	"github.com/gaol-project/gaol/internal/match/date"
)

// jailParser reads the settings of one jail section.
type jailParser struct {
	l      *loader
	c      *ini.Config
	j      *Jail
	strict bool            // report errors (the jail is enabled)
	failed map[string]bool // keys whose value could not be interpolated
}

// jail reads the jail called name.
func (l *loader) jail(c *ini.Config, name string) *Jail {
	loc, _ := c.SectionLoc(name)
	j := &Jail{
		Name:       name,
		Loc:        loc,
		Backend:    DefaultBackend,
		MaxRetry:   DefaultMaxRetry,
		FindTime:   DefaultFindTime,
		BanTime:    DefaultBanTime,
		IgnoreSelf: true,
		Protocol:   DefaultProtocol,
		BanAction:  DefaultBanAction,
	}
	p := &jailParser{l: l, c: c, j: j, strict: true, failed: map[string]bool{}}

	// enabled decides how strictly the rest is read, so it is always
	// checked. Errors about what an enabled jail lacks point at the line
	// that enabled it.
	enabledLoc := loc
	if s, at, ok := p.get("enabled"); ok {
		if strings.EqualFold(strings.TrimSpace(s), "auto") {
			j.Enabled, j.Auto = p.autoEnable()
		} else {
			b, err := parseBool(s)
			if err != nil {
				p.fail(at, "enabled", fmt.Errorf("invalid value %q (want true, false or auto)", s))
			}
			j.Enabled = b
		}
		enabledLoc = at
	}
	p.strict = j.Enabled

	if s, _, ok := p.get("backend"); ok && strings.TrimSpace(s) != "" {
		j.Backend = strings.TrimSpace(s)
	}
	if s, _, ok := p.get("logpath"); ok {
		j.LogPath = splitLogPath(s)
	}
	// fail2ban's recidive jail reads fail2ban's own log for its bans; gaol
	// feeds it its bans directly.
	if s, _, ok := p.get("filter"); ok {
		name, _, _ := parseFilterSpec(strings.TrimSpace(s))
		j.Recidive = name == "recidive"
	} else {
		j.Recidive = name == "recidive"
	}
	if j.Recidive {
		j.LogPath = nil
	}
	if s, _, ok := p.get("syslog.programs"); ok {
		j.SyslogPrograms = strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
	}
	if s, _, ok := p.get("syslog.hosts"); ok {
		j.SyslogHosts = strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
	}
	if len(j.LogPath) == 0 && !p.failed["logpath"] && !j.Recidive && !strings.HasPrefix(j.Backend, "systemd") && j.Backend != "syslog" {
		p.fail(enabledLoc, "logpath", errors.New("not set (give the log files to watch, or use backend = systemd)"))
	}
	if s, at, ok := p.get("maxretry"); ok {
		if n, err := parsePositive(s); err != nil {
			p.fail(at, "maxretry", err)
		} else {
			j.MaxRetry = n
		}
	}
	if s, at, ok := p.get("findtime"); ok {
		d, err := ParseDuration(s)
		if err == nil && d <= 0 {
			err = fmt.Errorf("must be positive, got %q", s)
		}
		if err != nil {
			p.fail(at, "findtime", err)
		} else {
			j.FindTime = d
		}
	}
	if s, at, ok := p.get("bantime"); ok {
		d, err := ParseDuration(s)
		if err == nil && d == 0 {
			err = errors.New("must not be 0 (use a duration, or -1 for permanent bans)")
		}
		if err != nil {
			p.fail(at, "bantime", err)
		} else {
			j.BanTime = d
		}
	}
	if s, at, ok := p.get("usedns"); ok && strings.TrimSpace(s) != "" {
		if v, err := parseUseDNS(s); err != nil {
			p.fail(at, "usedns", err)
		} else {
			j.UseDNS = v
		}
	}
	if s, at, ok := p.get("logtimezone"); ok && strings.TrimSpace(s) != "" {
		s = strings.TrimSpace(s)
		if _, err := date.ParseTimeZone(s); err != nil {
			p.fail(at, "logtimezone", err)
		} else {
			j.LogTimeZone = s
		}
	}
	p.ignore()
	if s, at, ok := p.get("protocol"); ok {
		if proto, err := parseProtocol(s); err != nil {
			p.fail(at, "protocol", err)
		} else {
			j.Protocol = proto
		}
	}
	if s, at, ok := p.get("port"); ok {
		if ports, err := parsePorts(s, j.Protocol); err != nil {
			p.fail(at, "port", err)
		} else {
			j.Ports = ports
		}
	}
	if s, _, ok := p.get("banaction"); ok && strings.TrimSpace(s) != "" {
		j.BanAction = strings.TrimSpace(s)
	}
	p.policy()
	p.filter()
	p.actions()
	if _, set := p.c.Lookup(name, "action"); !set && NativeAction(j.BanAction) {
		j.NativeBan = true
	}
	if s, _, ok := p.get("journalmatch"); ok && strings.TrimSpace(s) != "" {
		j.JournalMatch = strings.TrimSpace(s)
	} else if j.Filter != nil {
		j.JournalMatch = j.Filter.JournalMatch
	}
	return j
}

// get returns the interpolated value of key as the jail sees it, and where
// it was written. An interpolation error is reported and counts as unset.
func (p *jailParser) get(key string) (string, ini.Location, bool) {
	v, ok := p.c.Lookup(p.j.Name, key)
	if !ok {
		return "", ini.Location{}, false
	}
	s, err := p.c.Expand(p.j.Name, v, nil)
	if err != nil {
		p.failed[key] = true
		var ie *ini.Error
		if errors.As(err, &ie) {
			p.fail(ie.Loc, key, ie.Err)
		} else {
			p.fail(v.Loc, key, err)
		}
		return "", v.Loc, false
	}
	return s, v.Loc, true
}

// fail reports a problem with key at loc, if the jail is read strictly.
func (p *jailParser) fail(loc ini.Location, key string, err error) {
	if p.strict {
		p.l.fail(&ini.Error{Loc: loc, Err: fmt.Errorf("jail %q: %s: %w", p.j.Name, key, err)})
	}
}

// filter reads the jail's filter setting and, for an enabled jail, the
// filter itself.
func (p *jailParser) filter() {
	j := p.j
	spec, at := j.Name, j.Loc
	if s, loc, ok := p.get("filter"); ok {
		spec, at = strings.TrimSpace(s), loc
	} else if p.failed["filter"] {
		return // already reported
	}
	name, opts, err := parseFilterSpec(spec)
	if err != nil {
		p.fail(at, "filter", err)
		return
	}
	if !j.Enabled || j.Recidive {
		// A recidive jail's filter would read fail2ban's log; gaol feeds
		// it bans instead.
		j.Filter = &Filter{Name: name, Options: opts}
		return
	}
	f, err := p.l.filter(j, name, opts, at)
	if err != nil {
		p.l.fail(err)
		return
	}
	j.Filter = f
}

// splitLogPath splits a logpath value into its paths: one or more per line,
// separated by white space. fail2ban's optional " head" or " tail" at the
// end of a line (where to start reading a new file) is dropped for now.
func splitLogPath(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if n := len(f); n > 1 && (f[n-1] == "head" || f[n-1] == "tail") {
			f = f[:n-1]
		}
		out = append(out, f...)
	}
	return out
}
