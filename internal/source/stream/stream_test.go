package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/source"
)

// collector runs a reader in the background and collects its lines.
type collector struct {
	t       *testing.T
	cancel  context.CancelFunc
	done    chan error
	started chan struct{}

	mu      sync.Mutex
	lines   []string
	paths   map[string]bool
	arrived chan struct{}
}

func collect(t *testing.T, run func(ctx context.Context, opts Options, out chan<- source.Batch) error) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{t: t, cancel: cancel, done: make(chan error, 1), started: make(chan struct{}),
		paths: map[string]bool{}, arrived: make(chan struct{}, 1)}
	var once sync.Once
	opts := Options{MaxLineBytes: 32, Poll: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		Started: func() { once.Do(func() { close(c.started) }) }}
	out := make(chan source.Batch)
	go func() { c.done <- run(ctx, opts, out) }()
	go func() {
		for {
			select {
			case b := <-out:
				c.mu.Lock()
				c.lines = append(c.lines, b.Lines...)
				c.paths[b.Path] = true
				c.mu.Unlock()
				select {
				case c.arrived <- struct{}{}:
				default:
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { c.stop() })
	select {
	case <-c.started:
	case err := <-c.done:
		c.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("not started")
	}
	return c
}

// stop cancels the reader and returns its error.
func (c *collector) stop() error {
	c.t.Helper()
	if c.cancel != nil {
		c.cancel()
		c.cancel = nil
	}
	select {
	case err := <-c.done:
		c.done <- err
		return err
	case <-time.After(10 * time.Second):
		c.t.Fatal("the reader did not return after cancel")
		return nil
	}
}

// wait waits for n lines and returns them.
func (c *collector) wait(n int) []string {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		lines := slices.Clone(c.lines)
		c.mu.Unlock()
		if len(lines) >= n {
			return lines
		}
		select {
		case <-c.arrived:
		case <-deadline:
			c.t.Fatalf("got %d lines, want %d; the last: %q", len(lines), n, lines[max(0, len(lines)-5):])
		}
	}
}

func TestRead(t *testing.T) {
	r, w := io.Pipe()
	c := collect(t, func(ctx context.Context, opts Options, out chan<- source.Batch) error {
		return Read(ctx, "-", r, opts, out)
	})
	io.WriteString(w, "one\ntw")
	io.WriteString(w, "o\n\nthree "+strings.Repeat("x", 40)+"\nfour\r\n")
	if got := c.wait(5); !slices.Equal(got, []string{"one", "two", "", "three " + strings.Repeat("x", 26), "four\r"}) {
		t.Errorf("got %q", got)
	}
	io.WriteString(w, "last, without a newline")
	w.Close()
	select {
	case err := <-c.done:
		c.done <- err
		if err != nil {
			t.Errorf("Read: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not return at the end")
	}
	if got := c.wait(6); got[5] != "last, without a newline" || !c.paths["-"] {
		t.Errorf("got %q, paths %v", got, c.paths)
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("a\nb"), errReader{boom})
	c := collect(t, func(ctx context.Context, opts Options, out chan<- source.Batch) error {
		return Read(ctx, "in", r, opts, out)
	})
	if got := c.wait(2); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("got %q", got)
	}
	if err := <-c.done; !errors.Is(err, boom) {
		t.Errorf("Read: %v, want %v", err, boom)
	}
	c.done <- nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestReadStopsWhileBlocked(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	c := collect(t, func(ctx context.Context, opts Options, out chan<- source.Batch) error {
		return Read(ctx, "-", r, opts, out)
	})
	if err := c.stop(); err != nil {
		t.Error(err)
	}
}

func TestReadStdinLikeFile(t *testing.T) {
	// An *os.File pipe, as standard input is when a program pipes into gaol.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	c := collect(t, func(ctx context.Context, opts Options, out chan<- source.Batch) error {
		return Read(ctx, "-", r, opts, out)
	})
	fmt.Fprintln(w, "from a pipe")
	if got := c.wait(1); got[0] != "from a pipe" {
		t.Errorf("got %q", got)
	}
	if err := c.stop(); err != nil {
		t.Error(err)
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

func followFIFO(t *testing.T, path string) *collector {
	return collect(t, func(ctx context.Context, opts Options, out chan<- source.Batch) error {
		return FollowFIFO(ctx, path, opts, out)
	})
}

// TestFIFOWritersComeAndGo writes through many writers, one after the
// other, each opening the pipe, writing and closing it, and counts every
// line: none lost, none doubled.
func TestFIFOWritersComeAndGo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.fifo")
	mkfifo(t, path)
	c := followFIFO(t, path)

	const writers, perWriter = 20, 200
	for i := range writers {
		flags := os.O_WRONLY
		if i%2 == 1 {
			flags |= syscall.O_NONBLOCK // fails with ENXIO without a reader
		}
		w, err := os.OpenFile(path, flags, 0)
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
		var b strings.Builder
		for j := range perWriter {
			fmt.Fprintf(&b, "w%d l%d\n", i, j)
			if j%50 == 49 {
				if _, err := w.WriteString(b.String()); err != nil {
					t.Fatal(err)
				}
				b.Reset()
			}
		}
		w.Close()
	}
	total := writers * perWriter
	lines := c.wait(total)
	seen := map[string]int{}
	for _, l := range lines {
		seen[l]++
	}
	for i := range writers {
		for j := range perWriter {
			if n := seen[fmt.Sprintf("w%d l%d", i, j)]; n != 1 {
				t.Errorf("w%d l%d: %d times", i, j, n)
			}
		}
	}
	if len(lines) != total {
		t.Errorf("%d lines, want %d", len(lines), total)
	}
}

// TestFIFOPartialLineAtClose checks that a line a writer leaves without a
// newline is sent when it closes the pipe.
func TestFIFOPartialLineAtClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.fifo")
	mkfifo(t, path)
	c := followFIFO(t, path)
	for i := range 3 {
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "whole %d\npartial %d", i, i)
		w.Close()
		if got := c.wait(2 * (i + 1)); got[2*i+1] != fmt.Sprintf("partial %d", i) {
			t.Fatalf("got %q", got)
		}
	}
}

func TestFIFOConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.fifo")
	mkfifo(t, path)
	c := followFIFO(t, path)
	const writers, perWriter = 4, 500
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			w, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			defer w.Close()
			for j := range perWriter { // each write, under PIPE_BUF, is atomic
				fmt.Fprintf(w, "w%d l%d\n", i, j)
			}
		})
	}
	wg.Wait()
	lines := c.wait(writers * perWriter)
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			t.Errorf("%q twice", l)
		}
		seen[l] = true
	}
	if len(lines) != writers*perWriter {
		t.Errorf("%d lines, want %d", len(lines), writers*perWriter)
	}
}

func TestFIFOMissingThenReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.fifo")
	c := followFIFO(t, path) // started although missing
	mkfifo(t, path)
	write := func(s string) {
		t.Helper()
		w, err := os.OpenFile(path, os.O_WRONLY, 0) // blocks until the reader has it open
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, s)
		w.Close()
	}
	write("first pipe\n")
	c.wait(1)
	// The pipe is deleted and made again; a writer holding the old one
	// writes once more.
	old, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	mkfifo(t, path)
	io.WriteString(old, "old pipe, late\n")
	write("new pipe\n")
	got := c.wait(3)
	old.Close()
	if !slices.Equal(got, []string{"first pipe", "old pipe, late", "new pipe"}) {
		t.Errorf("got %q", got)
	}
}

func TestFIFOErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(file, []byte("x\n"), 0o600)
	out := make(chan source.Batch)
	if err := FollowFIFO(context.Background(), file, Options{}, out); err == nil {
		t.Error("a regular file: no error")
	}
	if err := FollowFIFO(context.Background(), "", Options{}, out); err == nil {
		t.Error("empty path: no error")
	}
	if err := Read(context.Background(), "-", nil, Options{}, out); err == nil {
		t.Error("nil reader: no error")
	}
}

func FuzzSplitter(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc"), 2, 3)
	f.Fuzz(func(t *testing.T, in []byte, maxLine, chunk int) {
		maxLine = 1 + max(maxLine, -maxLine)%16
		chunk = 1 + max(chunk, -chunk)%16
		s := splitter{max: maxLine}
		for b := in; len(b) > 0; {
			n := min(chunk, len(b))
			s.write(b[:n])
			b = b[n:]
		}
		s.flush()
		var want []string
		parts := strings.Split(string(in), "\n")
		if parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		for _, p := range parts {
			want = append(want, p[:min(len(p), maxLine)])
		}
		if !slices.Equal(s.lines, want) {
			t.Fatalf("got %q, want %q", s.lines, want)
		}
	})
}
