package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// The tests write real journal files with systemd-journal-remote (Debian
// package systemd-journal-remote), which reads entries in the journal
// export format, and read them back with the real journalctl.

// tools returns the paths of journalctl and systemd-journal-remote, or
// skips the test without them (fails it when GAOL_REQUIRE_ROOT=1, as on
// CI, which must run every test).
func tools(t *testing.T) (journalctl, remote string) {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		if os.Getenv("GAOL_REQUIRE_ROOT") == "1" {
			t.Fatalf("%s is needed (apt-get install systemd-journal-remote) and GAOL_REQUIRE_ROOT=1 is set", what)
		}
		t.Skipf("%s not installed (apt-get install systemd-journal-remote)", what)
	}
	journalctl, err := exec.LookPath("journalctl")
	if err != nil {
		missing("journalctl")
	}
	for _, p := range []string{"/usr/lib/systemd/systemd-journal-remote", "/lib/systemd/systemd-journal-remote"} {
		if _, err := os.Stat(p); err == nil {
			return journalctl, p
		}
	}
	missing("systemd-journal-remote")
	return "", ""
}

// fields are the fields of one journal entry, in order.
type fields [][2]string

// writer appends entries to a journal file through systemd-journal-remote.
type writer struct {
	t      *testing.T
	remote string
	path   string // a *.journal file

	mu        sync.Mutex
	realtime  int64
	monotonic int64
}

const testBootID = "0123456789abcdef0123456789abcdef"

func newWriter(t *testing.T, remote, path string) *writer {
	return &writer{t: t, remote: remote, path: path, monotonic: 1_000_000}
}

// write appends entries, each a new systemd-journal-remote run.
func (w *writer) write(entries ...fields) {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var in bytes.Buffer
	for _, e := range entries {
		w.realtime = max(w.realtime+1, time.Now().UnixMicro())
		w.monotonic++
		fmt.Fprintf(&in, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n",
			w.realtime, w.monotonic, testBootID)
		for _, f := range e {
			writeExportField(&in, f[0], f[1])
		}
		in.WriteByte('\n')
	}
	cmd := exec.Command(w.remote, "--output="+w.path, "--split-mode=none", "-")
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		w.t.Errorf("systemd-journal-remote: %v: %s", err, out)
	}
}

// writeExportField writes a field in the journal export format: text as
// NAME=value, anything else as NAME, a 64-bit little-endian length and the
// bytes.
func writeExportField(b *bytes.Buffer, name, value string) {
	binaryValue := !utf8.ValidString(value)
	for _, c := range []byte(value) {
		if c < ' ' {
			binaryValue = true
		}
	}
	if !binaryValue {
		fmt.Fprintf(b, "%s=%s\n", name, value)
		return
	}
	b.WriteString(name)
	b.WriteByte('\n')
	binary.Write(b, binary.LittleEndian, uint64(len(value)))
	b.WriteString(value)
	b.WriteByte('\n')
}

// sshd is an entry of sshd with message msg.
func sshd(msg string) fields {
	return fields{
		{"_HOSTNAME", "web1"}, {"SYSLOG_IDENTIFIER", "sshd"}, {"_COMM", "sshd"},
		{"_PID", "4242"}, {"_SYSTEMD_UNIT", "ssh.service"}, {"MESSAGE", msg},
	}
}

// cron is an entry of cron with message msg.
func cron(msg string) fields {
	return fields{
		{"_HOSTNAME", "web1"}, {"SYSLOG_IDENTIFIER", "CRON"}, {"_COMM", "cron"},
		{"_PID", "77"}, {"_SYSTEMD_UNIT", "cron.service"}, {"MESSAGE", msg},
	}
}

// collector runs Follow in the background and collects what it sends.
type collector struct {
	t       *testing.T
	cancel  context.CancelFunc
	done    chan error
	started chan struct{}

	mu      sync.Mutex
	lines   []string
	cursor  string
	changed chan struct{}
}

func startFollow(t *testing.T, opts Options) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &collector{t: t, cancel: cancel, done: make(chan error, 1),
		started: make(chan struct{}), changed: make(chan struct{}, 1)}
	var once sync.Once
	opts.Started = func() { once.Do(func() { close(f.started) }) }
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	out := make(chan Batch)
	go func() { f.done <- Follow(ctx, opts, out) }()
	go func() {
		for {
			select {
			case b := <-out:
				f.mu.Lock()
				for _, e := range b.Entries {
					f.lines = append(f.lines, e.Line)
				}
				f.cursor = b.Cursor
				f.mu.Unlock()
				select {
				case f.changed <- struct{}{}:
				default:
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { f.stop() })
	select {
	case <-f.started:
	case err := <-f.done:
		t.Fatalf("Follow returned before it started: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not start")
	}
	return f
}

// stop cancels Follow and waits for it to return.
func (f *collector) stop() {
	f.t.Helper()
	if f.cancel == nil {
		return
	}
	f.cancel()
	f.cancel = nil
	select {
	case err := <-f.done:
		if err != nil {
			f.t.Errorf("Follow: %v", err)
		}
	case <-time.After(10 * time.Second):
		f.t.Error("Follow did not return after cancel")
	}
}

// waitLines waits until at least n lines arrived and returns them.
func (f *collector) waitLines(n int) []string {
	f.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		f.mu.Lock()
		lines := append([]string(nil), f.lines...)
		f.mu.Unlock()
		if len(lines) >= n {
			return lines
		}
		select {
		case <-f.changed:
		case <-deadline:
			f.t.Fatalf("got %d lines, want %d: %q", len(lines), n, lines)
		}
	}
}

// messages are the messages of lines (the part after "]: ").
func messages(lines []string) []string {
	var out []string
	for _, l := range lines {
		_, msg, _ := strings.Cut(l, "]: ")
		out = append(out, msg)
	}
	return out
}

func TestFollowStartsAtEnd(t *testing.T) {
	journalctl, remote := tools(t)
	path := filepath.Join(t.TempDir(), "system.journal")
	w := newWriter(t, remote, path)
	// The journal's last entry does not match: resuming after it must not
	// skip the first entry that does.
	w.write(sshd("old 1"), sshd("old 2"), cron("old 3"))

	f := startFollow(t, Options{Journalctl: journalctl, Files: []string{path}, Matches: []string{"_COMM=sshd"}})
	w.write(sshd("new 1"), cron("new cron"), sshd("new 2"))
	w.write(sshd("new 3"))
	got := messages(f.waitLines(3))
	want := []string{"new 1", "new 2", "new 3"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFollowEmptyDirectory(t *testing.T) {
	journalctl, remote := tools(t)
	dir := t.TempDir()
	f := startFollow(t, Options{Journalctl: journalctl, Directory: dir})
	w := newWriter(t, remote, filepath.Join(dir, "system.journal"))
	w.write(sshd("first"), sshd("second"))
	got := messages(f.waitLines(2))
	if strings.Join(got, "|") != "first|second" {
		t.Errorf("got %q", got)
	}
}

func TestFollowLines(t *testing.T) {
	journalctl, remote := tools(t)
	path := filepath.Join(t.TempDir(), "system.journal")
	w := newWriter(t, remote, path)
	w.write(sshd("before"))
	f := startFollow(t, Options{Journalctl: journalctl, Files: []string{path}})

	when := time.Date(2024, 3, 5, 7, 8, 9, 123456000, time.UTC)
	w.write(
		sshd("Failed password for root from 192.0.2.7 port 22 ssh2"),
		fields{{"_HOSTNAME", "web1"}, {"SYSLOG_IDENTIFIER", "sshd"}, {"_PID", "10"},
			{"MESSAGE", "bad \xff byte from 192.0.2.8"}},
		fields{{"_HOSTNAME", "web1"}, {"SYSLOG_IDENTIFIER", "app"}, {"SYSLOG_PID", "11"}, {"_PID", "12"},
			{"MESSAGE", "two\nlines"}},
		fields{{"_HOSTNAME", "web1"}, {"_COMM", "nginx"}, {"MESSAGE", "one"}, {"MESSAGE", "two"}},
		fields{{"_HOSTNAME", "web1"}, {"SYSLOG_IDENTIFIER", "kernel"}, {"_SOURCE_MONOTONIC_TIMESTAMP", "12345678"},
			{"MESSAGE", "IN=eth0 SRC=192.0.2.9"}},
		fields{{"_HOSTNAME", "web1"}, {"SYSLOG_IDENTIFIER", "su"},
			{"_SOURCE_REALTIME_TIMESTAMP", strconv.FormatInt(when.UnixMicro(), 10)}, {"MESSAGE", "timed"}},
		fields{{"MESSAGE", "bare"}},
	)
	lines := f.waitLines(7)
	var got []string
	for _, l := range lines {
		got = append(got, l[len(time.Stamp)+1:]) // the time is now
	}
	want := []string{
		"web1 sshd[4242]: Failed password for root from 192.0.2.7 port 22 ssh2",
		"web1 sshd[10]: bad \xff byte from 192.0.2.8",
		`web1 app[11]: two\nlines`,
		"web1 nginx: one two",
		"web1 kernel: [   12.345678] IN=eth0 SRC=192.0.2.9",
		"web1 su: timed",
		"bare",
	}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: got %q, want %q", i, got[i], want[i])
		}
	}
	if !strings.HasPrefix(lines[5], "Mar  5 07:08:09 ") {
		t.Errorf("_SOURCE_REALTIME_TIMESTAMP not used: %q", lines[5])
	}
}

func TestFollowMatches(t *testing.T) {
	journalctl, remote := tools(t)
	path := filepath.Join(t.TempDir(), "system.journal")
	w := newWriter(t, remote, path)
	w.write(cron("start"))
	m, err := ParseMatch("_SYSTEMD_UNIT=ssh.service + _COMM=cron _PID=78\nSYSLOG_IDENTIFIER=su")
	if err != nil {
		t.Fatal(err)
	}
	f := startFollow(t, Options{Journalctl: journalctl, Files: []string{path}, Matches: m})
	su := fields{{"_HOSTNAME", "web1"}, {"SYSLOG_IDENTIFIER", "su"}, {"MESSAGE", "su 1"}}
	cron78 := cron("cron 78")
	cron78[3][1] = "78"
	w.write(cron("cron 77"), sshd("sshd 1"), cron78, su, cron("cron 77 again"), sshd("sshd 2"))
	got := messages(f.waitLines(4))
	want := "sshd 1|cron 78||sshd 2" // su has no pid: no "]: "
	if strings.Join(got, "|") != want {
		t.Errorf("got %q, want %q", strings.Join(got, "|"), want)
	}
}

// TestResumeUnderLoad restarts Follow again and again from the saved
// cursor while entries keep being appended and the journal file keeps
// being rotated, and counts every entry: none lost, none read twice.
func TestResumeUnderLoad(t *testing.T) {
	journalctl, remote := tools(t)
	dir := t.TempDir()
	active := filepath.Join(dir, "system.journal")
	w := newWriter(t, remote, active)
	w.write(sshd("old"), cron("old cron"))

	const chunks, perChunk = 30, 10
	total := chunks * perChunk
	writerDone := make(chan struct{})
	start := make(chan struct{})
	go func() {
		defer close(writerDone)
		<-start
		n := 0
		for c := range chunks {
			var es []fields
			for range perChunk {
				n++
				es = append(es, sshd(fmt.Sprintf("msg %d", n)), cron("noise"))
			}
			w.write(es...)
			if c%7 == 6 { // rotate as journald does: archive, then a new file
				archived := filepath.Join(dir, fmt.Sprintf("system@%d.journal", c))
				if err := os.Rename(active, archived); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()

	seen := map[string]int{}
	cursor := ""
	runs := 0
	deadline := time.After(60 * time.Second)
	for len(seen) < total {
		runs++
		ctx, cancel := context.WithCancel(context.Background())
		out := make(chan Batch)
		done := make(chan error, 1)
		started := make(chan struct{})
		go func() {
			done <- Follow(ctx, Options{Journalctl: journalctl, Directory: dir, Cursor: cursor,
				Matches: []string{"_COMM=sshd"}, Started: func() { close(started) }}, out)
		}()
		if runs == 1 {
			<-started
			close(start)
		}
		// Take a few batches, saving the cursor after each as the daemon
		// does, then stop in the middle of the stream.
		for range runs%4 + 1 {
			if len(seen) >= total {
				break
			}
			select {
			case b := <-out:
				for _, e := range b.Entries {
					_, msg, _ := strings.Cut(e.Line, "]: ")
					seen[msg]++
				}
				cursor = b.Cursor
			case <-deadline:
				cancel()
				t.Fatalf("after %d runs, %d of %d entries read", runs, len(seen), total)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	<-writerDone
	for i := 1; i <= total; i++ {
		if n := seen[fmt.Sprintf("msg %d", i)]; n != 1 {
			t.Errorf("msg %d read %d times", i, n)
		}
	}
	if len(seen) != total {
		t.Errorf("read %d distinct messages, want %d: %v", len(seen), total, seen)
	}
	t.Logf("%d entries over %d runs of Follow", total, runs)
}

// TestRestartsJournalctl runs a fake journalctl that exits after each
// entry: Follow runs it again from the last cursor and drops the cursor's
// own entry when it comes again.
func TestRestartsJournalctl(t *testing.T) {
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	fake := filepath.Join(dir, "journalctl")
	script := `#!/bin/sh
echo "$*" >> "` + args + `"
case "$*" in
*--lines=1*) echo '{"__CURSOR":"c0"}'; exit 0 ;;
*--cursor=c0*) echo '{"__CURSOR":"c0","MESSAGE":"again"}'; echo '{"__CURSOR":"c1","__REALTIME_TIMESTAMP":"1700000000000000","MESSAGE":"one"}' ;;
*--cursor=c1*) echo '{"__CURSOR":"c2","__REALTIME_TIMESTAMP":"1700000001000000","MESSAGE":"two"}'; echo oops >&2; exit 3 ;;
*) exec sleep 60 ;;
esac
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f := startFollow(t, Options{Journalctl: fake, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		Matches: []string{"_COMM=sshd"}})
	lines := f.waitLines(2)
	want := []string{"Nov 14 22:13:20 one", "Nov 14 22:13:21 two"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", lines, want)
	}
	f.mu.Lock()
	cursor := f.cursor
	f.mu.Unlock()
	if cursor != "c2" {
		t.Errorf("cursor %q, want c2", cursor)
	}
	// The third run (from c2) sleeps until Follow stops and kills it.
	deadline := time.After(10 * time.Second)
	for {
		b, _ := os.ReadFile(args)
		if strings.Contains(string(b), "--cursor=c2") {
			calls := strings.Split(strings.TrimSpace(string(b)), "\n")
			if !strings.Contains(calls[1], "--follow") || !strings.HasSuffix(calls[1], "-- _COMM=sshd") {
				t.Errorf("journalctl arguments: %q", calls[1])
			}
			break
		}
		select {
		case <-deadline:
			t.Fatalf("journalctl was not run again from c2: %s", b)
		case <-time.After(10 * time.Millisecond):
		}
	}
	f.stop()
}

func TestFollowErrors(t *testing.T) {
	out := make(chan Batch)
	ctx := context.Background()
	if err := Follow(ctx, Options{Journalctl: filepath.Join(t.TempDir(), "none")}, out); err == nil {
		t.Error("missing journalctl: no error")
	}
	if err := Follow(ctx, Options{Journalctl: "/bin/true", Matches: []string{"--all"}}, out); err == nil {
		t.Error("bad match: no error")
	}
	if err := Follow(ctx, Options{}, nil); err == nil {
		t.Error("nil channel: no error")
	}
}
