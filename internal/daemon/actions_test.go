package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/control"
)

// TestCommandActions runs a fail2ban action.d action besides the native
// firewall, and proves that text from a log line cannot run a command
// through it (fail2ban's CVE-2021-32749).
func TestCommandActions(t *testing.T) {
	e := newEnv(t, `
[sshd]
enabled = true
logpath = DIR/auth.log
maxretry = 2
action = nftables[port=ssh]
         record[file="DIR/actions.log"]
`)
	os.MkdirAll(filepath.Join(e.etc, "action.d"), 0o755)
	os.WriteFile(filepath.Join(e.etc, "action.d", "record.conf"), []byte(`
[Definition]
actionstart = echo "start <name>" >> <file>
actionstop = echo "stop <name>" >> <file>
actionban = echo "ban <ip> <failures> <bancount>" >> <file>
            printf '%%s\n' "<matches>" >> <file>
actionunban = echo "unban <ip>" >> <file>
`), 0o644)
	e.runActions = true
	e.appendLines("auth.log", "start")
	e.start()
	pwned := filepath.Join(e.dir, "pwned")
	evil := fmt.Sprintf("%s web1 sshd[77]: Failed password for invalid user $(touch %s)`touch %s`';touch %s;' from 198.51.100.1 port 50000 ssh2",
		e.clock.Now().Format(time.Stamp), pwned, pwned, pwned)
	e.appendLines("auth.log", evil, evil)
	e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == 1 })
	log := filepath.Join(e.dir, "actions.log")
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(log)
		if strings.Contains(string(data), "ban 198.51.100.1 2 1") && strings.Count(string(data), "$(touch") == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("actions log:\n%s", data)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("a crafted log line ran a command through actionban")
	}
	if got := e.fw.set("sshd"); len(got) != 1 {
		t.Fatalf("native firewall: %v", got)
	}
	if _, err := e.d.Unban(context.Background(), control.UnbanRequest{All: true}); err != nil {
		t.Fatal(err)
	}
	e.stop()
	data, _ := os.ReadFile(log)
	for _, want := range []string{"start sshd", "unban 198.51.100.1", "stop sshd"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("actions log lacks %q:\n%s", want, data)
		}
	}
}
