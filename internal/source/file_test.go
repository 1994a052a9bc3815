package source

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitLimit bounds every wait for an event; it is never reached when the
// code works.
const waitLimit = 30 * time.Second

// follower runs TailFile in the background and records what it sends.
type follower struct {
	t       *testing.T
	cancel  context.CancelFunc
	done    chan error
	mu      sync.Mutex
	lines   []string
	batches []Batch
	changed chan struct{} // closed and replaced on every batch
}

// follow starts TailFile on path. It returns once TailFile has opened and
// positioned the file, so lines written after it returns are new.
func follow(t *testing.T, path string, opts FileOptions) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	fl := &follower{t: t, cancel: cancel, done: make(chan error, 1), changed: make(chan struct{})}
	if opts.Poll == 0 {
		opts.Poll = 50 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	started := make(chan struct{})
	opts.Started = func() { close(started) }
	out := make(chan Batch)
	go func() { fl.done <- TailFile(ctx, path, opts, out) }()
	go func() {
		for {
			select {
			case b := <-out:
				fl.mu.Lock()
				fl.lines = append(fl.lines, b.Lines...)
				fl.batches = append(fl.batches, b)
				close(fl.changed)
				fl.changed = make(chan struct{})
				fl.mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(fl.stop)
	select {
	case <-started:
	case err := <-fl.done:
		t.Fatalf("TailFile returned early: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("TailFile did not start")
	}
	return fl
}

// stop cancels TailFile and checks that it returns nil.
func (fl *follower) stop() {
	if fl.cancel == nil {
		return
	}
	fl.cancel()
	fl.cancel = nil
	select {
	case err := <-fl.done:
		if err != nil {
			fl.t.Errorf("TailFile: %v", err)
		}
	case <-time.After(waitLimit):
		fl.t.Error("TailFile did not return after cancel")
	}
}

// waitN waits until at least n lines arrived and returns all lines so far.
func (fl *follower) waitN(n int) []string {
	fl.t.Helper()
	deadline := time.After(waitLimit)
	for {
		fl.mu.Lock()
		got, ch := slices.Clone(fl.lines), fl.changed
		fl.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			fl.t.Fatalf("waited for %d lines, got %d: %q", n, len(got), tail(got, 5))
		}
	}
}

// expect waits for exactly want (and checks nothing else came first).
func (fl *follower) expect(want ...string) {
	fl.t.Helper()
	got := fl.waitN(len(want))
	if !slices.Equal(got, want) {
		fl.t.Fatalf("lines:\n got %q\nwant %q", got, want)
	}
}

// lastPos returns the position of the last batch.
func (fl *follower) lastPos() Position {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if len(fl.batches) == 0 {
		return Position{}
	}
	return fl.batches[len(fl.batches)-1].Pos
}

func tail(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// positionOf computes the Position of path at offset, as TailFile would.
func positionOf(t *testing.T, path string, offset int64) Position {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ino, _, err := stat(f)
	if err != nil {
		t.Fatal(err)
	}
	head, err := headOf(f)
	if err != nil {
		t.Fatal(err)
	}
	return Position{Inode: ino, Offset: offset, Head: head}
}

func TestStartAtEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	writeFile(t, path, "old 1\nold 2\n")
	fl := follow(t, path, FileOptions{})
	appendFile(t, path, "new 1\nnew 2\n")
	fl.expect("new 1", "new 2")
	if p := fl.lastPos(); p.Offset != int64(len("old 1\nold 2\nnew 1\nnew 2\n")) || p.Head == 0 || p.Inode == 0 {
		t.Errorf("position %+v", p)
	}
}

func TestStartAtEndInsidePartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	writeFile(t, path, "old 1\nbeing writ")
	fl := follow(t, path, FileOptions{})
	appendFile(t, path, "ten\nnew 1\n")
	fl.expect("being written", "new 1")
}

func TestFromStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	writeFile(t, path, "old 1\nold 2\n")
	fl := follow(t, path, FileOptions{FromStart: true})
	appendFile(t, path, "new 1\n")
	fl.expect("old 1", "old 2", "new 1")
}

func TestResume(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.log")
	const before = "line 1\nline 2\n"
	writeFile(t, path, before+"line 3\nline 4\n")
	tests := []struct {
		name  string
		setup func(p Position) Position // changes the files and returns the saved position
		want  []string
	}{
		{
			name:  "same file",
			setup: func(p Position) Position { return p },
			want:  []string{"line 3", "line 4", "line 5"},
		},
		{
			name: "unknown head",
			setup: func(p Position) Position {
				p.Head = 0
				return p
			},
			want: []string{"line 3", "line 4", "line 5"},
		},
		{
			name: "renamed while down",
			setup: func(p Position) Position {
				mustRename(t, path, path+".1")
				writeFile(t, path, "next 1\n")
				return p
			},
			want: []string{"line 3", "line 4", "next 1", "line 5"},
		},
		{
			name: "renamed while down, no sibling",
			setup: func(p Position) Position {
				mustRename(t, path, path+".2")
				writeFile(t, path, "next 1\n")
				return p
			},
			want: []string{"next 1", "line 5"},
		},
		{
			name: "copytruncate while down",
			setup: func(p Position) Position {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, path+".1", string(data))
				if err := os.Truncate(path, 0); err != nil {
					t.Fatal(err)
				}
				appendFile(t, path, "next 1\n")
				return p
			},
			want: []string{"line 3", "line 4", "next 1", "line 5"},
		},
		{
			name: "rewritten in place",
			setup: func(p Position) Position {
				f, err := os.OpenFile(path, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if _, err := f.WriteAt([]byte("LINE 1\nLINE 2\nLINE 3\n"), 0); err != nil {
					t.Fatal(err)
				}
				return p
			},
			want: []string{"LINE 1", "LINE 2", "LINE 3", "line 4", "line 5"},
		},
		{
			name: "truncated while down",
			setup: func(p Position) Position {
				writeFile(t, path+".1", "unrelated\n")
				if err := os.Truncate(path, 0); err != nil {
					t.Fatal(err)
				}
				appendFile(t, path, "next 1\n")
				return p
			},
			want: []string{"next 1", "line 5"},
		},
		{
			name: "missing",
			setup: func(p Position) Position {
				mustRename(t, path, path+".1")
				return p
			},
			want: []string{"line 3", "line 4", "line 5"}, // line 5 creates the file
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range []string{path, path + ".1", path + ".2"} {
				os.Remove(p)
			}
			writeFile(t, path, before+"line 3\nline 4\n")
			start := tt.setup(positionOf(t, path, int64(len(before))))
			fl := follow(t, path, FileOptions{Start: &start})
			n := len(tt.want) - 1
			fl.waitN(n)
			appendFile(t, path, "line 5\n")
			fl.expect(tt.want...)
			fl.stop()
		})
	}
}

func TestRenameRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	writeFile(t, path, "")
	fl := follow(t, path, FileOptions{})
	old, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	fmt.Fprint(old, "a 1\na 2\n")
	fl.expect("a 1", "a 2")
	oldPos := fl.lastPos()

	mustRename(t, path, path+".1")
	// The writer has not reopened yet: it still appends to the old file.
	fmt.Fprint(old, "a 3\n")
	writeFile(t, path, "") // the rotator creates the new file
	fmt.Fprint(old, "a 4\n")
	old.Close()
	appendFile(t, path, "b 1\nb 2\n")
	fl.expect("a 1", "a 2", "a 3", "a 4", "b 1", "b 2")
	if p := fl.lastPos(); p.Inode == oldPos.Inode || p.Offset != int64(len("b 1\nb 2\n")) {
		t.Errorf("position after rotation %+v (old %+v)", p, oldPos)
	}
}

func TestCopyTruncateRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	writeFile(t, path, "")
	fl := follow(t, path, FileOptions{})
	appendFile(t, path, "a 1 with some length\na 2 with some length\n")
	fl.expect("a 1 with some length", "a 2 with some length")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "b 1\n")
	fl.expect("a 1 with some length", "a 2 with some length", "b 1")
	if p := fl.lastPos(); p.Offset != 4 {
		t.Errorf("position after truncation %+v", p)
	}
}

// TestTruncateAndRegrow covers a truncation noticed only after the file
// grew past the old offset again: the changed first line tells.
func TestTruncateAndRegrow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	writeFile(t, path, "")
	fl := follow(t, path, FileOptions{})
	appendFile(t, path, "a 1\n")
	fl.expect("a 1")
	// Replace the content in one step, longer than before.
	writeFile(t, path, "b 1\nb 2\n")
	fl.expect("a 1", "b 1", "b 2")
}

func TestDeleteCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	writeFile(t, path, "")
	fl := follow(t, path, FileOptions{})
	appendFile(t, path, "a 1\n")
	fl.expect("a 1")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "b 1\n")
	fl.expect("a 1", "b 1")
}

func TestMissingFileAppears(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "auth.log")
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	fl := follow(t, path, FileOptions{Logger: logger})
	// The directory does not exist either: polling finds the file.
	if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "first 1\nfirst 2\n")
	fl.expect("first 1", "first 2")
	appendFile(t, path, "then\n")
	fl.expect("first 1", "first 2", "then")
	fl.stop()
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "log file does not exist; waiting for it"); n != 1 {
		t.Errorf("missing-file warning logged %d times:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "path="+path) {
		t.Errorf("warning does not name the path:\n%s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestPartialLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	writeFile(t, path, "")
	fl := follow(t, path, FileOptions{})
	appendFile(t, path, "first\npar")
	fl.expect("first")
	appendFile(t, path, "t")
	appendFile(t, path, "ial\nnext\nlast without newline")
	fl.expect("first", "partial", "next")
	appendFile(t, path, "\n")
	fl.expect("first", "partial", "next", "last without newline")
}

func TestLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	writeFile(t, path, "")
	fl := follow(t, path, FileOptions{MaxLineBytes: 10})
	appendFile(t, path, "0123456789ABCDEF\nshort\n0123456789\n")
	fl.expect("0123456789", "short", "0123456789")
	// A long line that arrives in pieces.
	appendFile(t, path, "x\n01234")
	fl.waitN(4)
	appendFile(t, path, "56789ABC")
	appendFile(t, path, "DEF\ny\n")
	fl.expect("0123456789", "short", "0123456789", "x", "0123456789", "y")
	if p, size := fl.lastPos(), fileSize(t, path); p.Offset != size {
		t.Errorf("offset %d, file size %d", p.Offset, size)
	}
}

func TestLineLongerThanRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	writeFile(t, path, "")
	fl := follow(t, path, FileOptions{})
	big := strings.Repeat("x", readSize+DefaultMaxLineBytes+100)
	appendFile(t, path, "a\n"+big+"\nb\n")
	fl.expect("a", big[:DefaultMaxLineBytes], "b")
}

func TestBinaryJunk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	writeFile(t, path, "")
	fl := follow(t, path, FileOptions{})
	junk := []string{"nul\x00byte", "\xff\xfe invalid utf-8 \xc3", "", "\r", "\x00\x00\x00"}
	appendFile(t, path, strings.Join(junk, "\n")+"\n")
	fl.expect(junk...)
}

func TestBatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	var data strings.Builder
	const n = 3*maxBatchLines + 10
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("line %d", i)
		data.WriteString(want[i] + "\n")
	}
	writeFile(t, path, data.String())
	fl := follow(t, path, FileOptions{FromStart: true})
	fl.expect(want...)
	fl.mu.Lock()
	defer fl.mu.Unlock()
	var off int64
	for _, b := range fl.batches {
		if len(b.Lines) > maxBatchLines {
			t.Errorf("batch of %d lines", len(b.Lines))
		}
		for _, l := range b.Lines {
			off += int64(len(l)) + 1
		}
		if b.Pos.Offset != off || b.Path != path {
			t.Errorf("batch position %+v, path %q; want offset %d", b.Pos, b.Path, off)
		}
	}
}

func TestInvalidArguments(t *testing.T) {
	ctx := context.Background()
	if err := TailFile(ctx, "", FileOptions{}, make(chan Batch)); err == nil {
		t.Error("empty path accepted")
	}
	if err := TailFile(ctx, "x", FileOptions{}, nil); err == nil {
		t.Error("nil channel accepted")
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestContinuousRotation appends numbered lines while rotating the file
// many times, by every method, and checks that each line arrives exactly
// once and in order. Before each rotation the writer waits until the reader
// has caught up (a rotation that happens twice before the reader looks
// loses the middle file for any tailer, and copytruncate loses what the
// reader had not read), and after a truncation it writes less than the old
// size and waits for that, so that nothing can be lost by design.
func TestContinuousRotation(t *testing.T) {
	const (
		total      = 30000
		rotateEach = 2500
	)
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.log")
	writeFile(t, path, "")
	fl := follow(t, path, FileOptions{})

	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	w := open()
	defer func() { w.Close() }()
	var pending bytes.Buffer
	n := 0
	write := func(k int) {
		for range k {
			fmt.Fprintf(&pending, "%s sshd[%d]: line %d\n", time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).Format(time.RFC3339), 1000+n%500, n)
			n++
			// Write in uneven chunks, often splitting lines.
			if pending.Len() > 700+n%900 {
				chunk := pending.Next(pending.Len() - n%37)
				if _, err := w.Write(chunk); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := w.Write(pending.Bytes()); err != nil {
			t.Fatal(err)
		}
		pending.Reset()
	}
	rotations := 0
	for n < total {
		write(rotateEach)
		fl.waitN(n)
		switch rotations % 3 {
		case 0: // rename, writer keeps appending to the old file for a while
			mustRename(t, path, path+".1")
			write(7)
			nw := open()
			w.Close()
			w = nw
			write(3)
		case 1: // copytruncate
			if err := w.Truncate(0); err != nil {
				t.Fatal(err)
			}
			write(5)
			fl.waitN(n)
		case 2: // delete and create
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			w.Close()
			w = open()
			write(3)
		}
		rotations++
	}
	got := fl.waitN(n)
	for i, l := range got {
		if i >= n || !strings.HasSuffix(l, fmt.Sprintf(": line %d", i)) {
			t.Fatalf("line %d is %q (%d lines written, %d read, %d rotations)", i, l, n, len(got), rotations)
		}
	}
	if len(got) != n {
		t.Fatalf("%d lines read, %d written", len(got), n)
	}
	t.Logf("%d lines, %d rotations", n, rotations)
}

// liveLines returns, for each line received, whether its batch was Live.
func (fl *follower) liveLines() map[string]bool {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	out := map[string]bool{}
	for _, b := range fl.batches {
		for _, l := range b.Lines {
			out[l] = b.Live
		}
	}
	return out
}

// TestLive: lines that were in the file before it was followed are not
// Live; lines written while it is followed are, also once it was rotated.
func TestLive(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.log")
	writeFile(t, path, "old 1\nold 2\n")
	fl := follow(t, path, FileOptions{FromStart: true})
	fl.expect("old 1", "old 2")
	appendFile(t, path, "new 1\n")
	fl.expect("old 1", "old 2", "new 1")
	mustRename(t, path, path+".1")
	writeFile(t, path, "rotated 1\n")
	fl.expect("old 1", "old 2", "new 1", "rotated 1")
	want := map[string]bool{"old 1": false, "old 2": false, "new 1": true, "rotated 1": true}
	if got := fl.liveLines(); !maps.Equal(got, want) {
		t.Errorf("live: %v, want %v", got, want)
	}

	// A file that appears: its first lines are not live (fail2ban reads
	// them as a new file), what comes after them is.
	missing := filepath.Join(dir, "later.log")
	fl2 := follow(t, missing, FileOptions{})
	writeFile(t, missing, "first\n")
	fl2.expect("first")
	appendFile(t, missing, "second\n")
	fl2.expect("first", "second")
	if got, want := fl2.liveLines(), map[string]bool{"first": false, "second": true}; !maps.Equal(got, want) {
		t.Errorf("a file that appears: live %v, want %v", got, want)
	}
}
