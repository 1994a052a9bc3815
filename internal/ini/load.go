package ini

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
)

// IncludesSection is the section that lists files to read before and after
// the file that contains it.
const IncludesSection = "INCLUDES"

// maxFiles bounds how many files one Load may read, includes counted, so
// that a pathological include tree cannot explode.
const maxFiles = 1000

// Loader reads configuration files from a file system.
type Loader struct {
	// FS holds the files; paths are slash-separated and relative to its root.
	FS fs.FS
	// Name returns the name a file is given in Locations and errors; nil
	// means the path in FS.
	Name func(path string) string
}

// Load reads the logical configuration name (a slash-separated path without
// extension, such as "jail" or "filter.d/sshd") from fsys. See Loader.Load.
func Load(fsys fs.FS, name string) (*Config, error) {
	return (&Loader{FS: fsys}).Load(name)
}

// Load reads the logical configuration name the way fail2ban does:
// NAME.conf, NAME.d/*.conf, NAME.local, NAME.d/*.local (the .d files in
// lexical order, hidden files skipped), each later file overriding earlier
// ones key by key. Missing files are skipped, but if none exists the error
// wraps fs.ErrNotExist.
//
// Each file's [INCLUDES] section is followed: the files listed in "before"
// (one per line, relative to the including file's directory) are read
// before it and those in "after" after it, recursively. As in fail2ban, an
// included file brings only itself (fail2ban's own files list their .local
// companions explicitly, as in "after = common.local"), a missing include is
// skipped, and an include that would re-enter a file already being read is
// skipped, which breaks loops.
func (l *Loader) Load(name string) (*Config, error) {
	roots, err := l.candidates(name)
	if err != nil {
		return nil, err
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("none of %[1]s.conf, %[1]s.d/*.conf, %[1]s.local, %[1]s.d/*.local: %[2]w",
			name, fs.ErrNotExist)
	}
	c := newConfig()
	for _, p := range roots {
		c.roots = append(c.roots, l.name(p))
		if err := l.read(c, p, nil); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// name returns the display name of p.
func (l *Loader) name(p string) string {
	if l.Name == nil {
		return p
	}
	return l.Name(p)
}

// candidates returns the existing files of the logical name, in read order.
func (l *Loader) candidates(name string) ([]string, error) {
	if !fs.ValidPath(name + ".conf") {
		return nil, fmt.Errorf("invalid configuration name %q", name)
	}
	var out []string
	for _, ext := range []string{".conf", ".local"} {
		ok, err := l.isFile(name + ext)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, name+ext)
		}
		more, err := l.dirFiles(name+".d", ext)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

// isFile reports whether p exists and is not a directory.
func (l *Loader) isFile(p string) (bool, error) {
	fi, err := fs.Stat(l.FS, p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", l.name(p), err)
	}
	return !fi.IsDir(), nil
}

// dirFiles returns the files in dir whose names end in ext, sorted, as
// Python's sorted(glob("dir/*ext")) would (hidden files are skipped).
func (l *Loader) dirFiles(dir, ext string) ([]string, error) {
	entries, err := fs.ReadDir(l.FS, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.name(dir), err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ext) {
			continue
		}
		p := path.Join(dir, n)
		ok, err := l.isFile(p)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}

// read merges the file at p into c, with its includes. active holds the
// files being read further up the include chain.
func (l *Loader) read(c *Config, p string, active []string) error {
	if len(c.files) >= maxFiles {
		return fmt.Errorf("%s: more than %d files read (includes too deeply nested?)", l.name(p), maxFiles)
	}
	data, err := fs.ReadFile(l.FS, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a missing include is not an error
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", l.name(p), err)
	}
	f, err := parse(l.name(p), data)
	if err != nil {
		return err
	}
	before, after, err := includes(f, p)
	if err != nil {
		return err
	}
	active = append(active, p)
	for _, inc := range before {
		if !slices.Contains(active, inc) {
			if err := l.read(c, inc, active); err != nil {
				return err
			}
		}
	}
	c.merge(f)
	for _, inc := range after {
		if !slices.Contains(active, inc) {
			if err := l.read(c, inc, active); err != nil {
				return err
			}
		}
	}
	return nil
}

// includes returns the files f's [INCLUDES] section lists, as paths in the
// file system. p is f's own path.
func includes(f *file, p string) (before, after []string, err error) {
	has := false
	for _, s := range f.sections {
		if s.name == IncludesSection {
			has = true
			break
		}
	}
	if !has {
		return nil, nil, nil
	}
	// The list is read from the file on its own, interpolated, as
	// fail2ban does.
	c := newConfig()
	c.merge(f)
	list := func(key string) ([]string, error) {
		v, ok := c.Lookup(IncludesSection, key)
		if !ok {
			return nil, nil
		}
		lines, err := c.ExpandLines(IncludesSection, v, nil)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, ln := range lines {
			name := strings.TrimSpace(ln.Text)
			if name == "" {
				continue
			}
			if path.IsAbs(name) {
				return nil, Errorf(ln.Loc, "include %q: absolute paths are not supported", name)
			}
			inc := path.Join(path.Dir(p), name)
			if !fs.ValidPath(inc) {
				return nil, Errorf(ln.Loc, "include %q: outside the configuration directory", name)
			}
			out = append(out, inc)
		}
		return out, nil
	}
	if before, err = list("before"); err != nil {
		return nil, nil, err
	}
	if after, err = list("after"); err != nil {
		return nil, nil, err
	}
	return before, after, nil
}
