package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"sort"
)

// EmbeddedPrefix starts the name of an embedded file in locations and
// errors, as in "embedded:jail.conf:12".
const EmbeddedPrefix = "embedded:"

// overlay lays a directory over the embedded defaults, file by file: a
// file in upper hides the lower file of the same path, and directories list
// the files of both. It does not merge file contents; the ini read order
// does that (jail.conf < jail.local, ...).
type overlay struct {
	upper    fs.FS  // nil when there is no directory
	upperDir string // the directory upper reads, for file names
	lower    fs.FS
}

// Open opens name from upper if it has it, else from lower.
func (o *overlay) Open(name string) (fs.File, error) {
	if o.upper != nil {
		f, err := o.upper.Open(name)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return f, err
		}
	}
	return o.lower.Open(name)
}

// Stat describes name as Open would find it.
func (o *overlay) Stat(name string) (fs.FileInfo, error) {
	if o.upper != nil {
		fi, err := fs.Stat(o.upper, name)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return fi, err
		}
	}
	return fs.Stat(o.lower, name)
}

// ReadDir lists the entries of both layers, upper winning on equal names.
func (o *overlay) ReadDir(name string) ([]fs.DirEntry, error) {
	var upper []fs.DirEntry
	var upperErr error = fs.ErrNotExist
	if o.upper != nil {
		upper, upperErr = fs.ReadDir(o.upper, name)
		if upperErr != nil && !errors.Is(upperErr, fs.ErrNotExist) {
			return nil, upperErr
		}
	}
	lower, lowerErr := fs.ReadDir(o.lower, name)
	if lowerErr != nil && !errors.Is(lowerErr, fs.ErrNotExist) {
		return nil, lowerErr
	}
	if upperErr != nil && lowerErr != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	seen := map[string]bool{}
	var out []fs.DirEntry
	for _, e := range upper {
		seen[e.Name()] = true
		out = append(out, e)
	}
	for _, e := range lower {
		if !seen[e.Name()] {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// name returns how the file at p is named in messages: its path in the
// directory, or "embedded:" and its path in the defaults.
func (o *overlay) name(p string) string {
	if o.upper != nil {
		if _, err := fs.Stat(o.upper, p); err == nil {
			return filepath.Join(o.upperDir, filepath.FromSlash(p))
		}
	}
	return EmbeddedPrefix + p
}
