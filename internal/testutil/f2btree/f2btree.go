// Package f2btree gives tests and benchmarks fail2ban's Debian package,
// downloaded with `apt-get download` and extracted with `dpkg -x` into the
// git-ignored .cache/fail2ban at the root of the repository. fail2ban is GPL:
// its files are only read from there at run time, never copied into the
// repository. No service is installed.
package f2btree

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Tree is an extracted fail2ban package.
type Tree struct {
	Root string
}

// Etc is the stock configuration, what a system has in /etc/fail2ban.
func (t Tree) Etc() string { return filepath.Join(t.Root, "etc", "fail2ban") }

// PythonPath is where the package's Python modules are.
func (t Tree) PythonPath() string {
	return filepath.Join(t.Root, "usr", "lib", "python3", "dist-packages")
}

// Pkg is fail2ban's Python package.
func (t Tree) Pkg() string { return filepath.Join(t.PythonPath(), "fail2ban") }

// Logs is the directory of fail2ban's sample logs.
func (t Tree) Logs() string { return filepath.Join(t.Pkg(), "tests", "files", "logs") }

// HasPyinotify reports whether python3-pyinotify, fail2ban's recommended
// file backend, was extracted along.
func (t Tree) HasPyinotify() bool {
	_, err := os.Stat(filepath.Join(t.PythonPath(), "pyinotify.py"))
	return err == nil
}

// marker marks a complete tree; it lists the packages extracted.
const marker = ".gaol-bench-complete"

// Get returns the cached tree, fetching it on first use. Without it, tb is
// skipped, unless the environment variable CI is set: CI must run
// everything.
func Get(tb testing.TB) Tree {
	tb.Helper()
	root, err := RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	t := Tree{Root: filepath.Join(root, ".cache", "fail2ban")}
	if _, err := os.Stat(filepath.Join(t.Root, marker)); err == nil {
		return t
	}
	if err := Fetch(t.Root); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("cannot get fail2ban's package: %v", err)
		}
		tb.Skipf("cannot get fail2ban's package (set CI to make this an error): %v", err)
	}
	return t
}

// RepoRoot finds the module root (the directory holding go.mod) above the
// working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Fetch downloads fail2ban (and python3-pyinotify, optional) and extracts
// them into a temporary directory next to dir, then renames it to dir, so
// that no reader sees half a tree; concurrent fetches are harmless.
func Fetch(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("creating the cache: %w", err)
	}
	work, err := os.MkdirTemp(filepath.Dir(dir), "fetch-")
	if err != nil {
		return fmt.Errorf("creating the cache: %w", err)
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, 0o755); err != nil { // readable by apt's _apt user
		return err
	}
	download := func(pkg string) error {
		cmd := exec.Command("apt-get", "download", pkg)
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get download %s: %w\n%s", pkg, err, out)
		}
		return nil
	}
	if err := download("fail2ban"); err != nil {
		// A fresh machine may have no package lists yet.
		if out, uerr := exec.Command("apt-get", "update").CombinedOutput(); uerr != nil {
			return fmt.Errorf("%w; apt-get update: %v\n%s", err, uerr, out)
		}
		if err := download("fail2ban"); err != nil {
			return err
		}
	}
	_ = download("python3-pyinotify") // without it fail2ban polls
	debs, err := filepath.Glob(filepath.Join(work, "*.deb"))
	if err != nil || len(debs) == 0 {
		return fmt.Errorf("apt-get download left no .deb in %s", work)
	}
	tree := filepath.Join(work, "tree")
	var names []string
	for _, deb := range debs {
		if out, err := exec.Command("dpkg", "-x", deb, tree).CombinedOutput(); err != nil {
			return fmt.Errorf("dpkg -x %s: %w\n%s", deb, err, out)
		}
		names = append(names, filepath.Base(deb))
	}
	if err := os.WriteFile(filepath.Join(tree, marker), []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil { // an incomplete earlier attempt
		return err
	}
	if err := os.Rename(tree, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, marker)); serr == nil {
			return nil // fetched by another test meanwhile
		}
		return fmt.Errorf("moving the extracted tree into %s: %w", dir, err)
	}
	return nil
}
