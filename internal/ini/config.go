package ini

import (
	"math"
	"regexp"
)

// Config is the merged content of one or more files: every section with,
// for each key, the values it was given in the order the files were read.
// The last one wins; the earlier ones stay reachable as %(known/key)s.
type Config struct {
	defaults *section
	sections map[string]*section
	order    []string // non-default section names, in order of first appearance
	files    []string // files merged, in order
	roots    []string // the files of the logical name itself (not includes)
	seq      int      // number of files merged so far
}

type section struct {
	name string
	loc  Location            // the first header
	keys []string            // in order of first appearance
	vals map[string][]*Value // key -> values, oldest first
}

func newSection(name string, loc Location) *section {
	return &section{name: name, loc: loc, vals: map[string][]*Value{}}
}

func newConfig() *Config {
	return &Config{
		defaults: newSection(DefaultSection, Location{}),
		sections: map[string]*section{},
	}
}

// Parse parses the content of one file, named name in Locations. It does
// not follow [INCLUDES]; use a Loader for that.
func Parse(name string, data []byte) (*Config, error) {
	f, err := parse(name, data)
	if err != nil {
		return nil, err
	}
	c := newConfig()
	c.merge(f)
	c.roots = []string{name}
	return c, nil
}

// conditionalRE matches fail2ban's conditional section names, such as
// "Init?family=inet6".
var conditionalRE = regexp.MustCompile(`^(\w+)(\?.+)$`)

// merge adds the values of f on top of c's.
func (c *Config) merge(f *file) {
	c.seq++
	c.files = append(c.files, f.name)
	for _, fs := range f.sections {
		name, suffix := fs.name, ""
		if m := conditionalRE.FindStringSubmatch(name); m != nil {
			name, suffix = m[1], m[2]
		}
		s := c.section(name, fs.loc)
		for _, v := range fs.values {
			nv := *v
			nv.Key += lower(suffix)
			nv.section = name
			nv.seq = c.seq
			if _, ok := s.vals[nv.Key]; !ok {
				s.keys = append(s.keys, nv.Key)
			}
			s.vals[nv.Key] = append(s.vals[nv.Key], &nv)
		}
	}
}

// section returns the section called name, creating it at loc if needed.
func (c *Config) section(name string, loc Location) *section {
	if name == DefaultSection {
		if c.defaults.loc.File == "" {
			c.defaults.loc = loc
		}
		return c.defaults
	}
	s, ok := c.sections[name]
	if !ok {
		s = newSection(name, loc)
		c.sections[name] = s
		c.order = append(c.order, name)
	}
	return s
}

// get returns the section called name, or nil.
func (c *Config) get(name string) *section {
	if name == DefaultSection {
		return c.defaults
	}
	return c.sections[name]
}

// Files returns the names of the files merged into c, in the order they were
// read (included files too).
func (c *Config) Files() []string { return append([]string(nil), c.files...) }

// Roots returns the names of the files that make up the logical name that
// was loaded (NAME.conf, NAME.d/*.conf, NAME.local, NAME.d/*.local, as far
// as they exist), without the files they include.
func (c *Config) Roots() []string { return append([]string(nil), c.roots...) }

// Sections returns the names of all sections but DEFAULT, in the order they
// first appeared.
func (c *Config) Sections() []string { return append([]string(nil), c.order...) }

// HasSection reports whether a section called name exists. DEFAULT always
// exists.
func (c *Config) HasSection(name string) bool { return c.get(name) != nil }

// SectionLoc returns where the section called name first appeared.
func (c *Config) SectionLoc(name string) (Location, bool) {
	s := c.get(name)
	if s == nil {
		return Location{}, false
	}
	return s.loc, true
}

// Keys returns the keys the section defines itself (not those it sees from
// DEFAULT), in the order they first appeared. Keys("DEFAULT") returns the
// default keys.
func (c *Config) Keys(section string) []string {
	s := c.get(section)
	if s == nil {
		return nil
	}
	return append([]string(nil), s.keys...)
}

// LookupOwn returns the value of key defined in section itself, ignoring
// DEFAULT. key is matched case-insensitively.
func (c *Config) LookupOwn(section, key string) (*Value, bool) {
	s := c.get(section)
	if s == nil {
		return nil, false
	}
	return s.latest(lower(key), math.MaxInt)
}

// Lookup returns the raw value of key as seen from section: the section's
// own value, or else DEFAULT's. It finds nothing in a section that does not
// exist. key is matched case-insensitively.
func (c *Config) Lookup(section, key string) (*Value, bool) {
	s := c.get(section)
	if s == nil {
		return nil, false
	}
	key = lower(key)
	if v, ok := s.latest(key, math.MaxInt); ok {
		return v, true
	}
	return c.defaults.latest(key, math.MaxInt)
}

// latest returns the last value of key read from a file before file number
// before.
func (s *section) latest(key string, before int) (*Value, bool) {
	vals := s.vals[key]
	for i := len(vals) - 1; i >= 0; i-- {
		if vals[i].seq < before {
			return vals[i], true
		}
	}
	return nil, false
}
