package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/defaults"
	"github.com/gaol-project/gaol/internal/ini"
)

// loadTest loads dir over testdata/base, which stands in for the embedded
// defaults so that these tests do not depend on the real filters.
func loadTest(t *testing.T, dir string) *Config {
	t.Helper()
	c, err := load(dir, os.DirFS("testdata/base"), hostProbe{})
	if err != nil {
		t.Fatalf("load %q: %v", dir, err)
	}
	return c
}

func mustJail(t *testing.T, c *Config, name string) *Jail {
	t.Helper()
	j, ok := c.Jail(name)
	if !ok {
		t.Fatalf("no jail %q", name)
	}
	return j
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func exprs(rs []Regex) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Loc.String()+" "+r.Expr)
	}
	return out
}

// TestEmbeddedDefaults checks what `gaol server` runs with no flags.
func TestEmbeddedDefaults(t *testing.T) {
	// On a machine with none of the services' logs or units, only sshd is
	// on.
	c, err := load("", defaults.FS, fakeProbe{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %v", c.Warnings)
	}
	enabled := c.Enabled()
	if len(enabled) != 1 || enabled[0].Name != "sshd" {
		t.Fatalf("enabled jails: %v", enabled)
	}
	j := enabled[0]
	if !strings.HasPrefix(j.Loc.String(), "embedded:jail.conf:") {
		t.Errorf("Loc = %v", j.Loc)
	}
	want := &Jail{
		Name: "sshd", Loc: j.Loc, Enabled: true,
		LogPath:      []string{"/var/log/auth.log", "/var/log/secure"},
		Backend:      "auto",
		Filter:       j.Filter,
		JournalMatch: "_SYSTEMD_UNIT=ssh.service + _SYSTEMD_UNIT=sshd.service + _COMM=sshd + _COMM=sshd-session",
		MaxRetry:     5, FindTime: 10 * time.Minute, BanTime: 10 * time.Minute,
		IgnoreIP: prefixes("127.0.0.0/8", "::1/128"), Ignore: j.Ignore, IgnoreSelf: true,
		Ports: []PortRange{{22, 22}}, Protocol: "tcp", BanAction: "nftables",
		BanPrefix4: 32, BanPrefix6: 64, NativeBan: true,
	}
	if !reflect.DeepEqual(j, want) {
		t.Errorf("sshd =\n%+v\nwant\n%+v", j, want)
	}
	f := j.Filter
	if f == nil || f.Name != "sshd" || f.File != "embedded:filter.d/sshd.conf" || len(f.FailRegex) == 0 || f.MaxLines != 1 {
		t.Fatalf("filter = %+v", f)
	}
	for _, r := range f.FailRegex {
		if strings.Contains(r.Expr, "%(") ||
			!strings.HasPrefix(r.Loc.String(), "embedded:filter.d/sshd.conf:") {
			t.Errorf("failregex %s %q", r.Loc, r.Expr)
		}
	}
}

// TestEmbeddedWithLocal reads a jail.local on top of the real defaults.
func TestEmbeddedWithLocal(t *testing.T) {
	c, err := load("testdata/embedded-local", defaults.FS, fakeProbe{})
	if err != nil {
		t.Fatal(err)
	}
	j := mustJail(t, c, "sshd")
	if j.MaxRetry != 3 || j.BanTime != time.Hour || j.FindTime != 10*time.Minute || !j.Enabled {
		t.Errorf("sshd = %+v", j)
	}
	s := mustJail(t, c, "sshd-secure")
	if !s.Enabled || s.Filter == nil || s.Filter.Name != "sshd" || !reflect.DeepEqual(s.LogPath, []string{"/var/log/secure"}) {
		t.Errorf("sshd-secure = %+v", s)
	}
	if s.Loc.String() != filepath.Join("testdata", "embedded-local", "jail.local")+":6" {
		t.Errorf("sshd-secure Loc = %v", s.Loc)
	}
	if len(c.Enabled()) != 2 {
		t.Errorf("enabled: %d", len(c.Enabled()))
	}
}

func TestBase(t *testing.T) {
	c := loadTest(t, "")
	if names := []string{c.Jails[0].Name, c.Jails[1].Name}; !reflect.DeepEqual(names, []string{"myapp", "sshd"}) {
		t.Errorf("jails %v", names)
	}
	j := mustJail(t, c, "sshd")
	if j.Loc != (ini.Location{File: "embedded:jail.conf", Line: 14}) {
		t.Errorf("Loc = %v", j.Loc)
	}
	want := []string{
		`embedded:filter.d/sshd.conf:6 ^\s*\S+ sshd(?:\[\d+\])?:\s+bad password from <HOST>$`,
		`embedded:filter.d/sshd.conf:7 ^\s*\S+ sshd(?:\[\d+\])?:\s+no such user <F-USER>\S+</F-USER> from <HOST>$`,
	}
	if got := exprs(j.Filter.FailRegex); !reflect.DeepEqual(got, want) {
		t.Errorf("failregex\n%v\nwant\n%v", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if j.Filter.IgnoreRegex != nil || j.Filter.PrefRegex.Expr != "" || j.Filter.DatePattern != "" {
		t.Errorf("filter = %+v", j.Filter)
	}
	// A disabled jail keeps its settings and its filter's name, but its
	// filter is not read.
	m := mustJail(t, c, "myapp")
	if m.Enabled || m.Filter == nil || m.Filter.Name != "myapp" || m.Filter.File != "" || m.Ports[0] != (PortRange{8080, 8080}) {
		t.Errorf("myapp = %+v, filter %+v", m, m.Filter)
	}
}

// TestOverrideOrder checks jail.conf < jail.d/*.conf < jail.local < jail.d/*.local.
func TestOverrideOrder(t *testing.T) {
	c := loadTest(t, "testdata/order")
	j := mustJail(t, c, "sshd")
	if j.MaxRetry != 3 {
		t.Errorf("maxretry = %d, want 3 (jail.d/20-b.local, read after 05-z.local)", j.MaxRetry)
	}
	if j.FindTime != 2*time.Minute {
		t.Errorf("findtime = %v, want 2m (jail.local over jail.d/10-a.conf)", j.FindTime)
	}
	if j.BanTime != time.Hour {
		t.Errorf("bantime = %v, want 1h (jail.d/10-a.conf over jail.conf)", j.BanTime)
	}
	if want := prefixes("192.0.2.0/24", "2001:db8::/32", "198.51.100.7/32"); !reflect.DeepEqual(j.IgnoreIP, want) {
		t.Errorf("ignoreip = %v, want %v", j.IgnoreIP, want)
	}
	if want := []string{"/var/log/auth.log", "/var/log/sshd-extra.log"}; !reflect.DeepEqual(j.LogPath, want) {
		t.Errorf("logpath = %q, want %q (%%(known/logpath)s extends jail.conf's)", j.LogPath, want)
	}
	if j.BanAction != "nftables" || j.Protocol != "tcp" {
		t.Errorf("DEFAULT values lost: %+v", j)
	}
}

// TestInterpolation checks %(name)s from the section and DEFAULT,
// %(__name__)s and filter options.
func TestInterpolation(t *testing.T) {
	c := loadTest(t, "testdata/interp")
	j := mustJail(t, c, "myapp")
	if want := []string{"/srv/log/myapp.log", "/srv/log/myapp-*.log"}; !reflect.DeepEqual(j.LogPath, want) {
		t.Errorf("logpath = %q, want %q", j.LogPath, want)
	}
	if want := []PortRange{{8443, 8443}, {9000, 9010}}; !reflect.DeepEqual(j.Ports, want) {
		t.Errorf("ports = %v, want %v", j.Ports, want)
	}
	if !j.Permanent() || j.BanTime >= 0 {
		t.Errorf("bantime = %v, want permanent", j.BanTime)
	}
	if s := mustJail(t, c, "sshd"); s.BanTime != 24*time.Hour {
		t.Errorf("sshd bantime = %v, want 1d from DEFAULT in jail.local", s.BanTime)
	}
	f := j.Filter
	if !reflect.DeepEqual(f.Options, map[string]string{"mode": "strict", "maxlines": "3"}) {
		t.Errorf("options = %v", f.Options)
	}
	wantRe := []string{
		"embedded:filter.d/myapp.conf:10 ^login failed for <HOST>$",
		"embedded:filter.d/myapp.conf:11 ^probe from <HOST>$",
	}
	if got := exprs(f.FailRegex); !reflect.DeepEqual(got, wantRe) {
		t.Errorf("failregex (mode=strict)\n%v\nwant\n%v", strings.Join(got, "\n"), strings.Join(wantRe, "\n"))
	}
	if want := `^\s*\S+ myapp(?:\[\d+\])?:\s+<F-CONTENT>.+</F-CONTENT>$`; f.PrefRegex.Expr != want || f.PrefRegex.Loc.Line != 8 {
		t.Errorf("prefregex = %v %q, want %q", f.PrefRegex.Loc, f.PrefRegex.Expr, want)
	}
	if want := "^%Y-%m-%d %H:%M:%S\n{^LN-BEG}"; f.DatePattern != want {
		t.Errorf("datepattern = %q, want %q", f.DatePattern, want)
	}
	if f.MaxLines != 3 {
		t.Errorf("maxlines = %d, want 3 (jail option over [Init])", f.MaxLines)
	}
}

// TestReplaceJailConf: a directory with its own jail.conf replaces the
// embedded one, while embedded filters stay available.
func TestReplaceJailConf(t *testing.T) {
	c := loadTest(t, "testdata/replace")
	if len(c.Jails) != 1 {
		t.Fatalf("jails: %v", c.Jails)
	}
	j := mustJail(t, c, "web")
	if !j.Enabled || j.MaxRetry != 7 || j.FindTime != DefaultFindTime || j.Protocol != "all" {
		t.Errorf("web = %+v", j)
	}
	if want := []PortRange{{80, 80}, {443, 443}}; !reflect.DeepEqual(j.Ports, want) {
		t.Errorf("ports = %v", j.Ports)
	}
	if j.Filter.File != "embedded:filter.d/myapp.conf" || j.Filter.MaxLines != 2 {
		t.Errorf("filter = %+v", j.Filter)
	}
	if j.IgnoreIP != nil || !j.IgnoreSelf {
		t.Errorf("ignore = %v %v", j.IgnoreIP, j.IgnoreSelf)
	}
}

// TestFilterShadow: a filter.d file in the directory replaces the embedded
// one of the same name (no key merging); other filters remain.
func TestFilterShadow(t *testing.T) {
	c := loadTest(t, "testdata/filtershadow")
	sshd := mustJail(t, c, "sshd").Filter
	wantFile := filepath.Join("testdata", "filtershadow", "filter.d", "sshd.conf")
	if want := []string{wantFile + ":2 ^shadowed <HOST>$"}; !reflect.DeepEqual(exprs(sshd.FailRegex), want) {
		t.Errorf("sshd failregex %v, want %v", exprs(sshd.FailRegex), want)
	}
	if sshd.File != wantFile {
		t.Errorf("File = %q", sshd.File)
	}
	if f := mustJail(t, c, "myapp").Filter; f.File != "embedded:filter.d/myapp.conf" || len(f.FailRegex) != 1 {
		t.Errorf("myapp filter = %+v", f)
	}
}

// TestFilterLocal: NAME.local extends the embedded filter key by key, and
// included files' own includes (common.local) come from the directory.
func TestFilterLocal(t *testing.T) {
	c := loadTest(t, "testdata/filterlocal")
	f := mustJail(t, c, "sshd").Filter
	local := filepath.Join("testdata", "filterlocal", "filter.d", "sshd.local")
	want := []string{
		`embedded:filter.d/sshd.conf:6 ^PFX-sshd:bad password from <HOST>$`,
		`embedded:filter.d/sshd.conf:7 ^PFX-sshd:no such user <F-USER>\S+</F-USER> from <HOST>$`,
		local + `:3 ^extra <HOST>$`,
	}
	if got := exprs(f.FailRegex); !reflect.DeepEqual(got, want) {
		t.Errorf("failregex\n%v\nwant\n%v", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if f.File != "embedded:filter.d/sshd.conf" {
		t.Errorf("File = %q", f.File)
	}
}

func TestErrors(t *testing.T) {
	p := func(dir string, parts ...string) string {
		return filepath.Join(append([]string{"testdata", "errors", dir}, parts...)...)
	}
	tests := []struct{ dir, want string }{
		{"maxretry", p("maxretry", "jail.local") + `:3: jail "sshd": maxretry: invalid number "abc"`},
		{"maxretry-zero", p("maxretry-zero", "jail.local") + `:2: jail "sshd": maxretry: must be at least 1, got 0`},
		{"findtime", p("findtime", "jail.local") + `:2: jail "sshd": findtime: invalid duration "10 parsecs": unknown unit "parsecs"`},
		{"bantime-zero", p("bantime-zero", "jail.local") + `:2: jail "sshd": bantime: must not be 0 (use a duration, or -1 for permanent bans)`},
		{"enabled", p("enabled", "jail.local") + `:2: jail "sshd": enabled: invalid value "maybe" (want true, false or auto)`},
		{"filter-missing", p("filter-missing", "jail.local") + `:4: jail "sshd": filter "sshx" not found (looked in ` + p("filter-missing", "filter.d") + ` and the embedded filter.d)`},
		{"filter-spec", p("filter-spec", "jail.local") + `:2: jail "sshd": filter: missing "]" in "sshd[mode=aggressive"`},
		{"filter-syntax", p("filter-syntax", "filter.d", "broken.conf") + `:3: filter "broken": expected "key = value", "[section]" or a comment, got "this is not ini"`},
		{"filter-noregex", p("filter-noregex", "filter.d", "empty.conf") + `:2: filter "empty": no failregex`},
		{"filter-undefined", p("filter-undefined", "filter.d", "undef.conf") + `:2: filter "undef": failregex: undefined variable %(__prefix)s in [Definition]`},
		{"ignoreip", p("ignoreip", "jail.local") + `:2: jail "sshd": ignoreip: invalid entry "192.0.2.300": invalid address: ParseAddr("192.0.2.300"): IPv4 field has value >255`},
		{"port", p("port", "jail.local") + `:2: jail "sshd": port: unknown service "no-such-service"`},
		{"protocol", p("protocol", "jail.local") + `:2: jail "sshd": protocol: invalid protocol "sctp" (want tcp, udp or all)`},
		{"logpath", p("logpath", "jail.local") + `:2: jail "web": logpath: not set (give the log files to watch, or use backend = systemd)`},
		{"interpolation", p("interpolation", "jail.local") + `:2: jail "sshd": logpath: undefined variable %(logdir)s in [sshd]`},
		{"syntax", p("syntax", "jail.local") + `:3: expected "key = value", "[section]" or a comment, got "maxretry 3"`},
		{"several", p("several", "jail.local") + `:2: jail "sshd": maxretry: must be at least 1, got -2` + "\n" +
			p("several", "jail.local") + `:3: jail "sshd": bantime: invalid duration "forever"` + "\n" +
			p("several", "jail.local") + `:9: jail "web": port: invalid port "70000"`},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			_, err := load(p(tt.dir), os.DirFS("testdata/base"), hostProbe{})
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", err, tt.want)
			}
		})
	}
}

func TestLoadDirErrors(t *testing.T) {
	if _, err := Load("/nonexistent/gaol"); err == nil || err.Error() != `config directory "/nonexistent/gaol": no such directory` {
		t.Errorf("got %v", err)
	}
	if _, err := Load("testdata/base/jail.conf"); err == nil || err.Error() != `config directory "testdata/base/jail.conf": not a directory` {
		t.Errorf("got %v", err)
	}
}

// TestDisabledLenient: a disabled jail with values that do not parse loads.
func TestDisabledLenient(t *testing.T) {
	c := loadTest(t, "testdata/errors/disabled-lenient")
	j := mustJail(t, c, "legacy")
	if j.Enabled || j.MaxRetry != DefaultMaxRetry || j.Filter.Name != "nonexistent" || j.Ports != nil {
		t.Errorf("legacy = %+v", j)
	}
	if j.Loc.Line != 2 {
		t.Errorf("Loc = %v", j.Loc)
	}
}

func TestIgnore(t *testing.T) {
	c := loadTest(t, "testdata/ignore")
	j := mustJail(t, c, "sshd")
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %v", c.Warnings)
	}
	if !reflect.DeepEqual(j.IgnoreIP, prefixes("192.0.2.1/32", "198.51.100.0/24")) {
		t.Errorf("ignoreip = %v", j.IgnoreIP)
	}
	var kinds []string
	for _, e := range j.Ignore.Entries() {
		kinds = append(kinds, e.Text)
	}
	if strings.Join(kinds, " ") != "192.0.2.1 backup.example.org 198.51.100.0/24 file:trusted.txt" || j.Ignore.Self {
		t.Errorf("ignore entries %v, self %v", kinds, j.Ignore.Self)
	}
	cc := j.IgnoreCommand
	if cc == nil || cc.Command != "/usr/local/bin/is-trusted <ip>" || cc.CacheKey != "<ip>" || cc.CacheSize != 100 || cc.CacheTTL != 5*time.Minute {
		t.Errorf("ignorecommand %+v", cc)
	}
	for _, tt := range []struct{ local, want string }{
		{"[sshd]\nignoreip = 192.0.2.1 ,, bad_entry!\n", "jail.local:2: jail \"sshd\": ignoreip:"},
		{"[sshd]\nignorecommand = true\nignorecache = max-count=lots\n", "jail.local:3: jail \"sshd\": ignorecache: max-count:"},
		{"[sshd]\nignorecommand = true\nignorecache = size=1\n", `unknown setting "size"`},
	} {
		if _, err := loadLocal(t, tt.local); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.local, err, tt.want)
		}
	}
}

func TestSystemdBackend(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jail.local"), []byte("[sshd]\nbackend = systemd\nlogpath =\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := loadTest(t, dir)
	if j := mustJail(t, c, "sshd"); j.Backend != "systemd" || j.LogPath != nil {
		t.Errorf("sshd = %+v", j)
	}
}
