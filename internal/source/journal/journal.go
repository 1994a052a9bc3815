// Package journal follows the systemd journal through journalctl and turns
// its entries into syslog-style lines, remembering its place by cursor so
// that a restarted daemon resumes with no gap and no duplicate.
//
// It runs `journalctl -o json --follow` as a child process rather than
// reading journal files itself: the file format is systemd's to change, and
// journalctl reads every version of it (compressed, sealed, rotated).
package journal

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gaol-project/gaol/internal/source"
)

// Defaults for Options.
const (
	DefaultJournalctl    = "journalctl"
	DefaultMaxEntryBytes = 1 << 20
	DefaultMinBackoff    = time.Second
	DefaultMaxBackoff    = 30 * time.Second
)

// maxBatchEntries and maxBatchBytes cap the entries of one Batch.
const (
	maxBatchEntries = 4096
	maxBatchBytes   = 1 << 20
)

// outputFields are the journal fields asked of journalctl; it adds
// __CURSOR, __REALTIME_TIMESTAMP, __MONOTONIC_TIMESTAMP and _BOOT_ID.
var outputFields = strings.Join([]string{
	"MESSAGE", "_HOSTNAME", "SYSLOG_IDENTIFIER", "_COMM", "SYSLOG_PID", "_PID",
	"_SOURCE_REALTIME_TIMESTAMP", "_SOURCE_MONOTONIC_TIMESTAMP",
}, ",")

// Options tune Follow.
type Options struct {
	// Matches are journalctl match terms ("FIELD=value", an absolute
	// path, or "+" for OR between groups), as ParseMatch returns them from
	// a jail's journalmatch. Empty means every entry.
	Matches []string
	// Cursor is a saved Batch.Cursor: reading resumes just after that
	// entry. Empty means the journal was never read: reading starts at
	// its end.
	Cursor string

	// Directory, if set, reads the journal files in that directory
	// (journalctl --directory) instead of the system journal.
	Directory string
	// Files, if set, reads these journal files (journalctl --file).
	Files []string
	// Namespace reads a journal namespace (journalctl --namespace).
	Namespace string
	// SystemOnly reads only the system journal, not users' journals
	// (journalctl --system).
	SystemOnly bool

	// Journalctl is the journalctl binary (default DefaultJournalctl,
	// looked up in $PATH).
	Journalctl string
	// Location is the time zone of the time in each line (default
	// time.Local); Entry.Time is exact whatever it is.
	Location *time.Location
	// MaxLineBytes is the longest line delivered (default
	// source.DefaultMaxLineBytes); a longer one is cut there.
	MaxLineBytes int
	// MaxEntryBytes is the longest JSON entry accepted from journalctl
	// (default DefaultMaxEntryBytes); a longer one is skipped with a
	// warning.
	MaxEntryBytes int
	// MinBackoff and MaxBackoff bound the wait before journalctl is run
	// again after it exited (defaults DefaultMinBackoff,
	// DefaultMaxBackoff); the wait doubles while it keeps failing.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives warnings (default slog.Default()).
	Logger *slog.Logger

	// Started, if set, is called once the place to start from is known:
	// entries written after that are read.
	Started func()
}

// Batch is a run of journal entries.
type Batch struct {
	// Entries are the entries in journal order.
	Entries []source.Entry
	// Cursor is the cursor of the last entry: save it after Entries are
	// processed and pass it back as Options.Cursor.
	Cursor string
}

// Follow runs journalctl and sends the journal entries that match
// opts.Matches to out, as syslog-style lines, until ctx is done, then
// returns nil. It returns an error only when it cannot start at all (an
// invalid match, journalctl not found); journalctl exiting is logged and
// it is run again after a backoff, resuming after the last entry sent.
//
// With opts.Cursor it resumes just after that entry (or, if the journal no
// longer has it, at the first entry after its place). Without, it starts
// at the end of the journal: only entries written after Started are read.
//
// Each entry becomes source.FormatLine(time, _HOSTNAME,
// SYSLOG_IDENTIFIER or _COMM, SYSLOG_PID or _PID, MESSAGE), where time is
// _SOURCE_REALTIME_TIMESTAMP or else __REALTIME_TIMESTAMP; kernel messages
// get their monotonic time "[seconds.micros]" before the message, as the
// kernel log shows it. The send blocks until out accepts the batch.
//
// Reading the system journal, journalctl --follow shows the current boot
// only: after a reboot, a cursor of the previous boot resumes at the start
// of the current one.
func Follow(ctx context.Context, opts Options, out chan<- Batch) error {
	if out == nil {
		return errors.New("journal: nil channel")
	}
	if err := checkMatches(opts.Matches); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if opts.Journalctl == "" {
		opts.Journalctl = DefaultJournalctl
	}
	bin, err := exec.LookPath(opts.Journalctl)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	opts.Journalctl = bin
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = source.DefaultMaxLineBytes
	}
	if opts.MaxEntryBytes <= 0 {
		opts.MaxEntryBytes = DefaultMaxEntryBytes
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	f := &follower{opts: opts, log: opts.Logger, out: out, cursor: opts.Cursor}

	if f.cursor == "" {
		f.since = time.Now()
		c, err := f.tailCursor(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			f.log.Warn("journal: finding its end; reading from now on", "err", err)
		case c == "":
			f.log.Debug("journal: empty; reading from now on")
		default:
			f.cursor = c
		}
	}
	if opts.Started != nil {
		opts.Started()
	}

	backoff := opts.MinBackoff
	for {
		began := time.Now()
		sent, err := f.run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if sent || time.Since(began) > opts.MaxBackoff {
			backoff = opts.MinBackoff
		}
		f.log.Warn("journal: journalctl exited; running it again", "err", err, "after", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, opts.MaxBackoff)
	}
}

// follower is the state of one Follow.
type follower struct {
	opts Options
	log  *slog.Logger
	out  chan<- Batch

	// cursor is where to resume: the last entry sent (or the saved or
	// initial one). When empty, since is.
	cursor string
	since  time.Time
}

// sourceArgs are the journalctl arguments that say which journal to read.
func (f *follower) sourceArgs() []string {
	var args []string
	if f.opts.Directory != "" {
		args = append(args, "--directory="+f.opts.Directory)
	}
	for _, file := range f.opts.Files {
		args = append(args, "--file="+file)
	}
	if f.opts.Directory != "" || len(f.opts.Files) > 0 {
		// Every boot of the files given, not the last one only, which is
		// what --follow would keep (their machines may be many).
		args = append(args, "--merge")
	}
	if f.opts.Namespace != "" {
		args = append(args, "--namespace="+f.opts.Namespace)
	}
	if f.opts.SystemOnly {
		args = append(args, "--system")
	}
	return append(args, "--no-pager", "--quiet")
}

// tailCursor returns the cursor of the journal's last entry (of any
// match), or "" when the journal is empty.
func (f *follower) tailCursor(ctx context.Context) (string, error) {
	args := append(f.sourceArgs(), "--output=json", "--lines=1", "--output-fields=__CURSOR")
	cmd := exec.CommandContext(ctx, f.opts.Journalctl, args...)
	var stderr tailBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("running journalctl: %w%s", err, stderr.suffix())
	}
	stdout = bytes.TrimSpace(stdout)
	if len(stdout) == 0 {
		return "", nil
	}
	e, err := decodeEntry(stdout)
	if err != nil {
		return "", fmt.Errorf("reading journalctl's output: %w", err)
	}
	if e.Cursor == "" {
		return "", errors.New("reading journalctl's output: no __CURSOR")
	}
	return e.Cursor, nil
}

// followArgs are the arguments of the long-running journalctl.
func (f *follower) followArgs() []string {
	args := append(f.sourceArgs(),
		"--output=json", "--all", "--follow", "--no-tail",
		"--output-fields="+outputFields)
	if f.cursor != "" {
		// --cursor, not --after-cursor: journalctl skips the entry after
		// the place of the cursor, which loses an entry when the cursor's
		// own entry does not match (or is gone). The cursor's entry, if it
		// comes, is dropped by run.
		args = append(args, "--cursor="+f.cursor)
	} else {
		us := f.since.UnixMicro()
		args = append(args, fmt.Sprintf("--since=@%d.%06d", us/1e6, us%1e6))
	}
	if len(f.opts.Matches) > 0 {
		args = append(args, "--")
		args = append(args, f.opts.Matches...)
	}
	return args
}

// run runs journalctl once, until it exits or ctx is done, sending what it
// reads. sent tells whether any entry was sent.
func (f *follower) run(ctx context.Context) (sent bool, err error) {
	cmd := exec.CommandContext(ctx, f.opts.Journalctl, f.followArgs()...)
	cmd.WaitDelay = time.Second
	stderr := &tailBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return false, fmt.Errorf("running journalctl: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("running journalctl: %w", err)
	}
	sent, rerr := f.read(ctx, stdout)
	if rerr != nil {
		cmd.Process.Kill() // it may still run; Wait reaps it
	}
	werr := cmd.Wait()
	switch {
	case rerr != nil:
		err = rerr
	case werr != nil:
		err = werr
	default:
		err = errors.New("journalctl exited")
	}
	return sent, fmt.Errorf("%w%s", err, stderr.suffix())
}

// read reads journalctl's JSON lines from r and sends them in batches:
// whatever is read when no more is waiting, up to the batch caps.
func (f *follower) read(ctx context.Context, r io.Reader) (sent bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	skip := f.cursor // the entry of the resume cursor, if it comes first
	var batch []source.Entry
	var last string
	var size int
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		select {
		case f.out <- Batch{Entries: batch, Cursor: last}:
		case <-ctx.Done():
			return ctx.Err()
		}
		f.cursor, sent = last, true
		batch, size = nil, 0
		return nil
	}
	for {
		line, err := readLine(br, f.opts.MaxEntryBytes)
		if errors.Is(err, errTooLong) {
			f.log.Warn("journal: skipping an entry longer than the limit", "limit", f.opts.MaxEntryBytes)
			continue
		}
		if err != nil {
			if ferr := flush(); ferr != nil {
				return sent, ferr
			}
			if errors.Is(err, io.EOF) {
				return sent, nil
			}
			return sent, fmt.Errorf("reading journalctl's output: %w", err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		e, err := decodeEntry(line)
		if err != nil {
			f.log.Warn("journal: skipping an entry journalctl wrote that cannot be read", "err", err)
			continue
		}
		first := skip
		skip = ""
		if first != "" && e.Cursor == first {
			continue
		}
		entry := e.entry(f.opts.Location, f.opts.MaxLineBytes)
		batch = append(batch, entry)
		size += len(entry.Line)
		if e.Cursor != "" {
			last = e.Cursor
		}
		if br.Buffered() == 0 || len(batch) >= maxBatchEntries || size >= maxBatchBytes {
			if err := flush(); err != nil {
				return sent, err
			}
		}
	}
}

// errTooLong is readLine's error for a line over its limit (the line was
// consumed).
var errTooLong = errors.New("line too long")

// readLine reads one line (without its newline). A line longer than
// limit is consumed and reported as errTooLong. A last line without a
// newline is returned as a line.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	chunk, err := br.ReadSlice('\n')
	if err == nil && len(chunk) <= limit+1 {
		return chunk[:len(chunk)-1], nil // the usual case: no copy
	}
	line := append([]byte(nil), chunk...)
	for errors.Is(err, bufio.ErrBufferFull) {
		chunk, err = br.ReadSlice('\n')
		if len(line) <= limit {
			line = append(line, chunk...)
		}
	}
	if err != nil && (!errors.Is(err, io.EOF) || len(line) == 0) {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	if len(line) > limit {
		return nil, errTooLong
	}
	return line, nil
}

// tailBuffer keeps the last few KiB written to it: journalctl's stderr.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailBufferBytes = 2 << 10

// Write keeps the end of p.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - tailBufferBytes; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// suffix is ": " and the stderr kept, or "" if none.
func (t *tailBuffer) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if s == "" {
		return ""
	}
	return ": " + strconv.Quote(s)
}
