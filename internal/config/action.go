package config

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/gaol-project/gaol/internal/firewall/command"
	"github.com/gaol-project/gaol/internal/ini"
)

// actionCommands maps the command options of an action.d file to the
// fields of command.Action.
var actionCommands = map[string]func(*command.Action) *string{
	"actionstart":   func(a *command.Action) *string { return &a.Start },
	"actionstop":    func(a *command.Action) *string { return &a.Stop },
	"actioncheck":   func(a *command.Action) *string { return &a.Check },
	"actionban":     func(a *command.Action) *string { return &a.Ban },
	"actionunban":   func(a *command.Action) *string { return &a.Unban },
	"actionflush":   func(a *command.Action) *string { return &a.Flush },
	"actionprolong": func(a *command.Action) *string { return &a.Prolong },
	"actionrepair":  func(a *command.Action) *string { return &a.Repair },
	"actionreban":   func(a *command.Action) *string { return &a.Reban },
}

// NativeAction reports whether an action is one gaol carries out itself,
// through its own firewall backend (nftables, or iptables with ipset): the
// kernel-firewall actions of fail2ban, which differ only in how they ban.
func NativeAction(name string) bool {
	return strings.HasPrefix(name, "nftables") || strings.HasPrefix(name, "iptables")
}

// actions reads the jail's action setting: the actions gaol runs as
// fail2ban's action.d commands (mail, ufw, firewalld, ...). Kernel firewall
// actions (nftables-*, iptables-*) are left to gaol's own backend. Without
// an action setting, banaction decides.
func (p *jailParser) actions() {
	j := p.j
	s, at, ok := p.get("action")
	if !ok || strings.TrimSpace(s) == "" {
		if !NativeAction(j.BanAction) && j.BanAction != "" {
			s, at = j.BanAction, j.Loc
			if v, found := p.c.Lookup(j.Name, "banaction"); found {
				at = v.Loc
			}
		} else {
			return
		}
	}
	for _, spec := range splitActions(s) {
		name, params, err := parseFilterSpec(spec)
		if err != nil {
			p.fail(at, "action", errors.New(strings.Replace(err.Error(), "filter", "action", 1)))
			continue
		}
		if NativeAction(name) {
			j.NativeBan = true
			continue
		}
		if !j.Enabled {
			continue
		}
		a, err := p.l.action(j, name, params, at)
		if err != nil {
			p.l.fail(err)
			continue
		}
		j.Actions = append(j.Actions, a)
	}
}

// splitActions splits an action value into its action specifications:
// one per line, or several on a line, separated by blanks outside
// brackets and quotes.
func splitActions(s string) []string {
	var out []string
	var cur strings.Builder
	depth := 0
	var quote rune
	flush := func() {
		if t := strings.TrimSpace(cur.String()); t != "" {
			out = append(out, t)
		}
		cur.Reset()
	}
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '[':
			depth++
		case r == ']':
			depth = max(depth-1, 0)
		case depth == 0 && (r == '\n' || r == ' ' || r == '\t'):
			// A blank before "[" belongs to the spec: "name [opts]".
			flush()
			continue
		}
		cur.WriteRune(r)
	}
	flush()
	// Rejoin "name" "[opts]" split by a blank.
	var joined []string
	for _, t := range out {
		if strings.HasPrefix(t, "[") && len(joined) > 0 {
			joined[len(joined)-1] += t
			continue
		}
		joined = append(joined, t)
	}
	return joined
}

// action loads action.d/NAME for jail j, as fail2ban's client does: the
// file's [Definition] options interpolated, its [Init] values, and the
// jail's parameters on top; the commands are kept with their tags for the
// command backend to substitute at run time.
func (l *loader) action(j *Jail, name string, params map[string]string, at ini.Location) (command.Action, error) {
	c, err := l.ini.Load("action.d/" + name)
	if errors.Is(err, fs.ErrNotExist) {
		return command.Action{}, ini.Errorf(at, "jail %q: action %q not found (looked in %s)", j.Name, name, l.where("action.d"))
	}
	if err != nil {
		return command.Action{}, err
	}
	vars := ini.Vars{}
	if _, ok := params["name"]; !ok {
		vars["name"] = &ini.Value{Key: "name", Raw: j.Name, Loc: at}
	}
	for k, v := range params {
		vars[k] = &ini.Value{Key: k, Raw: v, Loc: at}
	}
	a := command.Action{Name: name, Init: map[string]string{"name": j.Name}}
	get := func(section, key string) (string, error) {
		v, _ := c.Lookup(section, key)
		s, err := c.Expand(section, v, vars)
		if err != nil {
			return "", fmt.Errorf("jail %q: action %q: %w", j.Name, name, err)
		}
		return s, nil
	}
	for _, section := range append([]string{ini.DefaultSection}, c.Sections()...) {
		if section == ini.IncludesSection || section == "Init" {
			continue
		}
		for _, key := range c.Keys(section) {
			v, err := get(section, key)
			if err != nil {
				return command.Action{}, err
			}
			field := actionCommands[key]
			switch {
			case section == "Definition" && field != nil:
				*field(&a) = v
			case section == "Definition" || section == ini.DefaultSection:
				a.Init[key] = v
			default:
				a.Init[section+"/"+key] = v
			}
		}
	}
	for _, key := range c.Keys("Init") {
		v, err := get("Init", key)
		if err != nil {
			return command.Action{}, err
		}
		a.Init[key] = v
	}
	for k, v := range params {
		a.Init[k] = v
	}
	if a.Ban == "" {
		return command.Action{}, ini.Errorf(at, "jail %q: action %q has no actionban", j.Name, name)
	}
	return a, nil
}
