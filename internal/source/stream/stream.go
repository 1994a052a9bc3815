// Package stream reads log lines from standard input and from named pipes
// (FIFOs), for logs that are never written to a file.
//
// Lines are delivered as source.Batch, like the lines of a file, with no
// position: what a stream held when the daemon stopped cannot be read
// again.
package stream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/gaol-project/gaol/internal/source"
)

// maxBatchLines caps the lines of one Batch.
const maxBatchLines = 4096

// readSize is how much one read asks for.
const readSize = 64 << 10

// Options tune Read and FollowFIFO.
type Options struct {
	// MaxLineBytes is the longest line delivered (default
	// source.DefaultMaxLineBytes); a longer one is cut there and the rest
	// of it discarded.
	MaxLineBytes int
	// Poll is how often FollowFIFO checks that its path still names the
	// pipe it has open, or waits for a missing one (default
	// source.DefaultPoll).
	Poll time.Duration
	// Logger receives warnings (default slog.Default()).
	Logger *slog.Logger
	// Started, if set, is called once reading can begin: at once for
	// Read, once the pipe is open (or found missing) for FollowFIFO.
	Started func()
}

func (o *Options) defaults() {
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = source.DefaultMaxLineBytes
	}
	if o.Poll <= 0 {
		o.Poll = source.DefaultPoll
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Read sends the lines read from r to out, as batches with Path name,
// until r ends or ctx is done, and returns nil then, or the error that
// ended reading. A last line without a newline is sent when r ends.
//
// Lines are sent as soon as they are read. When ctx is done Read returns
// at once; a read blocked in r (standard input, say) goes on in the
// background until r yields, unless r has a SetReadDeadline method, which
// Read uses to interrupt it.
func Read(ctx context.Context, name string, r io.Reader, opts Options, out chan<- source.Batch) error {
	if r == nil || out == nil {
		return errors.New("stream: nil reader or channel")
	}
	opts.defaults()
	if opts.Started != nil {
		opts.Started()
	}
	batches := make(chan []string)
	done := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		sp := splitter{max: opts.MaxLineBytes}
		buf := make([]byte, readSize)
		for {
			n, err := r.Read(buf)
			sp.write(buf[:n])
			if err != nil {
				sp.flush()
			}
			for len(sp.lines) > 0 {
				select {
				case batches <- sp.take():
				case <-stop:
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				done <- err
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			if d, ok := r.(interface{ SetReadDeadline(time.Time) error }); ok {
				d.SetReadDeadline(time.Unix(1, 0))
			}
			return nil
		case err := <-done:
			return err
		case lines := <-batches:
			select {
			case out <- source.Batch{Path: name, Lines: lines}:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// splitter cuts bytes into lines.
type splitter struct {
	max     int
	partial []byte // the line in progress, at most max bytes
	long    bool   // the line in progress was cut
	lines   []string
}

// write adds bytes read.
func (s *splitter) write(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			s.add(b)
			return
		}
		s.add(b[:i])
		s.end()
		b = b[i+1:]
	}
}

// add appends to the line in progress, up to max bytes.
func (s *splitter) add(b []byte) {
	if room := s.max - len(s.partial); len(b) > room {
		b, s.long = b[:room], true
	}
	s.partial = append(s.partial, b...)
}

// end ends the line in progress.
func (s *splitter) end() {
	s.lines = append(s.lines, string(s.partial))
	s.partial, s.long = s.partial[:0], false
}

// flush ends a line in progress that has no newline.
func (s *splitter) flush() {
	if len(s.partial) > 0 || s.long {
		s.end()
	}
}

// take removes and returns up to maxBatchLines complete lines.
func (s *splitter) take() []string {
	n := min(len(s.lines), maxBatchLines)
	lines := s.lines[:n:n]
	s.lines = s.lines[n:]
	if len(s.lines) == 0 {
		s.lines = nil
	}
	return lines
}
