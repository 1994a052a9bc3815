// Package source reads log lines from where they are written and delivers
// them in batches, with positions that let a restarted daemon resume where
// it stopped.
//
// TailFile follows a log file across rotations (rename, copytruncate,
// delete and re-create), waking up on file-system events (inotify through
// fsnotify) and polling as a fallback.
package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Position is a place in a log file, saved so that reading can resume there.
type Position struct {
	// Inode identifies the file.
	Inode uint64
	// Offset is the byte offset just after the last complete line read.
	Offset int64
	// Head is the FNV-64a hash of the file's first line (at most its first
	// 4 KiB), which tells a file that was replaced or rewritten from the
	// one that was read; 0 means unknown.
	Head uint64
}

// Batch is a run of complete lines read from a file.
type Batch struct {
	// Path is the followed path (also for lines read from its rotated
	// sibling).
	Path string
	// Lines are the lines without their "\n", in file order. Lines of one
	// batch may share memory: copy (strings.Clone) a line kept long.
	Lines []string
	// Pos is the position just after the last line in Lines.
	Pos Position
	// Live reports lines written while the file was followed: read after
	// the tailer had once read the file to its end (so not lines left from
	// before, read from a saved position or with FromStart, nor the first
	// lines of a file that was empty or missing, as in fail2ban).
	Live bool
}

// Defaults for FileOptions.
const (
	DefaultPoll         = time.Second
	DefaultMaxLineBytes = 64 << 10
)

const (
	// maxBatchLines caps the lines of one Batch.
	maxBatchLines = 4096
	// readSize is how much one read asks for.
	readSize = 256 << 10
	// headBytes is the most of the first line that Position.Head hashes.
	headBytes = 4 << 10
)

// FileOptions tune TailFile.
type FileOptions struct {
	// Start is a saved position; nil means the file was never read.
	Start *Position
	// FromStart reads a file that was never read from its beginning
	// instead of from its end.
	FromStart bool
	// Poll is the interval of the fallback poll (default DefaultPoll).
	Poll time.Duration
	// MaxLineBytes is the longest line delivered (default
	// DefaultMaxLineBytes); a longer line is cut there and the rest of it
	// discarded.
	MaxLineBytes int
	// Logger receives warnings (default slog.Default()).
	Logger *slog.Logger

	// Started, if set, is called once the file was first opened and
	// positioned (or found missing): lines written after that are read.
	// A daemon waits for it before it reports that it is ready.
	Started func()
}

// TailFile follows the log file at path and sends its complete lines to out
// until ctx is done, then returns nil. It returns an error only for invalid
// arguments: I/O errors are logged and retried.
//
// Where it starts: with opts.Start, at that position if the file at path is
// still the same file (inode and head) and at least that long; if the file
// was replaced meanwhile, it first reads the rest of the old file when its
// rotated sibling path+".1" is it, then the new file from the start; if the
// file was truncated, from the start. Without opts.Start, at the end of the
// file (or at its start with opts.FromStart). A missing file is waited for
// and then read from the start.
//
// While running it follows rotation: when a new file appears at path (and
// has data), the old one is read to its end first; a file truncated in
// place (copytruncate) is read again from the start. Only complete lines
// are sent; a trailing partial line waits for its newline. Lines are sent
// as read, up to 4096 per Batch, and the send blocks until out accepts it.
func TailFile(ctx context.Context, path string, opts FileOptions, out chan<- Batch) error {
	if path == "" {
		return errors.New("tail: empty path")
	}
	if out == nil {
		return errors.New("tail: nil channel")
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	t := &tailer{
		path: path,
		opts: opts,
		log:  opts.Logger.With("path", path),
		out:  out,
		buf:  make([]byte, readSize),
	}
	defer t.close()
	w := newDirWatcher(path, t.log)
	defer w.close()

	if err := t.start(ctx); err != nil {
		return ignoreDone(ctx, err)
	}
	if opts.Started != nil {
		opts.Started()
	}
	ticker := time.NewTicker(opts.Poll)
	defer ticker.Stop()
	for {
		if err := t.cycle(ctx); err != nil {
			return ignoreDone(ctx, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
		case <-ticker.C:
			w.retry()
		}
	}
}

// ignoreDone turns the error of a cancelled context into a clean return.
func ignoreDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// tailer is the state of one TailFile.
type tailer struct {
	path string
	opts FileOptions
	log  *slog.Logger
	out  chan<- Batch

	f       *os.File // nil while the file is missing
	pos     Position // of f; Offset is after the last complete line
	readOff int64    // next offset to read from f
	partial []byte   // the line in progress (at most MaxLineBytes)
	long    bool     // the line in progress is longer than MaxLineBytes
	skip    bool     // drop the line in progress: its start was not read
	buf     []byte
	// caughtUp: the end of the file was reached once; what is read from
	// now on is written as it is followed (Batch.Live).
	caughtUp bool
	batch    []string

	missingLogged bool
	lastErr       string
}

func (t *tailer) close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}

// warnOnce logs an I/O error unless it is the same as the last one.
func (t *tailer) warnOnce(msg string, err error) {
	if s := msg + err.Error(); s != t.lastErr {
		t.lastErr = s
		t.log.Warn(msg, "err", err)
	}
}

// start opens the file for the first time.
func (t *tailer) start(ctx context.Context) error {
	if t.opts.Start != nil {
		return t.resume(ctx, *t.opts.Start)
	}
	f, err := os.Open(t.path)
	if err != nil {
		t.openFailed(err)
		return nil
	}
	if t.opts.FromStart {
		return t.attach(f, 0)
	}
	return t.attachAtEnd(f)
}

// resume opens the file at a saved position.
func (t *tailer) resume(ctx context.Context, start Position) error {
	if f, err := os.Open(t.path); err == nil {
		ino, size, err := stat(f)
		if err == nil && ino == start.Inode && size >= start.Offset {
			head, herr := headOf(f)
			if herr == nil && (start.Head == 0 || head == start.Head) {
				return t.attach(f, start.Offset)
			}
		}
		f.Close()
	}
	// The file at path is not the one we read, or no longer all of it.
	if err := t.readSibling(ctx, start); err != nil {
		return err
	}
	f, err := os.Open(t.path)
	if err != nil {
		t.openFailed(err)
		return nil
	}
	t.log.Info("log file was replaced or truncated; reading it from the start")
	return t.attach(f, 0)
}

// readSibling reads the rest of the file a saved position refers to if it
// is now the rotated sibling path+".1": the same inode (renamed), or the
// same head (copied by copytruncate).
func (t *tailer) readSibling(ctx context.Context, start Position) error {
	sib := t.path + ".1"
	f, err := os.Open(sib)
	if err != nil {
		return nil
	}
	ino, size, err := stat(f)
	if err != nil || size < start.Offset {
		f.Close()
		return nil
	}
	head, err := headOf(f)
	same := err == nil &&
		(ino == start.Inode && (start.Head == 0 || head == start.Head) ||
			ino != start.Inode && start.Head != 0 && head == start.Head)
	if !same {
		f.Close()
		return nil
	}
	t.log.Info("reading the rest of the rotated log file", "sibling", sib, "offset", start.Offset)
	if err := t.attach(f, start.Offset); err != nil {
		return err
	}
	// Its end is not the end of the log: the file that replaced it follows.
	caughtUp := t.caughtUp
	err = t.readAvailable(ctx)
	t.caughtUp = caughtUp
	t.dropPartial()
	t.close()
	return err
}

// openFailed notes that the file could not be opened.
func (t *tailer) openFailed(err error) {
	if errors.Is(err, fs.ErrNotExist) {
		if !t.missingLogged {
			t.missingLogged = true
			t.log.Warn("log file does not exist; waiting for it")
		}
		return
	}
	t.warnOnce("cannot open log file", err)
}

// attach makes f the file read, from offset.
func (t *tailer) attach(f *os.File, offset int64) error {
	ino, _, err := stat(f)
	if err != nil {
		f.Close()
		t.warnOnce("cannot stat log file", err)
		return nil
	}
	head, err := headOf(f)
	if err != nil {
		t.warnOnce("cannot read log file", err)
	}
	t.close()
	t.f = f
	t.pos = Position{Inode: ino, Offset: offset, Head: head}
	t.readOff = offset
	t.partial, t.long, t.skip = t.partial[:0], false, false
	t.missingLogged = false
	return nil
}

// attachAtEnd makes f the file read, from the start of its last line: the
// end of the file, or the start of a line still being written there.
func (t *tailer) attachAtEnd(f *os.File) error {
	_, size, err := stat(f)
	if err != nil {
		f.Close()
		t.warnOnce("cannot stat log file", err)
		return nil
	}
	from := max(size-int64(t.opts.MaxLineBytes), 0)
	tail := make([]byte, size-from)
	n, err := f.ReadAt(tail, from)
	if err != nil && err != io.EOF {
		t.warnOnce("cannot read log file", err)
	}
	tail = tail[:n]
	offset, skip := size, false
	if len(tail) > 0 && tail[len(tail)-1] != '\n' {
		if i := bytes.LastIndexByte(tail, '\n'); i >= 0 {
			offset = from + int64(i) + 1
		} else if from == 0 {
			offset = 0
		} else {
			skip = true
		}
	}
	if err := t.attach(f, offset); err != nil {
		return err
	}
	t.skip = skip
	return nil
}

// cycle reads what is new and follows truncation and rotation.
func (t *tailer) cycle(ctx context.Context) error {
	if t.f == nil {
		f, err := os.Open(t.path)
		if err != nil {
			t.openFailed(err)
			return nil
		}
		t.log.Info("log file appeared; reading it from the start")
		if err := t.attach(f, 0); err != nil {
			return err
		}
	}
	t.checkTruncated()
	if err := t.readAvailable(ctx); err != nil {
		return err
	}
	return t.checkReplaced(ctx)
}

// checkTruncated restarts at the beginning of a file that was truncated
// (it is shorter than what was read, or its first line changed).
func (t *tailer) checkTruncated() {
	_, size, err := stat(t.f)
	if err != nil {
		t.warnOnce("cannot stat log file", err)
		return
	}
	truncated := size < t.readOff
	if !truncated && t.pos.Head != 0 {
		head, err := headOf(t.f)
		if err != nil {
			t.warnOnce("cannot read log file", err)
		} else {
			truncated = head != t.pos.Head
		}
	}
	if !truncated {
		return
	}
	t.log.Info("log file was truncated; reading it from the start")
	t.dropPartial()
	t.pos = Position{Inode: t.pos.Inode}
	t.readOff = 0
}

// checkReplaced switches to a new file at path once it has data, after
// reading the old one to its end.
func (t *tailer) checkReplaced(ctx context.Context) error {
	fi, err := os.Stat(t.path)
	if err != nil {
		// Renamed or deleted, and not re-created yet: keep reading the old
		// file, which its writer may still be appending to.
		return nil
	}
	if inodeOf(fi) == t.pos.Inode || fi.Size() == 0 {
		// Same file, or a new one that its writer has not written to
		// yet: until it does, it may still write to the old one.
		return nil
	}
	f, err := os.Open(t.path)
	if err != nil {
		t.openFailed(err)
		return nil
	}
	if err := t.readAvailable(ctx); err != nil {
		f.Close()
		return err
	}
	t.dropPartial()
	t.log.Info("log file rotated; following the new file")
	if err := t.attach(f, 0); err != nil {
		return err
	}
	return t.readAvailable(ctx)
}

// dropPartial forgets the line in progress of a file that will not be read
// further.
func (t *tailer) dropPartial() {
	if len(t.partial) > 0 || t.long {
		t.log.Debug("dropping incomplete last line", "bytes", len(t.partial))
	}
	t.partial, t.long, t.skip = t.partial[:0], false, false
}

// readAvailable reads the file to its current end and sends the complete
// lines.
func (t *tailer) readAvailable(ctx context.Context) error {
	for {
		n, err := t.f.ReadAt(t.buf, t.readOff)
		if n > 0 && t.pos.Head == 0 {
			// Learn the head from what was read, so that a file rewritten
			// later is not mistaken for this one.
			if t.readOff == 0 {
				t.pos.Head = hashHead(t.buf[:n])
			} else if h, herr := headOf(t.f); herr == nil {
				t.pos.Head = h
			}
		}
		if n > 0 {
			if cerr := t.consume(ctx, t.buf[:n]); cerr != nil {
				return cerr
			}
			t.readOff += int64(n)
		}
		if err != nil {
			if err != io.EOF {
				t.warnOnce("cannot read log file", err)
			}
			break
		}
	}
	if err := t.flush(ctx); err != nil {
		return err
	}
	if t.f != nil && t.readOff > 0 {
		// The end of what the file held is reached (as fail2ban, a file
		// that was empty is caught up once it had lines to read).
		t.caughtUp = true
	}
	return nil
}

// consume splits data, read at t.readOff, into lines.
func (t *tailer) consume(ctx context.Context, data []byte) error {
	base := t.readOff
	if len(t.partial) > 0 || t.long || t.skip {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			t.addPartial(data)
			return nil
		}
		t.addPartial(data[:j])
		skip, line := t.skip, string(t.partial)
		t.partial, t.long, t.skip = t.partial[:0], false, false
		data = data[j+1:]
		base += int64(j + 1)
		t.pos.Offset = base
		if !skip {
			if err := t.emit(ctx, line); err != nil {
				return err
			}
		}
	}
	if k := bytes.LastIndexByte(data, '\n'); k >= 0 {
		// One allocation for all complete lines; the lines share it.
		chunk := string(data[:k+1])
		for len(chunk) > 0 {
			j := strings.IndexByte(chunk, '\n')
			line := chunk[:j]
			if len(line) > t.opts.MaxLineBytes {
				line = line[:t.opts.MaxLineBytes]
			}
			chunk = chunk[j+1:]
			base += int64(j + 1)
			t.pos.Offset = base
			if err := t.emit(ctx, line); err != nil {
				return err
			}
		}
		data = data[k+1:]
	}
	t.addPartial(data)
	return nil
}

// addPartial appends b to the line in progress, up to MaxLineBytes.
func (t *tailer) addPartial(b []byte) {
	if t.long || t.skip || len(b) == 0 {
		return
	}
	if room := t.opts.MaxLineBytes - len(t.partial); len(b) > room {
		b, t.long = b[:room], true
	}
	t.partial = append(t.partial, b...)
}

// emit adds a line to the batch, sending it when full.
func (t *tailer) emit(ctx context.Context, line string) error {
	if t.batch == nil {
		t.batch = make([]string, 0, 256)
	}
	t.batch = append(t.batch, line)
	if len(t.batch) >= maxBatchLines {
		return t.flush(ctx)
	}
	return nil
}

// flush sends the batch.
func (t *tailer) flush(ctx context.Context) error {
	if len(t.batch) == 0 {
		return nil
	}
	b := Batch{Path: t.path, Lines: t.batch, Pos: t.pos, Live: t.caughtUp}
	t.batch = nil
	select {
	case t.out <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stat returns the inode and size of an open file.
func stat(f *os.File) (ino uint64, size int64, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	return inodeOf(fi), fi.Size(), nil
}

// headOf hashes the first line of f (at most headBytes of it). It returns 0
// while the first line is incomplete and shorter than headBytes.
func headOf(f *os.File) (uint64, error) {
	var buf [headBytes]byte
	n, err := f.ReadAt(buf[:], 0)
	if err != nil && err != io.EOF {
		return 0, fmt.Errorf("reading the first line: %w", err)
	}
	return hashHead(buf[:n]), nil
}

// hashHead hashes the first line of b, the start of a file (at most
// headBytes of it). It returns 0 if b holds neither a complete first line
// nor headBytes bytes.
func hashHead(b []byte) uint64 {
	if i := bytes.IndexByte(b[:min(len(b), headBytes)], '\n'); i >= 0 {
		b = b[:i]
	} else if len(b) < headBytes {
		return 0
	} else {
		b = b[:headBytes]
	}
	h := fnv.New64a()
	h.Write(b)
	if sum := h.Sum64(); sum != 0 {
		return sum
	}
	return 1
}

// dirWatcher wakes the tailer on file-system events about the file (or its
// rotated siblings) in its directory.
type dirWatcher struct {
	w    *fsnotify.Watcher
	dir  string
	base string
	log  *slog.Logger
	wake chan struct{}
	done chan struct{}
}

func newDirWatcher(path string, log *slog.Logger) *dirWatcher {
	d := &dirWatcher{
		dir:  filepath.Dir(path),
		base: filepath.Base(path),
		log:  log,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Warn("cannot watch for file events; polling", "err", err)
		close(d.done)
		return d
	}
	d.w = w
	d.retry()
	go d.run()
	return d
}

// retry starts watching the directory if it is not watched (it may not
// have existed before, or have been removed and re-created).
func (d *dirWatcher) retry() {
	if d.w == nil || slices.Contains(d.w.WatchList(), d.dir) {
		return
	}
	if err := d.w.Add(d.dir); err != nil {
		d.log.Debug("cannot watch directory; polling", "dir", d.dir, "err", err)
	}
}

func (d *dirWatcher) run() {
	defer close(d.done)
	for {
		select {
		case ev, ok := <-d.w.Events:
			if !ok {
				return
			}
			if name := filepath.Base(ev.Name); name == d.base || strings.HasPrefix(name, d.base+".") {
				d.notify()
			}
		case err, ok := <-d.w.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				d.notify()
				continue
			}
			d.log.Warn("file event watcher", "err", err)
		}
	}
}

// notify wakes the tailer; wake-ups coalesce.
func (d *dirWatcher) notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dirWatcher) close() {
	if d.w != nil {
		d.w.Close()
	}
	<-d.done
}
