package syslog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/testutil"
)

// running is a Listener run by a test, with what it delivered.
type running struct {
	t      *testing.T
	l      *Listener
	cancel context.CancelFunc
	done   chan error

	mu      sync.Mutex
	msgs    []Message
	arrived chan struct{}
}

// run starts a Listener on loopback (both sockets unless opts says).
func run(t *testing.T, opts Options) *running {
	t.Helper()
	if opts.UDP == "" && opts.TCP == "" {
		opts.UDP, opts.TCP = "127.0.0.1:0", "127.0.0.1:0"
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		c := testutil.NewClock(testNow)
		opts.Now = c.Now
	}
	l, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{t: t, l: l, cancel: cancel, done: make(chan error, 1), arrived: make(chan struct{}, 1)}
	out := make(chan Batch)
	go func() { r.done <- l.Run(ctx, out) }()
	go func() {
		for {
			select {
			case b := <-out:
				r.mu.Lock()
				r.msgs = append(r.msgs, b.Messages...)
				r.mu.Unlock()
				select {
				case r.arrived <- struct{}{}:
				default:
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	r.t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		r.t.Error("Run did not return after cancel")
	}
}

// wait waits until cond holds for what was delivered (checked whenever
// something arrives, and for the stats, every few milliseconds).
func (r *running) wait(what string, cond func(msgs []Message, s Stats) bool) []Message {
	r.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		msgs := slices.Clone(r.msgs)
		r.mu.Unlock()
		if cond(msgs, r.l.Stats()) {
			return msgs
		}
		select {
		case <-r.arrived:
		case <-time.After(5 * time.Millisecond):
		case <-deadline:
			r.t.Fatalf("waiting for %s: got %d messages, stats %+v", what, len(msgs), r.l.Stats())
		}
	}
}

// waitLines waits for n messages and returns their lines.
func (r *running) waitLines(n int) []string {
	r.t.Helper()
	msgs := r.wait(fmt.Sprintf("%d messages", n), func(m []Message, _ Stats) bool { return len(m) >= n })
	var lines []string
	for _, m := range msgs {
		lines = append(lines, m.Line)
	}
	return lines
}

func dial(t *testing.T, network string, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial(network, addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c net.Conn, data string) {
	t.Helper()
	if _, err := io.WriteString(c, data); err != nil {
		t.Fatal(err)
	}
}

func TestUDPAndTCP(t *testing.T) {
	r := run(t, Options{})
	udp := dial(t, "udp", r.l.UDPAddr())
	send(t, udp, "<38>Jun 15 11:59:58 web1 sshd[4242]: Failed password for root from 198.51.100.7 port 22 ssh2\n")
	send(t, udp, `<165>1 2024-06-15T05:14:15.000003-07:00 web2 myproc 8710 - [x@1 a="b"] RFC 5424 over UDP`)
	if got := r.waitLines(2); !slices.Equal(got, []string{
		"Jun 15 11:59:58 web1 sshd[4242]: Failed password for root from 198.51.100.7 port 22 ssh2",
		"Jun 15 12:14:15 web2 myproc[8710]: RFC 5424 over UDP",
	}) {
		t.Errorf("UDP: got %q", got)
	}

	tcp := dial(t, "tcp", r.l.TCPAddr())
	m5424 := "<34>1 2024-06-15T10:14:15.003Z host5 su - ID47 - \xef\xbb\xbfoctet counted\nwith a newline"
	send(t, tcp, "<13>Jun 15 11:00:00 host1 app[1]: newline framed\n")
	send(t, tcp, fmt.Sprintf("%d %s", len(m5424), m5424))
	send(t, tcp, "<13>Jun 15 11:00:01 host1 app[1]: newline again\r\n")
	m3164 := "<13>Jun 15 11:00:02 host1 app: counted RFC 3164"
	send(t, tcp, fmt.Sprintf("%d %s", len(m3164), m3164))
	send(t, tcp, "<13>Jun 15 11:00:03 host1 app: last, at the close")
	tcp.Close()
	msgs := r.wait("TCP messages", func(m []Message, _ Stats) bool { return len(m) >= 7 })
	var got []string
	for _, m := range msgs[2:] {
		got = append(got, m.Line)
		if !m.Sender.IsLoopback() {
			t.Errorf("sender %v", m.Sender)
		}
	}
	want := []string{
		"Jun 15 11:00:00 host1 app[1]: newline framed",
		`Jun 15 10:14:15 host5 su: octet counted\nwith a newline`,
		"Jun 15 11:00:01 host1 app[1]: newline again",
		"Jun 15 11:00:02 host1 app: counted RFC 3164",
		"Jun 15 11:00:03 host1 app: last, at the close",
	}
	if !slices.Equal(got, want) {
		t.Errorf("TCP: got %q\nwant %q", got, want)
	}
	if m := msgs[3]; m.Host != "host5" || m.Program != "su" || m.Format != RFC5424 || m.Facility != 4 || m.Severity != 2 {
		t.Errorf("RFC 5424 message: %+v", m)
	}
}

func TestMalformedKeepsListening(t *testing.T) {
	r := run(t, Options{MaxMessageBytes: 64})
	udp := dial(t, "udp", r.l.UDPAddr())
	send(t, udp, "")
	send(t, udp, "\x00\xff\xfe binary junk")
	send(t, udp, "<999>1 not a PRI")
	send(t, udp, "<13>"+strings.Repeat("x", 1000))
	tcp := dial(t, "tcp", r.l.TCPAddr())
	send(t, tcp, "\x00\x01\n<13>1 - - - - - - \xff\n99999 <13>cut short")
	tcp.Close() // in the middle of a counted frame
	r.wait("the junk", func(m []Message, s Stats) bool { return s.Received >= 5 && s.Raw >= 3 })

	send(t, udp, "<13>Jun 15 11:00:00 h a: still here over UDP")
	tcp = dial(t, "tcp", r.l.TCPAddr())
	send(t, tcp, "<13>Jun 15 11:00:00 h a: still here over TCP\n")
	msgs := r.wait("valid messages", func(m []Message, _ Stats) bool {
		n := 0
		for _, x := range m {
			if strings.Contains(x.Line, "still here") {
				n++
			}
		}
		return n == 2
	})
	s := r.l.Stats()
	if s.Raw != 3 || s.Truncated != 1 {
		t.Errorf("stats %+v", s)
	}
	for _, m := range msgs {
		if len(m.Line) > 64+len(time.Stamp)+20 || strings.ContainsAny(m.Line, "\n\r") {
			t.Errorf("line %q", m.Line)
		}
	}
}

func TestRateLimit(t *testing.T) {
	c := testutil.NewClock(testNow)
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))
	r := run(t, Options{TCP: "127.0.0.1:0", Rate: 1, Burst: 2, Now: c.Now, Logger: logger})
	tcp := dial(t, "tcp", r.l.TCPAddr())
	for i := range 5 {
		send(t, tcp, fmt.Sprintf("<13>Jun 15 11:00:00 h a: burst %d\n", i))
	}
	r.wait("5 handled", handled(5))
	c.Advance(time.Second) // one more token
	send(t, tcp, "<13>Jun 15 11:00:00 h a: after a second\n")
	send(t, tcp, "<13>Jun 15 11:00:00 h a: too soon\n")
	r.wait("7 handled", handled(7))
	c.Advance(time.Minute) // bucket full again, and time for a new warning
	send(t, tcp, "<13>Jun 15 11:00:00 h a: a minute later\n")
	send(t, tcp, "<13>Jun 15 11:00:00 h a: b minute later\n")
	send(t, tcp, "<13>Jun 15 11:00:00 h a: c minute later\n")
	r.wait("10 handled", handled(10))

	got := r.waitLines(5)
	want := []string{"burst 0", "burst 1", "after a second", "a minute later", "b minute later"}
	for i := range want {
		if !strings.HasSuffix(got[i], want[i]) {
			t.Errorf("message %d: %q, want %q", i, got[i], want[i])
		}
	}
	if s := r.l.Stats(); s.RateLimited != 5 || len(got) != 5 {
		t.Errorf("stats %+v, %d delivered", s, len(got))
	}
	logMu.Lock()
	warnings := strings.Count(logs.String(), "rate limit")
	text := logs.String()
	logMu.Unlock()
	// Dropped at t0 three times (the first logged), at t0+1s once, at
	// t0+61s once (logged, with the 4 drops since the last warning).
	if warnings != 2 || !strings.Contains(text, "count=1") || !strings.Contains(text, "count=4") {
		t.Errorf("%d warnings:\n%s", warnings, text)
	}
}

// handled is a wait condition: n messages were delivered or dropped by
// the rate limit (and so have been through the limiter).
func handled(n int) func([]Message, Stats) bool {
	return func(m []Message, s Stats) bool { return len(m)+int(s.RateLimited) == n }
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestAllowLists(t *testing.T) {
	r := run(t, Options{Programs: []string{"sshd", "postfix/*"}, Hosts: []string{"web*", "203.0.113.0/24"}})
	tcp := dial(t, "tcp", r.l.TCPAddr())
	for _, m := range []string{
		"<13>Jun 15 11:00:00 web1 sshd[1]: yes 1",
		"<13>Jun 15 11:00:00 web1 cron[1]: no: program",
		"<13>Jun 15 11:00:00 db1 sshd[1]: no: host",
		"<13>Jun 15 11:00:00 203.0.113.5 postfix/smtpd[2]: yes 2",
		"<13>1 - web2 sshd 3 - - yes 3",
		"<13>no header: no program",
	} {
		send(t, tcp, m+"\n")
	}
	r.wait("6 delivered or filtered", func(m []Message, s Stats) bool { return len(m)+int(s.Filtered) == 6 })
	got := r.waitLines(3)
	if len(got) != 3 || !strings.HasSuffix(got[0], "yes 1") || !strings.HasSuffix(got[1], "yes 2") || !strings.HasSuffix(got[2], "yes 3") {
		t.Errorf("got %q", got)
	}
	if s := r.l.Stats(); s.Filtered != 3 {
		t.Errorf("stats %+v", s)
	}
}

func TestMaxConns(t *testing.T) {
	r := run(t, Options{TCP: "127.0.0.1:0", MaxConns: 2})
	for i := range 2 {
		c := dial(t, "tcp", r.l.TCPAddr())
		send(t, c, fmt.Sprintf("<13>conn %d\n", i))
	}
	r.waitLines(2) // both are being served
	extra := dial(t, "tcp", r.l.TCPAddr())
	extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("the connection over the cap: read %v, want EOF", err)
	}
	if s := r.l.Stats(); s.Refused != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestCountUnderLoad sends many messages over several TCP connections,
// with both framings, and over UDP, and counts each one: none lost, none
// doubled.
func TestCountUnderLoad(t *testing.T) {
	r := run(t, Options{})
	const conns, perConn, datagrams = 4, 500, 50
	var wg sync.WaitGroup
	for c := range conns {
		tcp := dial(t, "tcp", r.l.TCPAddr())
		wg.Go(func() {
			var buf bytes.Buffer
			for i := range perConn {
				m := fmt.Sprintf("<13>Jun 15 11:00:00 h a: tcp %d %d", c, i)
				if i%2 == 0 {
					fmt.Fprintf(&buf, "%d %s", len(m), m)
				} else {
					buf.WriteString(m + "\n")
				}
				if buf.Len() > 1000 || i == perConn-1 {
					tcp.Write(buf.Bytes())
					buf.Reset()
				}
			}
			tcp.Close()
		})
	}
	udp := dial(t, "udp", r.l.UDPAddr())
	for i := range datagrams {
		send(t, udp, fmt.Sprintf("<13>1 - h a - - - udp %d", i))
	}
	wg.Wait()
	total := conns*perConn + datagrams
	lines := r.waitLines(total)
	seen := map[string]int{}
	for _, l := range lines {
		_, msg, _ := strings.Cut(l, ": ")
		seen[msg]++
	}
	for c := range conns {
		for i := range perConn {
			if n := seen[fmt.Sprintf("tcp %d %d", c, i)]; n != 1 {
				t.Errorf("tcp %d %d: %d times", c, i, n)
			}
		}
	}
	for i := range datagrams {
		if n := seen[fmt.Sprintf("udp %d", i)]; n != 1 {
			t.Errorf("udp %d: %d times", i, n)
		}
	}
	if len(lines) != total {
		t.Errorf("%d lines, want %d", len(lines), total)
	}
}

func TestStopClosesEverything(t *testing.T) {
	r := run(t, Options{})
	idle := dial(t, "tcp", r.l.TCPAddr())
	send(t, idle, "<13>x\n")
	r.waitLines(1)
	addr := r.l.TCPAddr()
	r.stop()
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("open connection after stop: read %v, want EOF", err)
	}
	if c, err := net.Dial("tcp", addr.String()); err == nil {
		c.Close()
		t.Error("still listening after stop")
	}
}

func TestNewErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, opts := range []Options{
		{},
		{UDP: "nonsense"},
		{TCP: "127.0.0.1:99999"},
		{TCP: taken.Addr().String()},
		{UDP: "127.0.0.1:0", Rate: -1},
		{UDP: "127.0.0.1:0", Programs: []string{"["}},
	} {
		l, err := New(opts)
		if err == nil {
			l.Close()
			t.Errorf("New(%+v): no error", opts)
		}
	}
	l, err := New(Options{UDP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.TCPAddr() != nil || l.UDPAddr() == nil {
		t.Errorf("addresses %v %v", l.UDPAddr(), l.TCPAddr())
	}
	if err := l.Run(context.Background(), nil); err == nil {
		t.Error("nil channel: no error")
	}
}
