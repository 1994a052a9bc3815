package syslog

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// framer splits a TCP stream into syslog messages. Each frame is either
// octet-counted (RFC 6587 3.4.1: "LEN SP MSG", used by RFC 5425-style
// senders) or ended by a newline (3.4.2, the traditional framing); like
// rsyslog it tells them apart frame by frame, by whether the frame starts
// with a digit.
type framer struct {
	br  *bufio.Reader
	max int    // longest message kept; the rest of a longer one is discarded
	buf []byte // the frame returned last
	// truncated tells whether the frame returned last was cut at max.
	truncated bool
}

func newFramer(r io.Reader, maxMessage int) *framer {
	return &framer{br: bufio.NewReaderSize(r, 4<<10), max: maxMessage}
}

// maxLenDigits is the most digits of an octet count (up to 999,999,999).
const maxLenDigits = 9

// next returns the next message, valid until the following call. At the
// end of the stream it returns a last unterminated message, then io.EOF.
func (f *framer) next() ([]byte, error) {
	f.truncated = false
	// Skip stray separators between frames.
	for {
		c, err := f.br.ReadByte()
		if err != nil {
			return nil, err
		}
		if c != '\n' && c != '\r' && c != 0 && c != ' ' {
			f.br.UnreadByte()
			break
		}
	}
	if n, ok := f.octetCount(); ok {
		return f.counted(n)
	}
	return f.line()
}

// octetCount reads the "LEN SP" header of an octet-counted frame, if the
// stream is at one. It looks one byte at a time, so that it never waits
// for more than the sender must send to end its frame.
func (f *framer) octetCount() (int, bool) {
	n := 0
	for i := range maxLenDigits + 1 {
		head, err := f.br.Peek(i + 1)
		if err != nil {
			return 0, false
		}
		switch c := head[i]; {
		case c == ' ' && i > 0:
			f.br.Discard(i + 1)
			return n, true
		case c < '0' || c > '9' || (i == 0 && c == '0'):
			return 0, false
		default:
			n = n*10 + int(c-'0')
		}
	}
	return 0, false
}

// counted reads a frame of n bytes, keeping at most f.max of them.
func (f *framer) counted(n int) ([]byte, error) {
	keep := min(n, f.max)
	f.buf = f.buf[:0]
	if cap(f.buf) < keep {
		f.buf = make([]byte, 0, keep)
	}
	f.buf = f.buf[:keep]
	if _, err := io.ReadFull(f.br, f.buf); err != nil {
		return nil, noEOF(err)
	}
	if rest := n - keep; rest > 0 {
		f.truncated = true
		if _, err := f.br.Discard(rest); err != nil {
			return nil, noEOF(err)
		}
	}
	return f.buf, nil
}

// noEOF turns a stream that ended inside a frame into an error.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// line reads a frame ended by a newline (or by the end of the stream),
// keeping at most f.max bytes of it.
func (f *framer) line() ([]byte, error) {
	f.buf = f.buf[:0]
	for {
		chunk, err := f.br.ReadSlice('\n')
		if room := f.max - len(f.buf); len(chunk) > room {
			f.buf = append(f.buf, chunk[:room]...)
			if !(err == nil && len(chunk) == room+1) { // only the newline did not fit
				f.truncated = true
			}
		} else {
			f.buf = append(f.buf, chunk...)
		}
		switch {
		case err == nil:
			return bytes.TrimSuffix(f.buf, []byte("\n")), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(f.buf) > 0:
			return f.buf, nil
		default:
			return nil, err
		}
	}
}
