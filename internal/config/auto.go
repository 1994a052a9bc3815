package config

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// probe tells what exists on the machine, for jails with "enabled =
// auto". Tests give their own.
type probe interface {
	// Glob returns the files that match a logpath pattern.
	Glob(pattern string) []string
	// Unit reports whether a systemd unit is installed.
	Unit(name string) bool
}

// hostProbe looks at this machine.
type hostProbe struct{}

func (hostProbe) Glob(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	var files []string
	for _, f := range m {
		if fi, err := os.Stat(f); err == nil && !fi.IsDir() {
			files = append(files, f)
		}
	}
	return files
}

// unitDirs are where systemd looks for unit files.
var unitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

func (hostProbe) Unit(name string) bool {
	names := []string{name}
	// An instance (postfix@-.service) is installed with its template
	// (postfix@.service).
	if at := strings.IndexByte(name, '@'); at > 0 {
		if dot := strings.LastIndexByte(name, '.'); dot > at {
			names = append(names, name[:at+1]+name[dot:])
		}
	}
	for _, dir := range unitDirs {
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
				return true
			}
		}
	}
	return false
}

// unitRE finds the units a journalmatch names.
var unitRE = regexp.MustCompile(`(?:^|\s)_SYSTEMD_UNIT=(\S+)`)

// autoEnable decides "enabled = auto": the jail is on when one of its log
// files exists, or, for a jail that may read the journal (backend auto or
// systemd), when a unit its journalmatch names is installed. A jail that
// reads no log (recidive, backend syslog) is on. The text says why.
func (p *jailParser) autoEnable() (bool, string) {
	j := p.j
	backend := DefaultBackend
	if s, _, ok := p.get("backend"); ok && strings.TrimSpace(s) != "" {
		backend = strings.TrimSpace(s)
	}
	spec := j.Name
	if s, _, ok := p.get("filter"); ok {
		spec = strings.TrimSpace(s)
	}
	name, opts, err := parseFilterSpec(spec)
	switch {
	case err == nil && name == "recidive":
		return true, "auto: on (counts the other jails' bans)"
	case backend == "syslog":
		return true, "auto: on (backend syslog)"
	}
	var paths []string
	if s, _, ok := p.get("logpath"); ok && !strings.HasPrefix(backend, "systemd") {
		for _, pat := range splitLogPath(s) {
			if pat == "-" {
				return true, "auto: on (reads standard input)"
			}
			if files := p.l.probe.Glob(pat); len(files) > 0 {
				return true, "auto: on (" + files[0] + " exists)"
			}
			paths = append(paths, pat)
		}
	}
	var units []string
	if backend == "auto" || strings.HasPrefix(backend, "systemd") {
		match := ""
		if s, _, ok := p.get("journalmatch"); ok && strings.TrimSpace(s) != "" {
			match = s
		} else if err == nil {
			// The filter's journalmatch, read as a journal jail reads it.
			// A filter that does not load leaves the jail off; were it on,
			// the error would be reported.
			probeJail := &Jail{Name: j.Name, Backend: "systemd"}
			if f, ferr := p.l.filter(probeJail, name, opts, j.Loc); ferr == nil {
				match = f.JournalMatch
			}
		}
		for _, m := range unitRE.FindAllStringSubmatch(match, -1) {
			if p.l.probe.Unit(m[1]) {
				return true, "auto: on (unit " + m[1] + " is installed)"
			}
			units = append(units, m[1])
		}
	}
	var none []string
	for _, f := range paths {
		none = append(none, path.Clean(f))
	}
	none = append(none, units...)
	if len(none) == 0 {
		return false, "auto: off (no log file or journal unit to look for)"
	}
	return false, "auto: off (none of " + strings.Join(none, ", ") + " exists)"
}
