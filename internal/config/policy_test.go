package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func loadLocal(t *testing.T, jailLocal string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jail.local"), []byte(jailLocal), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(dir)
}

func TestPolicy(t *testing.T) {
	c, err := loadLocal(t, `
[DEFAULT]
bantime.increment = true
bantime.maxtime = 1w

[sshd]
banprefix.ipv6 = /56
windows = 20/1d, 100/1w
bantime.factor = 2
bantime.formula = ban.Time * (1<<(ban.Count if ban.Count<20 else 20))
    * banFactor
bantime.rndtime = 5m
bantime.overalljails = yes
subnet.escalate = true
subnet.count = 3

[recidive]
enabled = true
bantime = 1w
findtime = 1d

[web]
enabled = true
filter = sshd
logpath = /var/log/web.log
bantime.increment = false
bantime.multipliers = 1 2 4
`)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := c.Jail("sshd")
	if j.BanPrefix4 != 32 || j.BanPrefix6 != 56 {
		t.Errorf("prefixes %d %d", j.BanPrefix4, j.BanPrefix6)
	}
	if !reflect.DeepEqual(j.Windows, []Window{{20, 24 * time.Hour}, {100, 7 * 24 * time.Hour}}) {
		t.Errorf("windows %+v", j.Windows)
	}
	inc := j.Increment
	if inc == nil || inc.Factor != 2 || inc.MaxTime != 7*24*time.Hour || inc.RndTime != 5*time.Minute || !inc.OverallJails ||
		inc.Formula.Src != "ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor" || !strings.HasSuffix(inc.Formula.Loc.String(), "jail.local:10") {
		t.Errorf("increment %+v", inc)
	}
	if j.Subnet == nil || *j.Subnet != (Subnet{Count: 3, Window: time.Hour, Bits4: 24, Bits6: 48}) {
		t.Errorf("subnet %+v", j.Subnet)
	}
	r, _ := c.Jail("recidive")
	if !r.Recidive || len(r.LogPath) != 0 || r.Filter.Name != "recidive" || r.BanTime != 7*24*time.Hour || r.Increment == nil {
		t.Errorf("recidive %+v", r)
	}
	w, _ := c.Jail("web")
	if w.Increment != nil || w.Recidive || w.Subnet != nil || w.Windows != nil {
		t.Errorf("web %+v", w)
	}
}

func TestPolicyErrors(t *testing.T) {
	tests := []struct{ key, value, want string }{
		{"banprefix.ipv4", "33", `jail "sshd": banprefix.ipv4: "33" is not a prefix length from 1 to 32`},
		{"banprefix.ipv6", "x", `banprefix.ipv6: "x" is not a prefix length from 1 to 128`},
		{"windows", "20", `windows: "20" is not MAXRETRY/FINDTIME (for example 20/1d)`},
		{"windows", "20/soon", `windows: "20/soon": findtime:`},
		{"windows", "0/1d", `windows: "0/1d":`},
		{"bantime.increment", "maybe", `bantime.increment:`},
		{"subnet.count", "1\nsubnet.escalate = true", `subnet.count: must be at least 2, got 1`},
		{"subnet.window", "-5m\nsubnet.escalate = true", `subnet.window: must be positive`},
		{"bantime.factor", "-1\nbantime.increment = true", `bantime.factor: "-1" is not a positive number`},
		{"bantime.multipliers", "1 two\nbantime.increment = true", `bantime.multipliers: "two" is not a positive number`},
		{"bantime.maxtime", "forever\nbantime.increment = true", `bantime.maxtime:`},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			_, err := loadLocal(t, "[sshd]\n"+tt.key+" = "+tt.value+"\n")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "jail.local:2") {
				t.Fatalf("error %v, want jail.local:2 and %q", err, tt.want)
			}
		})
	}
}
