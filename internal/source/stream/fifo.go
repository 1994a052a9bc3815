package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gaol-project/gaol/internal/source"
)

// FollowFIFO reads the named pipe at path and sends its lines to out, as
// batches with Path path, until ctx is done; then it returns nil. It
// returns an error only when path is not a named pipe or cannot be opened.
//
// Writers may come and go: the pipe stays open for reading between them,
// so a writer never finds it without a reader (a writer opening it
// without blocking would fail, one opening it blocking would wait) and
// nothing written between two writers is lost. When the last writer
// closes it, a line it left without a newline is sent; if another writer
// opened it before that was seen, the pipe being one stream of bytes, the
// line goes on with what that one writes. A missing pipe is
// waited for; when path comes to name another pipe (it was deleted and
// made again), what the old one still holds is read and the new one is
// read from then on.
func FollowFIFO(ctx context.Context, path string, opts Options, out chan<- source.Batch) error {
	if path == "" || out == nil {
		return errors.New("fifo: empty path or nil channel")
	}
	opts.defaults()
	log := opts.Logger.With("path", path)
	started := func() {
		if opts.Started != nil {
			opts.Started()
			opts.Started = nil
		}
	}
	defer started()

	ticker := time.NewTicker(opts.Poll)
	defer ticker.Stop()
	var p *pipe
	for p == nil {
		var err error
		p, err = openFIFO(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			started()
			select {
			case <-ctx.Done():
				return nil
			case <-ticker.C:
			}
		case err != nil:
			return err
		}
	}
	defer func() { p.f.Close() }()
	started()
	// When ctx is done, a deadline in the past ends the read under way.
	interrupt := func(p *pipe) func() bool {
		return context.AfterFunc(ctx, func() { p.f.SetReadDeadline(time.Unix(1, 0)) })
	}
	stop := interrupt(p)
	defer func() { stop() }()

	sp := splitter{max: opts.MaxLineBytes}
	buf := make([]byte, readSize)
	send := func() bool {
		for len(sp.lines) > 0 {
			select {
			case out <- source.Batch{Path: path, Lines: sp.take()}:
			case <-ctx.Done():
				return false
			}
		}
		return true
	}
	for {
		p.f.SetReadDeadline(time.Now().Add(opts.Poll))
		if ctx.Err() != nil {
			return nil
		}
		n, err := p.read(buf)
		switch {
		case err == nil:
			sp.write(buf[:n])
		case errors.Is(err, io.EOF): // the last writer left
			sp.flush()
		case errors.Is(err, os.ErrDeadlineExceeded):
			if ctx.Err() != nil {
				return nil
			}
			if !p.replaced(path) {
				continue
			}
			next, err := openFIFO(path)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					log.Warn("fifo: opening the new pipe", "err", err)
				}
				continue
			}
			log.Info("fifo: the path names a new pipe; switching to it")
			p.f.SetReadDeadline(time.Time{})
			if err := p.drain(&sp, buf); err != nil {
				log.Warn("fifo: reading the rest of the old pipe", "err", err)
			}
			sp.flush()
			p.f.Close()
			stop()
			p = next
			stop = interrupt(p)
		default:
			return fmt.Errorf("fifo: reading %q: %w", path, err)
		}
		if !send() {
			return nil
		}
	}
}

// pipe is an open named pipe.
type pipe struct {
	f  *os.File
	rc syscall.RawConn
	id [2]uint64 // device and inode
	// idle is set when the pipe has no writer since it was last found
	// so: reading returns end-of-file at once then, and must wait
	// instead.
	idle bool
}

// openFIFO opens the named pipe at path for reading without waiting for
// a writer.
func openFIFO(path string) (*pipe, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("fifo: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fifo: %w", err)
	}
	if fi.Mode().Type() != fs.ModeNamedPipe {
		f.Close()
		return nil, fmt.Errorf("fifo: %q is not a named pipe", path)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fifo: %w", err)
	}
	return &pipe{f: f, rc: rc, id: fileID(fi), idle: true}, nil
}

// fileID identifies a file: its device and inode.
func fileID(fi fs.FileInfo) [2]uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return [2]uint64{uint64(st.Dev), st.Ino}
	}
	return [2]uint64{}
}

// replaced reports whether path now names another named pipe than p.
func (p *pipe) replaced(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().Type() == fs.ModeNamedPipe && fileID(fi) != p.id
}

// read reads what the pipe holds, waiting (until the deadline) for data.
// It returns io.EOF once when the last writer has left, then waits for
// the next writer.
func (p *pipe) read(buf []byte) (int, error) {
	var n int
	var rerr error
	err := p.rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = unix.Read(int(fd), buf)
			if rerr != unix.EINTR {
				break
			}
		}
		switch {
		case rerr == unix.EAGAIN: // a writer, no data yet
			return false
		case rerr == nil && n == 0 && p.idle: // no writer yet
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, rerr
	case n == 0:
		p.idle = true
		return 0, io.EOF
	}
	p.idle = false
	return n, nil
}

// drain reads what the pipe still holds, without waiting.
func (p *pipe) drain(sp *splitter, buf []byte) error {
	for {
		var n int
		var rerr error
		err := p.rc.Read(func(fd uintptr) bool {
			for {
				n, rerr = unix.Read(int(fd), buf)
				if rerr != unix.EINTR {
					return true
				}
			}
		})
		if err == nil {
			err = rerr
		}
		if errors.Is(err, unix.EAGAIN) || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return err
		}
		sp.write(buf[:n])
	}
}
