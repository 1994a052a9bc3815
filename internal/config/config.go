// Package config turns fail2ban-dialect configuration files into typed,
// validated jails and filters.
//
// Load lays a configuration directory over gaol's embedded defaults (package
// defaults) file by file, reads jail.conf < jail.d/*.conf < jail.local <
// jail.d/*.local with package ini, and resolves each enabled jail's filter
// from filter.d. Errors name the file and line they concern.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path/filepath"
	"sort"
	"time"

	"github.com/gaol-project/gaol/defaults"
	"github.com/gaol-project/gaol/internal/firewall/command"
	"github.com/gaol-project/gaol/internal/ignore"
	"github.com/gaol-project/gaol/internal/ini"
)

// Built-in values for settings no configuration file gives. They match the
// embedded jail.conf, so that a directory with its own jail.conf lacking
// them behaves like fail2ban.
const (
	DefaultBackend   = "auto"
	DefaultMaxRetry  = 5
	DefaultFindTime  = 10 * time.Minute
	DefaultBanTime   = 10 * time.Minute
	DefaultProtocol  = "tcp"
	DefaultBanAction = "nftables"
	DefaultMaxLines  = 1
)

// Config is a loaded configuration.
type Config struct {
	Jails    []*Jail   // all jails, enabled or not, sorted by name
	Warnings []Warning // things that were accepted but deserve attention

	byName map[string]*Jail
}

// Jail returns the jail called name.
func (c *Config) Jail(name string) (*Jail, bool) {
	j, ok := c.byName[name]
	return j, ok
}

// Enabled returns the enabled jails, sorted by name.
func (c *Config) Enabled() []*Jail {
	var out []*Jail
	for _, j := range c.Jails {
		if j.Enabled {
			out = append(out, j)
		}
	}
	return out
}

// Warning is a problem that does not stop the configuration from loading.
type Warning struct {
	Loc ini.Location
	Msg string
}

// String returns "file:line: message".
func (w Warning) String() string { return (&ini.Error{Loc: w.Loc, Err: errors.New(w.Msg)}).Error() }

// Jail is one jail: which logs to watch, with which filter, and how to ban.
//
// A disabled jail is parsed leniently (fail2ban's own jail.conf holds many
// disabled jails that refer to files a system may not have): values that do
// not parse keep their defaults and its filter is not read.
type Jail struct {
	Name    string
	Loc     ini.Location // where the jail's section first appears
	Enabled bool
	// Auto, for a jail with "enabled = auto", says why it is on or off:
	// which of its log files or journal units exists on this machine, or
	// that none does. Empty for other jails.
	Auto string

	LogPath []string // file names or glob patterns, not expanded; "-" is standard input
	Backend string   // "auto", "polling", "systemd", "syslog", ... as written
	// JournalMatch selects the journal entries of backend systemd (or
	// auto, when the log files are missing): the jail's journalmatch, else
	// its filter's.
	JournalMatch string
	// SyslogPrograms and SyslogHosts restrict what backend syslog takes
	// from the syslog listener (shell patterns; hosts also as addresses or
	// CIDRs); empty takes everything.
	SyslogPrograms, SyslogHosts []string

	// Filter is the jail's filter. For a disabled jail only its Name and
	// Options are set.
	Filter *Filter

	// UseDNS is the jail's usedns: "yes", "warn", "no" or "raw" ("" is
	// fail2ban's default, warn). LogTimeZone is its logtimezone, the zone
	// of log timestamps that name none ("" = the system's).
	UseDNS      string
	LogTimeZone string

	MaxRetry int           // failures within FindTime that trigger a ban
	FindTime time.Duration // the window failures are counted in
	BanTime  time.Duration // how long a ban lasts; negative means permanent

	// IgnoreIP are the addresses and networks of ignoreip, as written;
	// Ignore is the whole list, with its host names and file: lists, and
	// the host's own addresses when IgnoreSelf is set.
	IgnoreIP   []netip.Prefix
	Ignore     *ignore.Spec
	IgnoreSelf bool // also never ban the host's own addresses
	// IgnoreCommand is the ignorecommand with its ignorecache settings;
	// nil when there is none.
	IgnoreCommand *ignore.CommandConfig

	Ports     []PortRange // ports a ban blocks; empty means all ports
	Protocol  string      // "tcp", "udp" or "all"
	BanAction string      // as written, e.g. "nftables"
	// NativeBan says the jail's action list includes a kernel firewall
	// action (nftables-*, iptables-*), which gaol's own backend carries out;
	// Actions are the other actions, run as fail2ban's action.d commands.
	// A jail with no action setting bans natively unless its banaction is
	// not a kernel firewall one (ufw, firewallcmd-*, ...).
	NativeBan bool
	Actions   []command.Action

	// BanPrefix4 and BanPrefix6 are the prefix lengths failures are
	// counted and banned by (banprefix.ipv4, default 32; banprefix.ipv6,
	// default 64).
	BanPrefix4, BanPrefix6 int
	Windows                []Window   // extra maxretry/findtime windows (windows = 20/1d)
	Increment              *Increment // bantime.increment; nil when off
	Subnet                 *Subnet    // subnet.escalate; nil when off
	// Recidive jails (filter = recidive) count the bans of the other
	// jails instead of reading a log.
	Recidive bool
}

// Permanent reports whether the jail's bans last until an explicit unban.
func (j *Jail) Permanent() bool { return j.BanTime < 0 }

// Load reads the configuration in dir laid over the embedded defaults: a
// file in dir replaces the embedded file with the same path (a dir with its
// own jail.conf, such as /etc/fail2ban, replaces gaol's jail.conf; a dir
// with only jail.local is read on top of it; filters dir does not have stay
// available). dir == "" reads the embedded defaults alone.
//
// The error, if any, lists every problem found, one per line, each with the
// file and line it concerns.
func Load(dir string) (*Config, error) {
	return load(dir, defaults.FS, hostProbe{})
}

// load is Load with the defaults and the view of the machine given, for
// tests.
func load(dir string, base fs.FS, pr probe) (*Config, error) {
	l, err := newLoader(dir, base)
	if err != nil {
		return nil, err
	}
	l.probe = pr
	return l.load()
}

// loader holds the state of one Load.
type loader struct {
	probe    probe // what exists on this machine, for enabled = auto
	overlay  *overlay
	ini      *ini.Loader
	filters  map[string]*filterFile // by filter name
	errs     []error
	seen     map[string]bool // error messages already reported
	warnings []Warning
}

func (l *loader) load() (*Config, error) {
	jails, err := l.ini.Load("jail")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no jail configuration (jail.conf, jail.local or jail.d/) in %s", l.where(""))
	}
	if err != nil {
		return nil, err
	}
	c := &Config{byName: map[string]*Jail{}}
	for _, name := range jails.Sections() {
		if name == ini.IncludesSection {
			continue
		}
		j := l.jail(jails, name)
		c.Jails = append(c.Jails, j)
		c.byName[name] = j
	}
	sort.Slice(c.Jails, func(i, k int) bool { return c.Jails[i].Name < c.Jails[k].Name })
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	c.Warnings = l.warnings
	return c, nil
}

// fail records an error, once.
func (l *loader) fail(err error) {
	if msg := err.Error(); !l.seen[msg] {
		l.seen[msg] = true
		l.errs = append(l.errs, err)
	}
}

// where describes the places a file of subdirectory sub ("filter.d", or
// "" for the top) is looked for.
func (l *loader) where(sub string) string {
	embedded := "the embedded defaults"
	if sub != "" {
		embedded = "the embedded " + sub
	}
	if l.overlay.upper == nil {
		return embedded
	}
	return filepath.Join(l.overlay.upperDir, sub) + " and " + embedded
}
