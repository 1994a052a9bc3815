package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/control"
	"github.com/gaol-project/gaol/internal/netnstest"
)

// TestCrashLosesNoBan kills the daemon with SIGKILL in the middle of
// banning 10,000 addresses, restarts it, and finds every ban it had
// reported done (logged, which it does once a ban is stored and enforced)
// both in its store and in nftables.
func TestCrashLosesNoBan(t *testing.T) {
	srv := netnstest.New(t)
	dir := t.TempDir()
	authLog := filepath.Join(dir, "auth.log")
	appendLines(t, authLog, "Nov  1 00:00:00 web1 sshd[1]: Server listening on 0.0.0.0 port 22.")
	// The attackers are banned by /64 (gaol's default, spelt out).
	etc := writeConfig(t, dir, fmt.Sprintf("[sshd]\nenabled = true\nlogpath = %s\nmaxretry = 1\nbantime = 1h\nbanprefix.ipv6 = 64\n", authLog))
	sock := filepath.Join(dir, "gaol.sock")
	db := filepath.Join(dir, "gaol.db")

	cmd := srv.Command(os.Args[0], "server", "--config", etc, "--db", db, "--socket", sock, "--log-level", "info")
	cmd.Env = append(os.Environ(), "GAOL_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	// The reader collects every ban the daemon reports.
	banLine := regexp.MustCompile(`msg=ban jail=sshd prefix=(\S+)`)
	reported := make(chan string, 20000)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := banLine.FindStringSubmatch(sc.Text()); m != nil {
				reported <- m[1]
			}
		}
	}()
	waitReady(t, sock)

	// Write 10,000 attackers (one failure bans), 500 lines a write, and
	// kill the daemon once a third of them are reported banned.
	const total = 10000
	var got []string
	written := 0
	for written < total && len(got) < total/3 {
		var lines []string
		for range 500 {
			lines = append(lines, sshFailure(fmt.Sprintf("2001:db8:%x:%x::1", written>>16+1, written&0xffff), written))
			written++
		}
		appendLines(t, authLog, lines...)
		// Keep the writer at most one write ahead of the daemon, so that
		// the kill lands while it is banning.
		deadline := time.After(30 * time.Second)
		for len(got) < written-1000 {
			select {
			case a := <-reported:
				got = append(got, a)
			case <-deadline:
				t.Fatalf("daemon stalled: %d of %d banned", len(got), written)
			}
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	cmd.Wait()
	<-readDone
	for len(reported) > 0 {
		got = append(got, <-reported)
	}
	t.Logf("killed after writing %d attackers, with %d bans reported", written, len(got))
	if len(got) == 0 || len(got) == total {
		t.Fatalf("the kill did not land in the middle: %d bans reported", len(got))
	}

	// Restart: every reported ban is in the store and in nftables.
	startDaemon(t, srv, sock, "--config", etc, "--db", db)
	var banned control.Banned
	if err := json.Unmarshal([]byte(cli(t, sock, "banned", "--json")), &banned); err != nil {
		t.Fatal(err)
	}
	active := map[string]bool{}
	for _, b := range banned.Active {
		active[b.Prefix] = true
	}
	// The /64s are in the hash set sshd-v6, as their network addresses;
	// bans of other prefixes would be in the interval set sshd-v6-net.
	inSet := map[string]bool{}
	for _, set := range []struct{ name, suffix string }{{"sshd-v6", "/64"}, {"sshd-v6-net", ""}} {
		out, err := srv.Exec("nft", "-j", "list", "set", "inet", "gaol", set.name)
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		for el := range nftJSONElements(t, out) {
			inSet[el+set.suffix] = true
		}
	}
	missingStore, missingSet := 0, 0
	for _, a := range got {
		if !active[a] {
			missingStore++
		}
		if !inSet[a] {
			missingSet++
		}
	}
	if missingStore > 0 || missingSet > 0 {
		t.Fatalf("of %d reported bans, %d are missing from the store and %d from nftables", len(got), missingStore, missingSet)
	}
	t.Logf("after restart: %d active bans, %d elements in nftables", len(active), len(inSet))
}

// waitReady waits until a daemon answers on sock.
func waitReady(t *testing.T, sock string) {
	t.Helper()
	c := control.NewClient(sock)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Status(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not answer: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nftJSONElements returns the addresses and prefixes in a set listed by
// `nft -j list set`.
func nftJSONElements(t *testing.T, out []byte) map[string]bool {
	t.Helper()
	list, err := netnstest.SetElements(out)
	if err != nil {
		t.Fatalf("nft -j: %v", err)
	}
	els := map[string]bool{}
	for _, el := range list {
		els[el.Value] = true
	}
	return els
}
