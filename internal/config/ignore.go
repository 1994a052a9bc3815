package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gaol-project/gaol/internal/ignore"
)

// ignore reads ignoreself, ignoreip, ignorecommand and ignorecache.
func (p *jailParser) ignore() {
	j := p.j
	if s, at, ok := p.get("ignoreself"); ok {
		if b, err := parseBool(s); err != nil {
			p.fail(at, "ignoreself", err)
		} else {
			j.IgnoreSelf = b
		}
	}
	spec := &ignore.Spec{}
	if s, at, ok := p.get("ignoreip"); ok {
		parsed, err := ignore.Parse(s)
		if err != nil {
			p.fail(at, "ignoreip", err)
		} else {
			spec = parsed
		}
	}
	spec.Self = j.IgnoreSelf
	spec.BaseDir = p.l.overlay.upperDir
	j.Ignore = spec
	for _, e := range spec.Entries() {
		if e.Kind == ignore.KindPrefix {
			j.IgnoreIP = append(j.IgnoreIP, e.Prefix)
		}
	}

	s, at, ok := p.get("ignorecommand")
	if !ok || strings.TrimSpace(s) == "" {
		return
	}
	cc := &ignore.CommandConfig{Command: strings.TrimSpace(s)}
	if _, err := ignore.NewCommand(*cc); err != nil {
		p.fail(at, "ignorecommand", err)
		return
	}
	if s, at, ok := p.get("ignorecache"); ok && strings.TrimSpace(s) != "" {
		if err := parseIgnoreCache(s, cc); err != nil {
			p.fail(at, "ignorecache", err)
		}
	}
	j.IgnoreCommand = cc
}

// parseIgnoreCache parses fail2ban's ignorecache option,
// `key="<F-USER>@<ip-host>", max-count=100, max-time=5m`, into cc.
func parseIgnoreCache(s string, cc *ignore.CommandConfig) error {
	for _, item := range splitOptions(s) {
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			return fmt.Errorf("%q is not key=value", item)
		}
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)
		switch k {
		case "key":
			cc.CacheKey = v
		case "max-count":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("max-count: %q is not a positive number", v)
			}
			cc.CacheSize = n
		case "max-time":
			d, err := ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("max-time: %q is not a positive duration", v)
			}
			cc.CacheTTL = d
		default:
			return fmt.Errorf("unknown setting %q (want key, max-count, max-time)", k)
		}
	}
	return nil
}

// splitOptions splits on commas outside quotes.
func splitOptions(s string) []string {
	var out []string
	var quote rune
	start := 0
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == ',':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" {
		out = append(out, s[start:])
	}
	return out
}
