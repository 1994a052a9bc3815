package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUseDNSAndLogTimeZone(t *testing.T) {
	tests := []struct {
		local   string
		dns, tz string
		wantErr string
	}{
		{local: "[sshd]\n", dns: "", tz: ""},
		{local: "[sshd]\nusedns = no\nlogtimezone = UTC+0200\n", dns: "no", tz: "UTC+0200"},
		{local: "[DEFAULT]\nusedns = RAW\n[sshd]\nlogtimezone = CET\n", dns: "raw", tz: "CET"},
		{local: "[sshd]\nusedns = true\n", dns: "yes"},
		{local: "[sshd]\nusedns = maybe\n", wantErr: `jail.local:2: jail "sshd": usedns: invalid value "maybe"`},
		{local: "[sshd]\nlogtimezone = Mars/Olympus\n", wantErr: `jail.local:2: jail "sshd": logtimezone:`},
	}
	for _, tt := range tests {
		c, err := loadLocal(t, tt.local)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.local, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.local, err)
			continue
		}
		j := mustJail(t, c, "sshd")
		if j.UseDNS != tt.dns || j.LogTimeZone != tt.tz {
			t.Errorf("%q: usedns %q logtimezone %q, want %q %q", tt.local, j.UseDNS, j.LogTimeZone, tt.dns, tt.tz)
		}
	}
}

func TestFilterCategory(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"filter.d/probe.conf": "[Definition]\ncategory = web-probe\nfailregex = ^<HOST> x\n",
		"jail.local":          "[probe]\nenabled = true\nlogpath = /dev/null\n[probe2]\nenabled = true\nlogpath = /dev/null\nfilter = probe[category=web-probe:git]\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := loadTest(t, dir)
	if got := mustJail(t, c, "probe").Filter.Category; got != "web-probe" {
		t.Errorf("probe category %q", got)
	}
	if got := mustJail(t, c, "probe2").Filter.Category; got != "web-probe:git" {
		t.Errorf("probe2 category %q (the jail's filter options override the filter's)", got)
	}
}
