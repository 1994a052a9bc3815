package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestActions(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "action.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "action.d", "notify.conf"), []byte(`
[Definition]
actionstart = echo start <name> >> <logfile>
actionban = echo ban <ip> <failures> >> <logfile>
actionunban = echo unban <ip> >> <logfile>
prefix = [%(__name__)s]

[Init]
logfile = /var/log/notify.log
level = info
`), 0o644)
	os.WriteFile(filepath.Join(dir, "jail.local"), []byte(`
[DEFAULT]
action_ = %(banaction)s[port="%(port)s", protocol="%(protocol)s"]

[sshd]
action = %(action_)s
         notify[logfile="/tmp/n.log"]

[web]
enabled = true
filter = sshd
logpath = /var/log/web.log
banaction = notify

[plain]
enabled = true
filter = sshd
logpath = /var/log/plain.log
`), 0o644)
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := c.Jail("sshd")
	if !j.NativeBan || len(j.Actions) != 1 {
		t.Fatalf("sshd: native %v, actions %+v", j.NativeBan, j.Actions)
	}
	a := j.Actions[0]
	if a.Name != "notify" || a.Ban != "echo ban <ip> <failures> >> <logfile>" || a.Start != "echo start <name> >> <logfile>" {
		t.Errorf("action %+v", a)
	}
	want := map[string]string{"name": "sshd", "logfile": "/tmp/n.log", "level": "info", "prefix": "[Definition]"}
	if !reflect.DeepEqual(a.Init, want) {
		t.Errorf("init %v, want %v", a.Init, want)
	}
	w, _ := c.Jail("web")
	if w.NativeBan || len(w.Actions) != 1 || w.Actions[0].Init["logfile"] != "/var/log/notify.log" {
		t.Errorf("web: native %v, actions %+v", w.NativeBan, w.Actions)
	}
	p, _ := c.Jail("plain")
	if !p.NativeBan || len(p.Actions) != 0 {
		t.Errorf("plain: native %v, actions %+v", p.NativeBan, p.Actions)
	}
	if got := splitActions("a[x=\"1 2\"]  b\n c [y=3]"); strings.Join(got, "|") != `a[x="1 2"]|b|c[y=3]` {
		t.Errorf("splitActions: %q", got)
	}
	os.WriteFile(filepath.Join(dir, "jail.local"), []byte("[sshd]\naction = nosuchaction\n"), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), `jail.local:2: jail "sshd": action "nosuchaction" not found`) {
		t.Errorf("missing action: %v", err)
	}
}
