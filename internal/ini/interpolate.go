package ini

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

// Limits that keep a hostile file from making interpolation explode.
const (
	maxDepth    = 64      // nested references
	maxExpanded = 1 << 20 // bytes in one expanded value
)

// errTooLong reports a value that grows past maxExpanded.
var errTooLong = fmt.Errorf("value longer than %d bytes after interpolation", maxExpanded)

// sectionRefRE matches the section part of fail2ban's "%(section/name)s".
var sectionRefRE = regexp.MustCompile(`^[\w\-]+$`)

// Expand returns v interpolated as seen from section (which need not be
// the section v was written in: a DEFAULT value is expanded in the context
// of the section that reads it, as in Python). vars, if not nil, take
// precedence over every configuration value.
//
// References are resolved as follows:
//
//   - %% is a literal %.
//   - %(name)s: vars, then section's own value, then DEFAULT's;
//     %(__name__)s is the section's name.
//   - %(sect/name)s: the value of name in section sect, or else DEFAULT's
//     (fail2ban's extension); %(default/name)s: DEFAULT's.
//   - %(known/name)s: the value name had in section (or else DEFAULT)
//     before the file that defines the value being expanded was read, so
//     that a .local file can extend a .conf value ("failregex =
//     %(known/failregex)s" plus a line).
//
// Referenced values are interpolated in turn, in the same section. An
// undefined name, a reference loop or a malformed "%" is an *Error at the
// value that holds the bad reference.
func (c *Config) Expand(section string, v *Value, vars Vars) (string, error) {
	e := c.expander(section, vars)
	return e.value(v)
}

// ExpandLines expands v line by line (see Expand) and returns the resulting
// lines, each with the location it was written at: a raw line that is a
// single reference to a multi-line value ("%(cmnfailre)s" alone on its
// line, as fail2ban's filters write them) gives that value's lines with
// their own locations; any other raw line that expands to several lines
// gives them all its own location.
func (c *Config) ExpandLines(section string, v *Value, vars Vars) ([]Line, error) {
	return c.expander(section, vars).lines(v)
}

// lines expands v line by line.
func (e *expander) lines(v *Value) ([]Line, error) {
	for i, a := range e.active {
		if a == v {
			return nil, e.loopError(i)
		}
	}
	if len(e.active) >= maxDepth {
		return nil, Errorf(v.Loc, "references nested more than %d deep", maxDepth)
	}
	e.active = append(e.active, v)
	defer func() { e.active = e.active[:len(e.active)-1] }()
	var out []Line
	for _, ln := range v.Lines() {
		whole := false
		if ref, ok := wholeRef(ln.Text); ok {
			if rv, ok := e.lookup(ref, v); ok && rv.seq > 0 {
				whole = true
				sub, err := e.lines(rv)
				if err != nil {
					return nil, err
				}
				out = append(out, sub...)
			}
		}
		if !whole {
			s, err := e.text(ln.Text, v, ln.Loc)
			if err != nil {
				return nil, err
			}
			for _, t := range splitLines(s) {
				out = append(out, Line{Text: t, Loc: ln.Loc})
			}
		}
		if len(out) > maxExpanded {
			return nil, &Error{Loc: ln.Loc, Err: errTooLong}
		}
	}
	return out, nil
}

// wholeRef returns name if s is exactly "%(name)s".
func wholeRef(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "%(") || !strings.HasSuffix(s, ")s") || len(s) < 5 {
		return "", false
	}
	name := s[2 : len(s)-2]
	if strings.ContainsAny(name, ")") {
		return "", false
	}
	return name, true
}

func (c *Config) expander(section string, vars Vars) *expander {
	return &expander{c: c, section: section, vars: vars, memo: map[*Value]string{}}
}

// expander interpolates values for one section.
type expander struct {
	c       *Config
	section string
	vars    Vars
	memo    map[*Value]string // values already expanded (the result depends only on the value here)
	active  []*Value          // values being expanded, outermost first
}

// value returns v expanded.
func (e *expander) value(v *Value) (string, error) {
	if s, ok := e.memo[v]; ok {
		return s, nil
	}
	for i, a := range e.active {
		if a == v {
			return "", e.loopError(i)
		}
	}
	if len(e.active) >= maxDepth {
		return "", Errorf(v.Loc, "references nested more than %d deep", maxDepth)
	}
	e.active = append(e.active, v)
	s, err := e.text(v.Raw, v, v.Loc)
	e.active = e.active[:len(e.active)-1]
	if err != nil {
		return "", err
	}
	e.memo[v] = s
	return s, nil
}

// loopError reports the reference loop that starts at e.active[i].
func (e *expander) loopError(i int) error {
	names := make([]string, 0, len(e.active)-i+1)
	for _, a := range e.active[i:] {
		names = append(names, "%("+a.Key+")s")
	}
	names = append(names, "%("+e.active[i].Key+")s")
	return Errorf(e.active[len(e.active)-1].Loc, "reference loop in [%s]: %s", e.section, strings.Join(names, " -> "))
}

// text expands s, which belongs to origin and was written at loc.
func (e *expander) text(s string, origin *Value, loc Location) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "%%"):
			b.WriteByte('%')
			s = s[2:]
		case strings.HasPrefix(s, "%("):
			end := strings.IndexByte(s, ')')
			if end < 0 || end == 2 || !strings.HasPrefix(s[end:], ")s") {
				return "", Errorf(loc, "bad reference %q: write %%(name)s, or %%%% for a literal %%", clip(s))
			}
			val, err := e.ref(s[2:end], origin, loc)
			if err != nil {
				return "", err
			}
			b.WriteString(val)
			s = s[end+2:]
		default:
			return "", Errorf(loc, "lone %% in %q: write %%%% for a literal %%", clip(s))
		}
		if b.Len() > maxExpanded {
			return "", &Error{Loc: loc, Err: errTooLong}
		}
	}
	if b.Len() > maxExpanded {
		return "", &Error{Loc: loc, Err: errTooLong}
	}
	return b.String(), nil
}

// ref returns the expansion of %(name)s found in origin at loc.
func (e *expander) ref(name string, origin *Value, loc Location) (string, error) {
	key := lower(name)
	if v, ok := e.vars[key]; ok {
		return v.Raw, nil
	}
	if key == "__name__" {
		return e.section, nil
	}
	if v, ok := e.lookup(name, origin); ok {
		return e.value(v)
	}
	err := fmt.Errorf("undefined variable %%(%s)s in [%s]", name, e.section)
	if top := e.active[0]; top != origin && top.Key != "" {
		err = fmt.Errorf("%w (expanding %q at %s)", err, top.Key, top.Loc)
	}
	return "", &Error{Loc: loc, Err: err}
}

// lookup finds the configuration value %(name)s refers to from origin
// (vars and __name__ aside).
func (e *expander) lookup(name string, origin *Value) (*Value, bool) {
	key := lower(name)
	if _, ok := e.vars[key]; ok || key == "__name__" {
		return nil, false
	}
	if v, ok := e.sectionRef(name, origin); ok {
		return v, true
	}
	if v, ok := e.c.Lookup(e.section, key); ok {
		return v, true
	}
	if e.section != DefaultSection && !e.c.HasSection(e.section) {
		// A section that does not exist still sees DEFAULT.
		return e.c.defaults.latest(key, math.MaxInt)
	}
	return nil, false
}

// sectionRef resolves fail2ban's "section/name" references.
func (e *expander) sectionRef(name string, origin *Value) (*Value, bool) {
	sect, opt, ok := strings.Cut(name, "/")
	if !ok || !sectionRefRE.MatchString(sect) || opt == "" {
		return nil, false
	}
	opt = lower(opt)
	switch lower(sect) {
	case "default":
		return e.c.defaults.latest(opt, math.MaxInt)
	case "known":
		before := math.MaxInt
		if origin.seq > 0 {
			before = origin.seq
		}
		if s := e.c.get(e.section); s != nil {
			if v, ok := s.latest(opt, before); ok {
				return v, true
			}
		}
		return e.c.defaults.latest(opt, before)
	default:
		s := e.c.get(sect)
		if s == nil {
			return nil, false
		}
		if v, ok := s.latest(opt, math.MaxInt); ok {
			return v, true
		}
		return e.c.defaults.latest(opt, math.MaxInt)
	}
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// lower lower-cases a key as Python's optionxform does.
func lower(s string) string { return strings.ToLower(s) }
