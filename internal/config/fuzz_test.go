package config

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"600", "10m", "1h 30m", "1d12h", "-1", "2 weeks", "1.5h", "1mo", "x", "9999999999y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		// Go's own notation for whole seconds ("1h30m0s") reads back the same.
		if d%time.Second == 0 && d.Abs() < 100*365*24*time.Hour {
			if back, err := ParseDuration(d.String()); err != nil || back != d {
				t.Errorf("%q = %v, read back as %v, %v", s, d, back, err)
			}
		}
	})
}

func FuzzParseFilterSpec(f *testing.F) {
	for _, s := range []string{"sshd", `sshd[mode=aggressive, port="22,2222"][x='y']`, "a[b=c", "[x]", "a[b]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, opts, err := parseFilterSpec(s)
		if err != nil {
			return
		}
		if name == "" || strings.ContainsAny(name, "[ \t\n") {
			t.Errorf("%q: name %q", s, name)
		}
		for k := range opts {
			if k == "" || strings.ToLower(k) != k {
				t.Errorf("%q: option name %q", s, k)
			}
		}
	})
}

// FuzzFilter reads an arbitrary filter file through the whole loader, tag
// substitution included: no panic, no runaway, errors with a location.
func FuzzFilter(f *testing.F) {
	seeds := []string{
		"[Definition]\nfailregex = ^x <HOST>$\n",
		"[INCLUDES]\nbefore = f.conf\n[Definition]\nmode = a\nre-a = ^a <HOST>\nfailregex = <re-<mode>>\n[Init]\nmaxlines = 2\n",
		"[Definition]\na = <b><b>\nb = <a>\nfailregex = <a>\n",
		"[Definition]\nfailregex = <lt_x/y>\n[lt_x]\ny = %(z)s\nz = <known/y>\n",
		"[Definition]\nfailregex = %(known/failregex)s\ndatepattern = %%Y\n  {^LN-BEG}\nprefregex = a\n  b\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		base := fstest.MapFS{
			"jail.conf":       {Data: []byte("[j]\nenabled = true\nlogpath = /x\nfilter = f[mode=a]\n")},
			"filter.d/f.conf": {Data: []byte(data)},
		}
		_, err := load("", base, hostProbe{})
		if err != nil && !strings.HasPrefix(err.Error(), "embedded:") {
			t.Fatalf("error without location: %v", err)
		}
	})
}
