package syslog

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// frames reads every frame of in (read a byte at a time, to cross every
// buffer boundary) and marks the truncated ones with "~".
func frames(t *testing.T, in string, maxMessage int) ([]string, error) {
	t.Helper()
	f := newFramer(iotest.OneByteReader(strings.NewReader(in)), maxMessage)
	var got []string
	for {
		b, err := f.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return got, err
		}
		s := string(b)
		if f.truncated {
			s += "~"
		}
		got = append(got, s)
	}
}

func TestFramer(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     []string
		err      error
	}{
		{"newline", "<13>a\n<13>b\r\n<13>c", 100, []string{"<13>a", "<13>b\r", "<13>c"}, nil},
		{"octet counted", "5 <13>a6 <13>bc\n", 100, []string{"<13>a", "<13>bc"}, nil},
		{"mixed", "<13>a\n5 <13>b\n<13>c\n3 x\ny\n", 100, []string{"<13>a", "<13>b", "<13>c", "x\ny"}, nil},
		{"stray separators", "\n\r\n\x00 <13>a\n\n", 100, []string{"<13>a"}, nil},
		{"counted frame keeps newlines", "9 <13>a\nb\nc<13>d\n", 100, []string{"<13>a\nb\nc", "<13>d"}, nil},
		{"long line cut", "<13>abcdefgh\n<13>x\n", 6, []string{"<13>ab~", "<13>x"}, nil},
		{"exact line", "<13>ab\n", 6, []string{"<13>ab"}, nil},
		{"longer than the buffer", strings.Repeat("a", 5000) + "\nb\n", 6000, []string{strings.Repeat("a", 5000), "b"}, nil},
		{"longer than the buffer, cut", strings.Repeat("a", 9000) + "\nb\n", 4500, []string{strings.Repeat("a", 4500) + "~", "b"}, nil},
		{"exact, longer than the buffer", strings.Repeat("a", 5000) + "\nb", 5000, []string{strings.Repeat("a", 5000), "b"}, nil},
		{"long counted frame cut", "10 <13>abcdef<13>x\n", 6, []string{"<13>ab~", "<13>x"}, nil},
		{"not a count", "12x <13>a\n", 100, []string{"12x <13>a"}, nil},
		{"leading zero is not a count", "05 <13>a\n", 100, []string{"05 <13>a"}, nil},
		{"count too long", "1234567890 x\n", 100, []string{"1234567890 x"}, nil},
		{"stream ends in a counted frame", "9 <13>a", 100, nil, io.ErrUnexpectedEOF},
		{"empty", "", 100, nil, nil},
		{"short, then the end", "<1>", 100, []string{"<1>"}, nil},
		{"digits, then the end", "12", 100, []string{"12"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := frames(t, tt.in, tt.max)
			if !errors.Is(err, tt.err) || strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

// TestFramerDoesNotWait checks that a complete frame is returned without
// waiting for more bytes than it has.
func TestFramerDoesNotWait(t *testing.T) {
	for _, frame := range []string{"<13>x\n", "1\n", "3 <1>", "12345\n"} {
		r, w := io.Pipe()
		go w.Write([]byte(frame))
		got := make(chan string, 1)
		go func() {
			b, _ := newFramer(r, 100).next()
			got <- string(b)
		}()
		select {
		case b := <-got:
			if want := strings.TrimPrefix(strings.TrimSuffix(frame, "\n"), "3 "); b != want {
				t.Errorf("%q: got %q, want %q", frame, b, want)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%q: the framer waits for more", frame)
		}
		w.Close()
	}
}

func FuzzFramer(f *testing.F) {
	f.Add([]byte("<13>a\n5 <13>b\n<13>c\n3 x\ny\n"), 8)
	f.Add([]byte("10 <13>abcdef<13>x\n\r\n\x00"), 3)
	f.Fuzz(func(t *testing.T, in []byte, maxMessage int) {
		maxMessage = 1 + abs(maxMessage)%64
		fr := newFramer(bytes.NewReader(in), maxMessage)
		for range len(in) + 1 {
			b, err := fr.next()
			if err != nil {
				return
			}
			if len(b) > maxMessage {
				t.Fatalf("frame of %d bytes, max %d", len(b), maxMessage)
			}
		}
		if _, err := fr.next(); err == nil {
			t.Fatal("more frames than bytes")
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
