package conformance

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gaol-project/gaol/internal/testutil/f2btree"
)

// tree is fail2ban's Debian package extracted with dpkg -x.
type tree struct{ f2btree.Tree }

// etc is the stock configuration, /etc/fail2ban.
func (t tree) etc() string { return t.Etc() }

// pkg is fail2ban's Python package.
func (t tree) pkg() string { return t.Pkg() }

// logs is the directory of fail2ban's sample logs.
func (t tree) logs() string { return t.Logs() }

// fail2banTree returns the cached fail2ban tree, fetching it on first use.
// Without it the test is skipped, unless the CI environment variable is
// set: CI must run it.
func fail2banTree(t *testing.T) tree {
	t.Helper()
	tr := tree{f2btree.Get(t)}
	for _, p := range []string{filepath.Join(tr.etc(), "filter.d", "sshd.conf"), filepath.Join(tr.logs(), "sshd"), filepath.Join(tr.pkg(), "tests", "samplestestcase.py")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the fail2ban package in %s lacks what the test reads: %v", tr.Root, err)
		}
	}
	return tr
}
