package conformance

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tree is fail2ban's Debian package extracted with dpkg -x.
type tree struct{ root string }

// etc is the stock configuration, /etc/fail2ban.
func (t tree) etc() string { return filepath.Join(t.root, "etc", "fail2ban") }

// pkg is fail2ban's Python package.
func (t tree) pkg() string {
	return filepath.Join(t.root, "usr", "lib", "python3", "dist-packages", "fail2ban")
}

// logs is the directory of fail2ban's sample logs.
func (t tree) logs() string { return filepath.Join(t.pkg(), "tests", "files", "logs") }

// complete reports whether the tree has what the test reads.
func (t tree) complete() bool {
	for _, p := range []string{filepath.Join(t.etc(), "filter.d", "sshd.conf"), filepath.Join(t.logs(), "sshd"), filepath.Join(t.pkg(), "tests", "samplestestcase.py")} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// fail2banTree returns the cached fail2ban tree, fetching it on first use.
// Without it the test is skipped, unless the CI environment variable is
// set: CI must run it.
func fail2banTree(t *testing.T) tree {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tr := tree{root: filepath.Join(root, ".cache", "fail2ban")}
	if tr.complete() {
		return tr
	}
	if err := fetch(tr.root); err != nil || !tr.complete() {
		if err == nil {
			err = errors.New("the extracted package lacks the filters or the sample logs")
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("cannot get fail2ban's package: %v", err)
		}
		t.Skipf("cannot get fail2ban's package (set CI to make this an error): %v", err)
	}
	return tr
}

// repoRoot finds the module root (the directory holding go.mod) above the
// working directory.
func repoRoot() (string, error) {
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

// markerName marks a complete cache (the benchmarks write the same).
const markerName = ".gaol-bench-complete"

// fetch downloads fail2ban with apt-get download and extracts it with
// dpkg -x into a temporary directory next to dir, then renames it to dir,
// so that a reader never sees half a tree.
func fetch(dir string) error {
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
	_ = download("python3-pyinotify") // the benchmarks use it; optional
	debs, err := filepath.Glob(filepath.Join(work, "*.deb"))
	if err != nil || len(debs) == 0 {
		return fmt.Errorf("apt-get download left no .deb in %s", work)
	}
	extracted := filepath.Join(work, "tree")
	var names []string
	for _, deb := range debs {
		if out, err := exec.Command("dpkg", "-x", deb, extracted).CombinedOutput(); err != nil {
			return fmt.Errorf("dpkg -x %s: %w\n%s", deb, err, out)
		}
		names = append(names, filepath.Base(deb))
	}
	if err := os.WriteFile(filepath.Join(extracted, markerName), []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil { // an incomplete earlier attempt
		return err
	}
	if err := os.Rename(extracted, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, markerName)); serr == nil {
			return nil // another test fetched it meanwhile
		}
		return fmt.Errorf("moving the extracted tree into %s: %w", dir, err)
	}
	return nil
}
