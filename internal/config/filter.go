package config

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/gaol-project/gaol/internal/ini"
)

// Filter is a filter as a jail uses it: its expressions with every
// configuration reference resolved.
//
// %(name)s references and option tags (<name> naming a filter option,
// <section/name>) are substituted; tags that name no option, such as
// <HOST>, <ADDR> or <F-USER>, are left for the matcher. Every expression
// keeps the location of the line it was written on.
type Filter struct {
	Name    string            // as in "filter = NAME[...]"
	File    string            // the first file read, e.g. "embedded:filter.d/sshd.conf"
	Options map[string]string // the jail's "filter = name[key=value, ...]" options

	PrefRegex   Regex   // empty Expr when the filter has none
	FailRegex   []Regex // one per non-empty line
	IgnoreRegex []Regex
	DatePattern string // one pattern per line (fail2ban allows several); empty for automatic detection
	MaxLines    int    // lines a multi-line failregex spans (default 1)
	// JournalMatch selects the journal entries the filter reads with
	// backend = systemd (fail2ban's syntax: "_SYSTEMD_UNIT=ssh.service + _COMM=sshd").
	JournalMatch string
	// Category names the kind of attack the filter's failures are (gaol's
	// "category =" in [Definition], e.g. "ssh-bruteforce"); a failregex
	// may name its own with a <CAT=name> tag. Empty when the filter does
	// not say.
	Category string
}

// Regex is one expression of a filter, as written (in Python's syntax,
// with fail2ban's tags) and where.
type Regex struct {
	Expr string
	Loc  ini.Location
}

// Limits on tag substitution, against self-referencing options.
const (
	maxTagPasses = 32
	maxTagLen    = 1 << 18
)

// filterFile is a filter's files, read once per Load.
type filterFile struct {
	c   *ini.Config
	err error
}

// readFilter reads filter.d/name (cached). found is false when no file of
// that name exists.
func (l *loader) readFilter(name string) (c *ini.Config, found bool, err error) {
	ff, ok := l.filters[name]
	if !ok {
		ff = &filterFile{}
		ff.c, ff.err = l.ini.Load("filter.d/" + name)
		l.filters[name] = ff
	}
	if errors.Is(ff.err, fs.ErrNotExist) {
		return nil, false, nil
	}
	return ff.c, true, ff.err
}

// filter builds the filter called name, with the options the jail j gives
// it in its filter setting at loc.
func (l *loader) filter(j *Jail, name string, opts map[string]string, at ini.Location) (*Filter, error) {
	c, found, err := l.readFilter(name)
	if err != nil {
		var ie *ini.Error
		if errors.As(err, &ie) {
			return nil, &ini.Error{Loc: ie.Loc, Err: fmt.Errorf("filter %q: %w", name, ie.Err)}
		}
		return nil, ini.Errorf(at, "jail %q: filter %q: %w", j.Name, name, err)
	}
	if !found {
		return nil, ini.Errorf(at, "jail %q: filter %q not found (looked in %s)", j.Name, name, l.where("filter.d"))
	}
	roots := c.Roots()
	if !c.HasSection("Definition") {
		return nil, ini.Errorf(ini.Location{File: roots[0]}, "filter %q: no [Definition] section", name)
	}
	b := &filterBuilder{c: c, name: name, vars: ini.Vars{}, tags: map[string]tagValue{}}
	for k, v := range opts {
		b.vars[k] = &ini.Value{Key: k, Raw: v, Loc: at}
	}
	// As fail2ban does, tell the filter where its lines come from unless
	// the jail or the filter's own [Definition] says so.
	if _, ok := b.vars["logtype"]; !ok {
		if _, own := c.LookupOwn("Definition", "logtype"); !own {
			logtype := "file"
			if strings.HasPrefix(j.Backend, "systemd") {
				logtype = "journal"
			}
			b.vars["logtype"] = &ini.Value{Key: "logtype", Raw: logtype, Loc: at}
		}
	}

	f := &Filter{Name: name, File: roots[0], Options: opts, MaxLines: DefaultMaxLines}
	if f.FailRegex, err = b.regexes("failregex"); err != nil {
		return nil, err
	}
	if len(f.FailRegex) == 0 {
		loc := ini.Location{File: roots[0]}
		if v, ok := c.Lookup("Definition", "failregex"); ok {
			loc = v.Loc
		}
		return nil, ini.Errorf(loc, "filter %q: no failregex", name)
	}
	if f.IgnoreRegex, err = b.regexes("ignoreregex"); err != nil {
		return nil, err
	}
	if line, ok, err := b.single("prefregex"); err != nil {
		return nil, err
	} else if ok {
		f.PrefRegex = Regex{Expr: line.Text, Loc: line.Loc}
	}
	if f.DatePattern, err = b.joined("datepattern"); err != nil {
		return nil, err
	}
	if f.JournalMatch, err = b.joined("journalmatch"); err != nil {
		return nil, err
	}
	if line, ok, err := b.single("category"); err != nil {
		return nil, err
	} else if ok {
		f.Category = line.Text
	}
	if line, ok, err := b.single("maxlines"); err != nil {
		return nil, err
	} else if ok {
		n, err := parsePositive(line.Text)
		if err != nil {
			return nil, ini.Errorf(line.Loc, "filter %q: maxlines: %w", name, err)
		}
		f.MaxLines = n
	}
	return f, nil
}

// filterBuilder resolves one filter's options for one jail.
type filterBuilder struct {
	c    *ini.Config
	name string
	vars ini.Vars // the jail's options: they override the filter's
	tags map[string]tagValue
}

type tagValue struct {
	s  string
	ok bool
}

// tagRE matches a tag, as fail2ban's TAG_CRE.
var tagRE = regexp.MustCompile(`<([^ <>]+)>`)

// option returns the lines of option key with %(...)s and tags resolved,
// following fail2ban's precedence: the jail's options, then the filter's
// [Init], then its [Definition] (and DEFAULT).
func (b *filterBuilder) option(key string) ([]ini.Line, error) {
	var raw []ini.Line
	switch v, ok := b.vars[key]; {
	case ok:
		raw = v.Lines()
	default:
		section := "Init"
		v, ok := b.c.LookupOwn(section, key)
		if !ok {
			section = "Definition"
			if v, ok = b.c.Lookup(section, key); !ok {
				return nil, nil
			}
		}
		var err error
		if raw, err = b.c.ExpandLines(section, v, b.vars); err != nil {
			return nil, b.wrap(key, err)
		}
	}
	var out []ini.Line
	for _, ln := range raw {
		lines, err := b.expandTags(ln, 0)
		if err != nil {
			return nil, b.wrap(key, err)
		}
		out = append(out, lines...)
	}
	return out, nil
}

// expandTags substitutes the tags of ln. A line that is a single tag
// naming a configuration value ("<mdre-<mode>>") gives that value's lines,
// each with its own location.
func (b *filterBuilder) expandTags(ln ini.Line, depth int) ([]ini.Line, error) {
	text := strings.TrimSpace(ln.Text)
	if depth < maxTagPasses && len(text) > 2 && text[0] == '<' && text[len(text)-1] == '>' {
		inner, err := b.substitute(text[1:len(text)-1], ln.Loc)
		if err != nil {
			return nil, err
		}
		if !strings.ContainsAny(inner, "<> \t\n") {
			if v, section, ok := b.tagValue(inner); ok && section != "" {
				lines, err := b.c.ExpandLines(section, v, b.vars)
				if err != nil {
					return nil, err
				}
				var out []ini.Line
				for _, l := range lines {
					sub, err := b.expandTags(l, depth+1)
					if err != nil {
						return nil, err
					}
					out = append(out, sub...)
				}
				return out, nil
			}
		}
	}
	s, err := b.substitute(ln.Text, ln.Loc)
	if err != nil {
		return nil, err
	}
	var out []ini.Line
	for _, t := range strings.Split(s, "\n") {
		out = append(out, ini.Line{Text: strings.TrimSpace(t), Loc: ln.Loc})
	}
	return out, nil
}

// regexes returns the non-empty lines of option key.
func (b *filterBuilder) regexes(key string) ([]Regex, error) {
	lines, err := b.option(key)
	if err != nil {
		return nil, err
	}
	var out []Regex
	for _, ln := range lines {
		if ln.Text != "" {
			out = append(out, Regex{Expr: ln.Text, Loc: ln.Loc})
		}
	}
	return out, nil
}

// single returns option key, which must not have more than one non-empty
// line. ok is false when it is unset or empty.
func (b *filterBuilder) single(key string) (ini.Line, bool, error) {
	lines, err := b.option(key)
	if err != nil {
		return ini.Line{}, false, err
	}
	var found []ini.Line
	for _, ln := range lines {
		if ln.Text != "" {
			found = append(found, ln)
		}
	}
	switch len(found) {
	case 0:
		return ini.Line{}, false, nil
	case 1:
		return found[0], true, nil
	}
	return ini.Line{}, false, ini.Errorf(found[1].Loc, "filter %q: %s: must be a single line", b.name, key)
}

// joined returns the non-empty lines of option key joined with "\n".
func (b *filterBuilder) joined(key string) (string, error) {
	res, err := b.regexes(key)
	if err != nil {
		return "", err
	}
	lines := make([]string, len(res))
	for i, r := range res {
		lines[i] = r.Expr
	}
	return strings.Join(lines, "\n"), nil
}

// wrap adds the filter and option names to an error.
func (b *filterBuilder) wrap(key string, err error) error {
	var ie *ini.Error
	if errors.As(err, &ie) {
		return &ini.Error{Loc: ie.Loc, Err: fmt.Errorf("filter %q: %s: %w", b.name, key, ie.Err)}
	}
	return fmt.Errorf("filter %q: %s: %w", b.name, key, err)
}

// substitute replaces the option tags in s, as fail2ban's
// substituteRecursiveTags does, until none is left that names an option.
func (b *filterBuilder) substitute(s string, loc ini.Location) (string, error) {
	for pass := 0; strings.Contains(s, "<"); pass++ {
		if pass == maxTagPasses || len(s) > maxTagLen {
			return "", ini.Errorf(loc, "tags nest too deeply or refer to themselves in %q", clipText(s))
		}
		changed := false
		var ferr error
		s = tagRE.ReplaceAllStringFunc(s, func(m string) string {
			v, ok, err := b.tag(m[1 : len(m)-1])
			if err != nil && ferr == nil {
				ferr = err
			}
			if !ok || err != nil {
				return m
			}
			changed = true
			return v
		})
		if ferr != nil {
			return "", ferr
		}
		if !changed {
			break
		}
	}
	return s, nil
}

// tag returns the value of the option a tag names: the jail's options,
// then the filter's [Init], then its [Definition] (and DEFAULT); or, for
// <section/name>, name in that section (or DEFAULT); <known/name> is the
// filter's own value of an option the jail overrides. A plain tag with
// upper-case letters (<HOST>, <F-USER>, ...) never names an option: option
// names are lower-case.
func (b *filterBuilder) tag(name string) (string, bool, error) {
	if t, ok := b.tags[name]; ok {
		return t.s, t.ok, nil
	}
	v, section, ok := b.tagValue(name)
	if !ok {
		b.tags[name] = tagValue{}
		return "", false, nil
	}
	s := v.Raw
	if section != "" {
		var err error
		if s, err = b.c.Expand(section, v, b.vars); err != nil {
			return "", false, err
		}
	}
	b.tags[name] = tagValue{s, true}
	return s, true, nil
}

// tagValue finds the raw value a tag names and the section to expand it
// in ("" for a literal jail option).
func (b *filterBuilder) tagValue(name string) (*ini.Value, string, bool) {
	if v, ok := b.vars[name]; ok {
		return v, "", true
	}
	if strings.ToLower(name) == name {
		if v, ok := b.c.LookupOwn("Init", name); ok {
			return v, "Init", true
		}
		if v, ok := b.c.Lookup("Definition", name); ok {
			return v, "Definition", true
		}
	}
	sect, opt, ok := strings.Cut(name, "/")
	if !ok || opt == "" {
		return nil, "", false
	}
	switch {
	case strings.EqualFold(sect, "known"):
		if v, ok := b.c.LookupOwn("Init", opt); ok {
			return v, "Init", true
		}
		if v, ok := b.c.Lookup("Definition", opt); ok {
			return v, "Definition", true
		}
		return nil, "", false
	case strings.EqualFold(sect, "default"):
		sect = ini.DefaultSection
	}
	if v, ok := b.c.Lookup(sect, opt); ok {
		return v, sect, true
	}
	return nil, "", false
}

// parseFilterSpec parses a jail's filter setting: "name" or
// "name[key=value, key2="v, w"][key3='x']", as fail2ban's extractOptions.
func parseFilterSpec(spec string) (string, map[string]string, error) {
	name, opts, err := cutOptions(spec)
	if err == nil && (!fs.ValidPath("filter.d/"+name+".conf") || strings.ContainsAny(name, " \t\n")) {
		return "", nil, fmt.Errorf("invalid filter name %q", name)
	}
	return name, opts, err
}

// cutOptions splits "target[key=value, ...]" into the target and its
// options (nil without brackets).
func cutOptions(spec string) (string, map[string]string, error) {
	target, rest, hasOpts := strings.Cut(spec, "[")
	target = strings.TrimSpace(target)
	if target == "" {
		return "", nil, fmt.Errorf("no filter name in %q", spec)
	}
	if !hasOpts {
		return target, nil, nil
	}
	rest = strings.TrimSpace(rest)
	if !strings.HasSuffix(rest, "]") {
		return "", nil, fmt.Errorf("missing \"]\" in %q", spec)
	}
	opts, err := parseOptions(rest[:len(rest)-1])
	if err != nil {
		return "", nil, fmt.Errorf("%q: %w", spec, err)
	}
	return target, opts, nil
}

// parseOptions parses the inside of "[...]": key=value pairs separated by
// commas (or "][" between groups); values may be quoted with " or '.
func parseOptions(s string) (map[string]string, error) {
	opts := map[string]string{}
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
			i++
		}
	}
	for {
		skip()
		if i == len(s) {
			return opts, nil
		}
		start := i
		for i < len(s) && isOptionNameByte(s[i]) {
			i++
		}
		key := strings.ToLower(s[start:i])
		if key == "" || i == len(s) || s[i] != '=' {
			return nil, fmt.Errorf("expected key=value at %q", clipText(s[start:]))
		}
		i++
		var val string
		if i < len(s) && (s[i] == '"' || s[i] == '\'') {
			q := s[i]
			end := strings.IndexByte(s[i+1:], q)
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote in option %q", key)
			}
			val = s[i+1 : i+1+end]
			i += end + 2
		} else {
			end := strings.IndexAny(s[i:], ",]")
			if end < 0 {
				end = len(s) - i
			}
			val = s[i : i+end]
			i += end
		}
		opts[key] = strings.TrimSpace(val)
		skip()
		switch {
		case i == len(s):
			return opts, nil
		case s[i] == ',':
			i++
		case s[i] == ']':
			// "][" between option groups.
			i++
			skip()
			if i == len(s) || s[i] != '[' {
				return nil, fmt.Errorf("unexpected %q after option %q", clipText(s[i-1:]), key)
			}
			i++
		default:
			return nil, fmt.Errorf("unexpected %q after option %q", clipText(s[i:]), key)
		}
	}
}

func isOptionNameByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// clipText shortens s for an error message.
func clipText(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
