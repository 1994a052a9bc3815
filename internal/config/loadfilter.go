package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gaol-project/gaol/defaults"
	"github.com/gaol-project/gaol/internal/ini"
)

// LoadFilter reads one filter on its own, the way fail2ban-regex takes
// its REGEX argument (`gaol regex` uses it). spec is one of:
//
//   - NAME or NAME[key=value, ...]: filter.d/NAME from dir laid over the
//     embedded defaults (NAME.conf, NAME.d/*.conf, NAME.local,
//     NAME.d/*.local); dir "" reads the embedded defaults alone. A
//     trailing ".conf" or ".local" on NAME is ignored.
//   - PATH or PATH[key=value, ...], where PATH has a "/": that file (a
//     missing ".conf" is added) with its ".local" companion and its
//     [INCLUDES], relative to its own directory.
//
// The options are those of a jail's "filter = " line. The filter is
// resolved as for a jail with the file backend (logtype = file).
//
// A filter that does not exist gives an error that wraps fs.ErrNotExist
// and says where it was looked for; the other errors carry the file and
// line they concern (*ini.Error).
func LoadFilter(dir, spec string) (*Filter, error) {
	return loadFilter(dir, spec, defaults.FS)
}

// loadFilter is LoadFilter with the defaults given, for tests.
func loadFilter(dir, spec string, base fs.FS) (*Filter, error) {
	target, opts, err := splitFilterArg(spec)
	if err != nil {
		return nil, err
	}
	// The jail the filter is resolved for; its name shows in a few
	// messages only.
	j := &Jail{Name: "regex", Backend: DefaultBackend}
	at := ini.Location{File: "filter argument " + quoteArg(spec)}
	if strings.ContainsRune(target, '/') || strings.ContainsRune(target, filepath.Separator) {
		return loadFilterFile(target, opts, j, at)
	}
	name := trimConfExt(target)
	if _, _, err := parseFilterSpec(name); err != nil {
		return nil, err
	}
	l, err := newLoader(dir, base)
	if err != nil {
		return nil, err
	}
	if _, found, err := l.readFilter(name); err != nil {
		return nil, err
	} else if !found {
		return nil, fmt.Errorf("filter %q not found (looked in %s): %w", name, l.where("filter.d"), fs.ErrNotExist)
	}
	return l.filter(j, name, opts, at)
}

// newLoader returns a loader of dir laid over base ("" for base alone),
// with the machine's view for enabled = auto.
func newLoader(dir string, base fs.FS) (*loader, error) {
	o := &overlay{lower: base}
	if dir != "" {
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("config directory %q: no such directory", dir)
		case err != nil:
			return nil, fmt.Errorf("config directory %q: %w", dir, err)
		case !fi.IsDir():
			return nil, fmt.Errorf("config directory %q: not a directory", dir)
		}
		o.upper, o.upperDir = os.DirFS(dir), dir
	}
	return &loader{
		probe:   hostProbe{},
		overlay: o,
		ini:     &ini.Loader{FS: o, Name: o.name},
		filters: map[string]*filterFile{},
		seen:    map[string]bool{},
	}, nil
}

// loadFilterFile reads the filter file at path with its companions and
// includes, from its own directory.
func loadFilterFile(path string, opts map[string]string, j *Jail, at ini.Location) (*Filter, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("filter file %s: is a directory", path)
	}
	file := path
	switch filepath.Ext(path) {
	case ".conf", ".local":
	default:
		// As fail2ban-regex: "filter.d/sshd" names filter.d/sshd.conf.
		file = path + ".conf"
		if _, err := os.Stat(file); err != nil {
			if _, lerr := os.Stat(path + ".local"); lerr == nil {
				file = path + ".local"
			}
		}
	}
	fi, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("filter file %s: %w", file, fs.ErrNotExist)
	case err != nil:
		return nil, fmt.Errorf("filter file: %w", err)
	case fi.IsDir():
		return nil, fmt.Errorf("filter file %s: is a directory", file)
	}
	dir := filepath.Dir(file)
	name := trimConfExt(filepath.Base(file))
	if !fs.ValidPath(name+".conf") || strings.ContainsAny(name, "[]") {
		return nil, fmt.Errorf("filter file %s: invalid name", file)
	}
	il := &ini.Loader{FS: os.DirFS(dir), Name: func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }}
	c, err := il.Load(name)
	if err != nil {
		return nil, err
	}
	l := &loader{
		overlay: &overlay{lower: os.DirFS(dir)},
		ini:     il,
		// The file is the only filter this loader knows.
		filters: map[string]*filterFile{name: {c: c}},
		seen:    map[string]bool{},
	}
	return l.filter(j, name, opts, at)
}

// splitFilterArg splits "target[key=value, ...]" into the target and its
// options.
func splitFilterArg(spec string) (string, map[string]string, error) {
	return cutOptions(strings.TrimSpace(spec))
}

// trimConfExt removes a ".conf" or ".local" extension.
func trimConfExt(name string) string {
	for _, ext := range []string{".conf", ".local"} {
		if s, ok := strings.CutSuffix(name, ext); ok && s != "" {
			return s
		}
	}
	return name
}

// quoteArg quotes a command line argument for a message.
func quoteArg(s string) string { return fmt.Sprintf("%q", clipText(s)) }
