package scan

import (
	"testing"

	"github.com/gaol-project/gaol/internal/daemon"
)

// defaultJails returns the enabled jails of the configuration in dir (""
// for the embedded defaults), ignoring their static ignoreip lists.
func defaultJails(tb testing.TB, dir string) []Jail {
	tb.Helper()
	cfg, filters, err := daemon.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var out []Jail
	for _, j := range cfg.Enabled() {
		set := j.Ignore.Static()
		out = append(out, Jail{Config: j, Filter: filters[j.Name], Ignore: &set})
	}
	return out
}
