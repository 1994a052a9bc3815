package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/control"
	"github.com/gaol-project/gaol/internal/scan"
)

var update = flag.Bool("update", false, "rewrite the golden files of scan, report and inspect")

// inUTC shows times in UTC for the duration of a test.
func inUTC(t *testing.T) {
	t.Helper()
	old := displayZone
	displayZone = time.UTC
	t.Cleanup(func() { displayZone = old })
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// runOut runs a gaol command in-process and returns its standard output
// and standard error apart.
func runOut(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytesBuffer
	err = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

// exitCode is the code main exits with for err.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func TestScanGolden(t *testing.T) {
	inUTC(t)
	tests := []struct {
		golden string
		args   []string
	}{
		{"scan.txt", []string{"scan", "--now", "2026-11-30", "testdata/auth.log"}},
		{"scan.json", []string{"scan", "--json", "--now", "2026-11-30", "testdata/auth.log"}},
		{"scan-recidive.txt", []string{"scan", "--now", "2026-11-30", "--jail", "sshd,recidive", "--jail", "sshd",
			"--config", writeConfig(t, t.TempDir(), "[sshd]\nbantime = 1m\n[recidive]\nenabled = true\nmaxretry = 2\nfindtime = 1d\n"), "testdata/auth.log"}},
		{"scan-none.txt", []string{"scan", "--now", "2026-11-30", "--config", writeConfig(t, t.TempDir(), "[sshd]\nmaxretry = 20\n"), "testdata/auth.log"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			out, errOut, err := runOut(t, tt.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			golden(t, tt.golden, out)
		})
	}
}

func TestScanJSONReadsBack(t *testing.T) {
	out, _, err := runOut(t, "scan", "--json", "--now", "2026-11-30", "testdata/auth.log")
	if err != nil {
		t.Fatal(err)
	}
	var res scan.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Bans) != 3 || res.Bans[0].Target() != "198.51.100.23" || res.Bans[0].Geo == nil || len(res.Bans[0].BannedAt) != 2 {
		t.Errorf("read back: %+v", res.Bans)
	}
}

func TestScanErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"missing log", []string{"scan", "testdata/auth.log", filepath.Join(dir, "nope.log")}, "nope.log: no such file or directory", 1},
		{"no log", []string{"scan"}, "usage: gaol scan", 2},
		{"unknown jail", []string{"scan", "--jail", "nginx", "testdata/auth.log"}, `unknown jail "nginx" (enabled jails: sshd)`, 2},
		{"disabled jail", []string{"scan", "--config", writeConfig(t, dir, "[other]\nenabled = false\nfilter = sshd\nlogpath = /x\n"), "--jail", "other", "testdata/auth.log"}, `jail "other" is not enabled`, 2},
		{"recidive alone", []string{"scan", "--config", writeConfig(t, t.TempDir(), "[recidive]\nenabled = true\n"), "--jail", "recidive", "testdata/auth.log"}, `jail "recidive" counts the bans of the other jails: name them too`, 2},
		{"no jail enabled", []string{"scan", "--config", writeConfig(t, t.TempDir(), "[sshd]\nenabled = false\n"), "testdata/auth.log"}, "no jail is enabled", 1},
		{"bad now", []string{"scan", "--now", "yesterday", "testdata/auth.log"}, `--now: "yesterday" is not a date`, 2},
		{"no config dir", []string{"scan", "--config", filepath.Join(dir, "nope"), "testdata/auth.log"}, "not a directory", 1},
		{"daemon not running", []string{"scan", "--ban", "--socket", filepath.Join(dir, "none.sock"), "--now", "2026-11-30", "testdata/auth.log"}, "not running", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runOut(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if c := exitCode(err); c != tt.code {
				t.Errorf("exit code %d, want %d", c, tt.code)
			}
		})
	}
}

// TestScanBan applies a scan's bans to a running daemon (dry run) and finds
// them with `gaol banned`; an address the daemon refuses to ban (the
// administrator's own) is reported and the others are banned.
func TestScanBan(t *testing.T) {
	dir := t.TempDir()
	etc := writeConfig(t, dir, fmt.Sprintf("[sshd]\nlogpath = %s\nbantime = 1h\n", filepath.Join(dir, "auth.log")))
	sock := filepath.Join(dir, "gaol.sock")
	startDaemon(t, nil, sock, "--config", etc, "--db", filepath.Join(dir, "gaol.db"), "--dry-run")

	// As if run over SSH from 192.0.2.10, which failed a few times too.
	t.Setenv("SSH_CLIENT", "192.0.2.10 50000 22")
	out, errOut, err := runOut(t, "scan", "--config", etc, "--ban", "--socket", sock, "--now", "2026-11-30", "testdata/auth.log")
	if err == nil || !strings.Contains(err.Error(), "refused to ban:\n  sshd 192.0.2.10") {
		t.Fatalf("error %v; want 192.0.2.10 refused\n%s%s", err, out, errOut)
	}
	if !strings.Contains(out, "banned 2 addresses in sshd") {
		t.Errorf("output:\n%s", out)
	}
	var banned control.Banned
	if err := json.Unmarshal([]byte(cli(t, sock, "banned", "--json")), &banned); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range banned.Active {
		got = append(got, b.Jail+" "+b.Prefix)
	}
	if want := "sshd 198.51.100.23,sshd 2001:db8:feed::/64"; strings.Join(got, ",") != want {
		t.Errorf("banned after scan --ban: %v, want %s", got, want)
	}

	// With --json the document stays clean: the ban report goes to stderr.
	t.Setenv("SSH_CLIENT", "")
	out, errOut, err = runOut(t, "scan", "--config", etc, "--ban", "--json", "--socket", sock, "--now", "2026-11-30", "testdata/auth.log")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !json.Valid([]byte(out)) || !strings.Contains(errOut, "banned 3 addresses in sshd") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, errOut)
	}
	if out := cli(t, sock, "banned", "192.0.2.10"); !strings.Contains(out, "192.0.2.10 is banned in sshd") {
		t.Errorf("banned 192.0.2.10:\n%s", out)
	}
}

// TestScanBanBatches bans more addresses than one request carries.
func TestScanBanBatches(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	n := 0
	for i := range 1200 {
		addr := fmt.Sprintf("2001:db8:%x::1", i)
		for k := range 5 {
			n++
			fmt.Fprintf(&b, "Nov  1 09:%02d:%02d web1 sshd[%d]: Failed password for root from %s port %d ssh2\n", i/60%60, k, n, addr, 1000+k)
		}
	}
	log := filepath.Join(dir, "big.log")
	if err := os.WriteFile(log, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	etc := writeConfig(t, dir, fmt.Sprintf("[sshd]\nlogpath = %s\nbantime = 1h\n", filepath.Join(dir, "auth.log")))
	sock := filepath.Join(dir, "gaol.sock")
	startDaemon(t, nil, sock, "--config", etc, "--db", filepath.Join(dir, "gaol.db"), "--dry-run")
	out, errOut, err := runOut(t, "scan", "--config", etc, "--ban", "--socket", sock, "--now", "2026-11-30", log)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !strings.Contains(out, "banned 1,200 addresses in sshd") {
		t.Errorf("output ends:\n%s", out[max(0, len(out)-300):])
	}
	st, err := control.NewClient(sock).JailStatus(context.Background(), "sshd")
	if err != nil {
		t.Fatal(err)
	}
	if st.CurrentlyBanned != 1200 {
		t.Errorf("%d banned in the daemon, want 1200", st.CurrentlyBanned)
	}
}

func TestProgressLine(t *testing.T) {
	tests := []struct {
		p       scan.Progress
		elapsed time.Duration
		want    string
	}{
		{scan.Progress{File: "/var/log/auth.log", Files: 1, Read: 5 << 20, Size: 20 << 20, Lines: 123456}, 2 * time.Second,
			"/var/log/auth.log [#####...............]  25%  5.0 MiB/20.0 MiB  123,456 lines  61,728 lines/s"},
		{scan.Progress{File: "/var/log/a-very-long-directory-name/auth.log.2.gz", FileIndex: 1, Files: 3, Read: 30 << 20, Size: 20 << 20, Lines: 10}, 0,
			"…-directory-name/auth.log.2.gz (2/3) [####################] 100%  30.0 MiB/20.0 MiB  10 lines"},
		{scan.Progress{File: scan.Stdin, Files: 1, Read: 1 << 19, Lines: 1000}, time.Second,
			"standard input  0.5 MiB  1,000 lines  1,000 lines/s"},
	}
	for _, tt := range tests {
		if got := progressLine(tt.p, tt.elapsed); got != tt.want {
			t.Errorf("progressLine(%+v) =\n%q, want\n%q", tt.p, got, tt.want)
		}
	}
	var w bytesBuffer
	bar := newProgressBar(&w)
	bar.update(scan.Progress{File: "x", Files: 1, Lines: 1})
	bar.update(scan.Progress{File: "x", Files: 1, Lines: 2}) // within 100 ms: not drawn
	bar.update(scan.Progress{Done: true})
	if got := w.String(); strings.Count(got, "\r\033[K") != 2 || !strings.HasSuffix(got, "\r\033[K") {
		t.Errorf("progress bar wrote %q", got)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234", -123: "-123"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]string{
		"2026-11-01":                "2026-11-01T00:00:00Z",
		"2026-11-01 10:30":          "2026-11-01T10:30:00Z",
		"2026-11-01T10:30:05":       "2026-11-01T10:30:05Z",
		"2026-11-01T10:30:05+02:00": "2026-11-01T10:30:05+02:00",
	} {
		got, err := parseTime(in, time.UTC)
		if err != nil || got.Format(time.RFC3339) != want {
			t.Errorf("parseTime(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := parseTime("11/01/2026", time.UTC); err == nil {
		t.Error("a US date was read")
	}
}
