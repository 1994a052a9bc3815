package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// fakeProbe is a machine with the given files and units.
type fakeProbe struct {
	files map[string]bool
	units map[string]bool
}

func (f fakeProbe) Glob(pattern string) []string {
	var out []string
	for name := range f.files {
		if ok, _ := filepath.Match(pattern, name); ok {
			out = append(out, name)
		}
	}
	return out
}

func (f fakeProbe) Unit(name string) bool { return f.units[name] }

func TestAutoEnable(t *testing.T) {
	base := fstest.MapFS{
		"jail.conf": {Data: []byte(`[DEFAULT]
autoenable = auto
filter = %(__name__)s
[web]
enabled = %(autoenable)s
logpath = /var/log/nginx/error.log
          /var/log/httpd/error_log
[mail]
enabled = auto
logpath = /var/log/mail.log
[journal-only]
enabled = auto
backend = systemd
[recidive]
enabled = auto
[broken]
enabled = maybe
logpath = /x
`)},
		"filter.d/web.conf":          {Data: []byte("[Definition]\nfailregex = ^<HOST> x\n")},
		"filter.d/mail.conf":         {Data: []byte("[Definition]\nfailregex = ^<HOST> x\n[Init]\njournalmatch = _SYSTEMD_UNIT=postfix@-.service + _SYSTEMD_UNIT=dovecot.service\n")},
		"filter.d/journal-only.conf": {Data: []byte("[Definition]\nfailregex = ^<HOST> x\n[Init]\njournalmatch = _SYSTEMD_UNIT=svc.service\n")},
	}
	tests := []struct {
		name  string
		probe fakeProbe
		local string
		want  map[string]string // jail -> "on ..."/"off ..." prefix of Auto; "" = not auto
	}{
		{
			name:  "nothing installed",
			probe: fakeProbe{},
			want: map[string]string{
				"web":          "auto: off (none of /var/log/nginx/error.log, /var/log/httpd/error_log exists)",
				"mail":         "auto: off (none of /var/log/mail.log, postfix@-.service, dovecot.service exists)",
				"journal-only": "auto: off (none of svc.service exists)",
				"recidive":     "auto: on (counts the other jails' bans)",
			},
		},
		{
			name:  "RHEL web server, postfix from the journal",
			probe: fakeProbe{files: map[string]bool{"/var/log/httpd/error_log": true}, units: map[string]bool{"dovecot.service": true, "svc.service": true}},
			want: map[string]string{
				"web":          "auto: on (/var/log/httpd/error_log exists)",
				"mail":         "auto: on (unit dovecot.service is installed)",
				"journal-only": "auto: on (unit svc.service is installed)",
			},
		},
		{
			name:  "jail.local turns auto off for all",
			probe: fakeProbe{files: map[string]bool{"/var/log/nginx/error.log": true}},
			local: "[DEFAULT]\nautoenable = false\n",
			want:  map[string]string{"web": ""},
		},
		{
			name:  "jail.local enables one explicitly",
			probe: fakeProbe{},
			local: "[mail]\nenabled = true\n",
			want:  map[string]string{"mail": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			local := "[broken]\nenabled = false\n" + tt.local
			if err := os.WriteFile(filepath.Join(dir, "jail.local"), []byte(local), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := load(dir, base, tt.probe)
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				j := mustJail(t, c, name)
				if j.Auto != want {
					t.Errorf("%s: Auto %q, want %q", name, j.Auto, want)
				}
				wantOn := strings.HasPrefix(want, "auto: on")
				if want == "" {
					wantOn = name == "mail"
				}
				if j.Enabled != wantOn {
					t.Errorf("%s: enabled %v, want %v", name, j.Enabled, wantOn)
				}
				if j.Enabled && j.Filter == nil {
					t.Errorf("%s: enabled without a filter", name)
				}
			}
		})
	}
	// A value that is neither a boolean nor auto is an error naming both.
	dir := t.TempDir()
	if _, err := load(dir, base, fakeProbe{}); err == nil || !strings.Contains(err.Error(), `jail.conf:17: jail "broken": enabled: invalid value "maybe" (want true, false or auto)`) {
		t.Errorf("error %v", err)
	}
}
