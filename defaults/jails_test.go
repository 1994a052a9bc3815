package defaults_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaol-project/gaol/internal/config"
	"github.com/gaol-project/gaol/internal/daemon"
)

// TestEveryJail turns every jail of the embedded jail.conf on, as a
// machine running all those services would (enabled = auto), and checks
// that each loads and compiles, with a port and a log to read.
func TestEveryJail(t *testing.T) {
	base, err := config.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var local strings.Builder
	for _, j := range base.Jails {
		fmt.Fprintf(&local, "[%s]\nenabled = true\n", j.Name)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jail.local"), []byte(local.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("warnings: %v", cfg.Warnings)
	}
	if len(cfg.Enabled()) != len(base.Jails) || len(base.Jails) < 10 {
		t.Fatalf("%d of %d jails enabled", len(cfg.Enabled()), len(base.Jails))
	}
	for _, j := range cfg.Enabled() {
		if j.Recidive {
			continue
		}
		if _, err := daemon.CompileFilter(j); err != nil {
			t.Errorf("jail %s: %v", j.Name, err)
		}
		if len(j.Ports) == 0 {
			t.Errorf("jail %s: no port", j.Name)
		}
		if len(j.LogPath) == 0 && j.JournalMatch == "" {
			t.Errorf("jail %s: no logpath and no journalmatch", j.Name)
		}
	}
}
