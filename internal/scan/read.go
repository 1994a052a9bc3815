package scan

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gaol-project/gaol/internal/match"
	"github.com/gaol-project/gaol/internal/match/date"
)

// Stdin is the file name that stands for the standard input.
const Stdin = "-"

// input is one log being read: the file (counted, for progress) and the
// lines, decompressed if the file is.
type input struct {
	name       string
	size       int64 // of the file as stored; 0 if unknown
	compressed string
	counter    *countingReader
	r          io.Reader // decompressed
	close      func() error
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// open opens a log file (or stdin for Stdin), decompressing gzip and bzip2
// files, which logrotate leaves behind, by their content.
func open(name string, stdin io.Reader) (*input, error) {
	in := &input{name: name, close: func() error { return nil }}
	var raw io.Reader
	if name == Stdin {
		if stdin == nil {
			stdin = os.Stdin
		}
		raw = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if fi.IsDir() {
			f.Close()
			return nil, fmt.Errorf("%s is a directory", name)
		}
		if fi.Mode().IsRegular() {
			in.size = fi.Size()
		}
		raw, in.close = f, f.Close
	}
	in.counter = &countingReader{r: raw}
	br := bufio.NewReaderSize(in.counter, 64<<10)
	magic, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			in.close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		zr.Multistream(true)
		in.r, in.compressed = zr, "gzip"
	case bytes.Equal(magic, []byte("BZh")):
		in.r, in.compressed = bzip2.NewReader(br), "bzip2"
	default:
		in.r = br
	}
	return in, nil
}

// maxLine bounds a line: longer ones are cut there (the rest is read as
// the next line). fail2ban has no limit, but nothing a filter should match
// is this long.
const maxLine = 1 << 20

// blockSize is how much is read at once; its lines are a chunk, matched by
// one worker.
const blockSize = 512 << 10

// chunkReader cuts a stream into blocks of whole lines.
type chunkReader struct {
	r     io.Reader
	limit int // maxLine
	buf   []byte
	carry int // bytes of an unfinished line at the start of buf
	eof   bool
}

func newChunkReader(r io.Reader, size int) *chunkReader {
	return &chunkReader{r: r, buf: make([]byte, size), limit: maxLine}
}

// next returns the lines of the next block, without their line endings
// ("\n" or "\r\n"); io.EOF after the last.
func (c *chunkReader) next() ([]string, error) {
	for {
		if c.eof {
			if c.carry == 0 {
				return nil, io.EOF
			}
			s := string(c.buf[:c.carry])
			c.carry = 0
			return splitLines(s), nil
		}
		if c.carry == len(c.buf) {
			// A line longer than the buffer: grow it, up to the limit.
			if len(c.buf) >= c.limit {
				s := string(c.buf)
				c.carry = 0
				return []string{s}, nil
			}
			nb := make([]byte, max(min(2*len(c.buf), c.limit), len(c.buf)+1))
			copy(nb, c.buf)
			c.buf = nb
		}
		n, err := io.ReadFull(c.r, c.buf[c.carry:])
		end := c.carry + n
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			c.eof = true
		case err != nil:
			return nil, err
		}
		cut := bytes.LastIndexByte(c.buf[:end], '\n') + 1
		if cut == 0 {
			c.carry = end
			continue
		}
		// One copy per block: its lines are substrings of it.
		s := string(c.buf[:cut])
		c.carry = copy(c.buf, c.buf[cut:end])
		return splitLines(s), nil
	}
}

// splitLines splits a block into lines, dropping line endings.
func splitLines(s string) []string {
	lines := make([]string, 0, len(s)/80+1)
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		line := s
		if i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		lines = append(lines, line)
	}
	return lines
}

// firstTime returns the first timestamp found in the first lines of a log,
// to put the logs in time order.
func firstTime(name string, now time.Time, loc *time.Location) (time.Time, bool) {
	in, err := open(name, nil)
	if err != nil {
		return time.Time{}, false
	}
	defer in.close()
	det := date.NewDetector(func() time.Time { return now }, loc)
	cr := newChunkReader(io.LimitReader(in.r, 256<<10), 256<<10)
	lines, err := cr.next()
	if err != nil {
		return time.Time{}, false
	}
	for i, l := range lines {
		if i == 1000 {
			break
		}
		if p := match.Prepare(l, det); p.HasTime {
			return p.Time, true
		}
	}
	return time.Time{}, false
}
