package config

import (
	"reflect"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"600", 600 * time.Second},
		{" 600 ", 600 * time.Second},
		{"10m", 10 * time.Minute},
		{"1h", time.Hour},
		{"1d", 24 * time.Hour},
		{"1w", 7 * 24 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"1h 30m", 90 * time.Minute},
		{"1d12h", 36 * time.Hour},
		{"2 days", 48 * time.Hour},
		{"3 hours 5 minutes", 3*time.Hour + 5*time.Minute},
		{"10 M", 10 * time.Minute},
		{"45s", 45 * time.Second},
		{"30 seconds", 30 * time.Second},
		{"1.5h", 90 * time.Minute},
		{"1mo", 2629800 * time.Second},
		{"1 month", 2629800 * time.Second},
		{"1y", 365*24*time.Hour + 6*time.Hour},
		{"2 weeks", 14 * 24 * time.Hour},
		{"-1", -time.Second},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%q = %v, want %v", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"", "-", "abc", "10ms", "1.2.3", "m", "10 parsecs", "1e3", "999999999999999999999y", "h1"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("%q = %v, want an error", bad, d)
		}
	}
}

func TestParseBool(t *testing.T) {
	for _, s := range []string{"true", "True", "yes", "on", "1", " YES "} {
		if b, err := parseBool(s); err != nil || !b {
			t.Errorf("%q = %v, %v", s, b, err)
		}
	}
	for _, s := range []string{"false", "no", "off", "0", "False"} {
		if b, err := parseBool(s); err != nil || b {
			t.Errorf("%q = %v, %v", s, b, err)
		}
	}
	for _, s := range []string{"", "2", "enabled", "y"} {
		if _, err := parseBool(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}

func TestParsePorts(t *testing.T) {
	tests := []struct {
		in, proto string
		want      []PortRange
		err       string
	}{
		{in: "ssh", proto: "tcp", want: []PortRange{{22, 22}}},
		{in: "22", proto: "tcp", want: []PortRange{{22, 22}}},
		{in: "http,https", proto: "tcp", want: []PortRange{{80, 80}, {443, 443}}},
		{in: " 25 , submission,smtps ", proto: "tcp", want: []PortRange{{25, 25}, {587, 587}, {465, 465}}},
		{in: "1000:2000", proto: "tcp", want: []PortRange{{1000, 2000}}},
		{in: "1000-2000", proto: "udp", want: []PortRange{{1000, 2000}}},
		{in: "ftp-data", proto: "tcp", want: []PortRange{{20, 20}}},
		{in: "ftp-data-ftp", proto: "tcp", want: []PortRange{{20, 21}}},
		{in: "0:65535", proto: "tcp", want: nil},
		{in: "1:65535", proto: "tcp", want: nil},
		{in: "ssh,all", proto: "tcp", want: nil},
		{in: "any", proto: "all", want: nil},
		{in: "0", proto: "tcp", err: "invalid port 0"},
		{in: "70000", proto: "tcp", err: `invalid port "70000"`},
		{in: "2000:1000", proto: "tcp", err: `invalid port range "2000:1000"`},
		{in: "nosuchservice", proto: "tcp", err: `unknown service "nosuchservice"`},
		{in: "ssh;http", proto: "tcp", err: `invalid port "ssh;http"`},
		{in: ",", proto: "tcp", err: `no ports in ","`},
	}
	for _, tt := range tests {
		got, err := parsePorts(tt.in, tt.proto)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: error %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if s := (PortRange{1, 2}).String() + " " + (PortRange{22, 22}).String(); s != "1:2 22" {
		t.Errorf("String: %q", s)
	}
}

func TestParseFilterSpec(t *testing.T) {
	tests := []struct {
		in   string
		name string
		opts map[string]string
		err  string
	}{
		{in: "sshd", name: "sshd"},
		{in: " sshd ", name: "sshd"},
		{in: "sshd[mode=aggressive]", name: "sshd", opts: map[string]string{"mode": "aggressive"}},
		{in: `sshd[mode=aggressive, Port="22, 2222", x='a]b'][maxlines=2]`, name: "sshd",
			opts: map[string]string{"mode": "aggressive", "port": "22, 2222", "x": "a]b", "maxlines": "2"}},
		{in: "sshd[]", name: "sshd", opts: map[string]string{}},
		{in: "sshd[mode=]", name: "sshd", opts: map[string]string{"mode": ""}},
		{in: "[mode=x]", err: `no filter name in "[mode=x]"`},
		{in: "../x", err: `invalid filter name "../x"`},
		{in: "a b", err: `invalid filter name "a b"`},
		{in: "sshd[mode=x", err: `missing "]" in "sshd[mode=x"`},
		{in: "sshd[mode]", err: `"sshd[mode]": expected key=value at "mode"`},
		{in: `sshd[mode="x]`, err: `"sshd[mode=\"x]": unterminated quote in option "mode"`},
		{in: `sshd[a="x" b=1]`, err: `"sshd[a=\"x\" b=1]": unexpected "b=1" after option "a"`},
	}
	for _, tt := range tests {
		name, opts, err := parseFilterSpec(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: error %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || name != tt.name || !reflect.DeepEqual(opts, tt.opts) {
			t.Errorf("%q = %q %v %v; want %q %v", tt.in, name, opts, err, tt.name, tt.opts)
		}
	}
}
