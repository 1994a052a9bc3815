// Package syslog receives syslog messages over UDP and TCP, so that a log
// host can feed gaol what its clients send.
//
// It reads RFC 5424 messages (with github.com/leodido/go-syslog) and BSD
// (RFC 3164) messages in the lenient way receivers must, one message per
// UDP datagram and, on TCP, octet-counted or newline-ended frames (RFC
// 6587), told apart frame by frame. Each message becomes the line a syslog
// daemon would have written to a file, carried with its time, host and
// program. A token bucket per sender limits the messages taken from each,
// and connections and message sizes are capped, so that memory stays
// bounded whatever is sent.
package syslog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gaol-project/gaol/internal/source"
)

// Defaults for Options.
const (
	// DefaultAddress is where a listener should listen unless configured
	// otherwise: loopback only.
	DefaultAddress         = "127.0.0.1:514"
	DefaultMaxConns        = 64
	DefaultMaxMessageBytes = 16 << 10
	DefaultMaxSenders      = 10_000
	DefaultLogInterval     = time.Minute
)

const (
	// maxBatchMessages caps the messages of one Batch.
	maxBatchMessages = 1024
	// queueMessages is how many parsed messages wait for the batcher.
	queueMessages = 256
	// maxDatagram is the largest UDP payload.
	maxDatagram = 64 << 10
)

// Options configure a Listener.
type Options struct {
	// UDP and TCP are the addresses to listen on ("host:port"; port 0
	// picks a free one); an empty one is not listened on. At least one
	// must be set; DefaultAddress is the usual choice.
	UDP, TCP string

	// Rate is how many messages a second each sender address may send
	// once its Burst is spent; 0 means no limit. Messages over it are
	// dropped, counted in Stats and logged at most once per LogInterval.
	Rate float64
	// Burst is how many messages a sender may send at once (default
	// max(1, Rate)).
	Burst int
	// MaxSenders caps the senders whose rate is tracked (default
	// DefaultMaxSenders).
	MaxSenders int

	// Programs and Hosts are allow-lists, as for NewFilter: the listener
	// drops the messages that do not pass. Empty lets all through.
	Programs, Hosts []string

	// MaxConns caps the TCP connections open at once (default
	// DefaultMaxConns); more are closed as soon as accepted.
	MaxConns int
	// MaxMessageBytes is the longest message read (default
	// DefaultMaxMessageBytes); the rest of a longer one is discarded.
	MaxMessageBytes int
	// MaxLineBytes is the longest line delivered (default
	// source.DefaultMaxLineBytes).
	MaxLineBytes int

	// Location is the time zone of RFC 3164 timestamps, which have none,
	// and of the time in lines (default time.Local).
	Location *time.Location
	// Now is the clock (default time.Now): the time of messages without
	// a timestamp, the year of RFC 3164 timestamps, and the rate limit.
	Now func() time.Time
	// LogInterval is the least time between two warnings about dropped
	// messages or refused connections (default DefaultLogInterval).
	LogInterval time.Duration
	// Logger receives warnings (default slog.Default()).
	Logger *slog.Logger
}

// Batch is a run of messages received.
type Batch struct {
	// Messages are in the order they were read (per connection).
	Messages []Message
}

// Stats count what a Listener did.
type Stats struct {
	// Received counts messages read, whatever became of them.
	Received uint64
	// RateLimited counts messages dropped by the per-sender rate limit.
	RateLimited uint64
	// Filtered counts messages dropped by the allow-lists.
	Filtered uint64
	// Raw counts messages without a valid PRI part, delivered whole.
	Raw uint64
	// Truncated counts messages cut at MaxMessageBytes.
	Truncated uint64
	// Refused counts TCP connections closed because MaxConns were open.
	Refused uint64
}

// Listener receives syslog messages on its sockets.
type Listener struct {
	opts   Options
	log    *slog.Logger
	filter Filter
	limit  *limiter
	udp    *net.UDPConn
	tcp    *net.TCPListener
	queue  chan Message

	received, rateLimited, filtered, raw, truncated, refused atomic.Uint64

	mu    sync.Mutex
	conns map[*net.TCPConn]struct{}
	// warned holds when each kind of warning was last logged; pending
	// counts the events since.
	warned  map[string]time.Time
	pending map[string]uint64
}

// New validates opts and binds the sockets; Run serves them.
func New(opts Options) (*Listener, error) {
	if opts.UDP == "" && opts.TCP == "" {
		return nil, errors.New("syslog: no address to listen on")
	}
	if opts.Rate < 0 {
		return nil, fmt.Errorf("syslog: negative rate %v", opts.Rate)
	}
	filter, err := NewFilter(opts.Programs, opts.Hosts)
	if err != nil {
		return nil, fmt.Errorf("syslog: %w", err)
	}
	if opts.Burst <= 0 {
		opts.Burst = max(1, int(opts.Rate))
	}
	if opts.MaxSenders <= 0 {
		opts.MaxSenders = DefaultMaxSenders
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	opts.MaxMessageBytes = min(opts.MaxMessageBytes, maxDatagram)
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = source.DefaultMaxLineBytes
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LogInterval <= 0 {
		opts.LogInterval = DefaultLogInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	l := &Listener{
		opts:    opts,
		log:     opts.Logger,
		filter:  filter,
		limit:   newLimiter(opts.Rate, opts.Burst, opts.MaxSenders),
		queue:   make(chan Message, queueMessages),
		conns:   map[*net.TCPConn]struct{}{},
		warned:  map[string]time.Time{},
		pending: map[string]uint64{},
	}
	if opts.UDP != "" {
		addr, err := net.ResolveUDPAddr("udp", opts.UDP)
		if err != nil {
			return nil, fmt.Errorf("syslog: UDP address %q: %w", opts.UDP, err)
		}
		if l.udp, err = net.ListenUDP("udp", addr); err != nil {
			return nil, fmt.Errorf("syslog: %w", err)
		}
	}
	if opts.TCP != "" {
		addr, err := net.ResolveTCPAddr("tcp", opts.TCP)
		if err == nil {
			l.tcp, err = net.ListenTCP("tcp", addr)
		}
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("syslog: TCP address %q: %w", opts.TCP, err)
		}
	}
	return l, nil
}

// UDPAddr is the bound UDP address, or nil.
func (l *Listener) UDPAddr() net.Addr {
	if l.udp == nil {
		return nil
	}
	return l.udp.LocalAddr()
}

// TCPAddr is the bound TCP address, or nil.
func (l *Listener) TCPAddr() net.Addr {
	if l.tcp == nil {
		return nil
	}
	return l.tcp.Addr()
}

// Stats returns the counts so far.
func (l *Listener) Stats() Stats {
	return Stats{
		Received:    l.received.Load(),
		RateLimited: l.rateLimited.Load(),
		Filtered:    l.filtered.Load(),
		Raw:         l.raw.Load(),
		Truncated:   l.truncated.Load(),
		Refused:     l.refused.Load(),
	}
}

// Close closes the sockets and connections. Run closes them when it
// returns; Close is for a Listener that is not run.
func (l *Listener) Close() error {
	var errs []error
	if l.udp != nil {
		errs = append(errs, l.udp.Close())
	}
	if l.tcp != nil {
		errs = append(errs, l.tcp.Close())
	}
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	return ignoreClosed(errors.Join(errs...))
}

// ignoreClosed drops the error of closing what was closed already.
func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Run receives messages and sends them to out in batches until ctx is
// done, then closes the sockets and returns nil. A send blocks until out
// accepts the batch; meanwhile TCP senders wait and UDP datagrams queue
// in the kernel (which drops them when its buffer is full). Messages
// received but not yet sent when ctx is done are lost. Run is called once.
func (l *Listener) Run(ctx context.Context, out chan<- Batch) error {
	if out == nil {
		return errors.New("syslog: nil channel")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if l.udp != nil {
		wg.Go(func() { l.serveUDP(ctx) })
	}
	if l.tcp != nil {
		wg.Go(func() { l.serveTCP(ctx, &wg) })
	}
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	defer wg.Wait()
	for {
		var m Message
		select {
		case <-ctx.Done():
			return nil
		case m = <-l.queue:
		}
		batch := []Message{m}
	drain:
		for len(batch) < maxBatchMessages {
			select {
			case m = <-l.queue:
				batch = append(batch, m)
			default:
				break drain
			}
		}
		select {
		case out <- Batch{Messages: batch}:
		case <-ctx.Done():
			return nil
		}
	}
}

// serveUDP reads datagrams until the socket is closed.
func (l *Listener) serveUDP(ctx context.Context) {
	p := newParser(l.opts.Location, l.opts.Now, l.opts.MaxLineBytes)
	buf := make([]byte, maxDatagram)
	for {
		n, addr, err := l.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			l.warn("udp", "syslog: reading UDP", "err", err)
			continue
		}
		msg := buf[:n]
		if n > l.opts.MaxMessageBytes {
			msg = msg[:l.opts.MaxMessageBytes]
			l.truncated.Add(1)
		}
		l.handle(ctx, p, msg, addr.Addr())
	}
}

// serveTCP accepts connections until the listener is closed.
func (l *Listener) serveTCP(ctx context.Context, wg *sync.WaitGroup) {
	for {
		c, err := l.tcp.AcceptTCP()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			l.warn("accept", "syslog: accepting a TCP connection", "err", err)
			select { // e.g. out of file descriptors: let some close
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		if !l.track(c) {
			l.refused.Add(1)
			l.warn("refused", "syslog: too many TCP connections; closing new ones", "max", l.opts.MaxConns)
			c.Close()
			continue
		}
		wg.Go(func() {
			defer l.untrack(c)
			l.serveConn(ctx, c)
		})
	}
}

// track records an open connection, unless MaxConns are open (or the
// listener is closing).
func (l *Listener) track(c *net.TCPConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) >= l.opts.MaxConns {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *Listener) untrack(c *net.TCPConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	c.Close()
}

// serveConn reads the messages of one TCP connection until it ends.
func (l *Listener) serveConn(ctx context.Context, c *net.TCPConn) {
	if ctx.Err() != nil { // Close may have run before track
		return
	}
	var sender netip.AddrPort
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		sender = a.AddrPort()
	}
	p := newParser(l.opts.Location, l.opts.Now, l.opts.MaxLineBytes)
	f := newFramer(c, l.opts.MaxMessageBytes)
	for {
		msg, err := f.next()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				l.log.Debug("syslog: TCP connection ended", "sender", sender, "err", err)
			}
			return
		}
		if f.truncated {
			l.truncated.Add(1)
		}
		l.handle(ctx, p, msg, sender.Addr())
		if ctx.Err() != nil {
			return
		}
	}
}

// handle rate-limits, parses, filters and queues one message.
func (l *Listener) handle(ctx context.Context, p *parser, b []byte, sender netip.Addr) {
	if len(bytes.TrimSpace(bytes.Trim(b, "\x00"))) == 0 {
		return // an empty datagram or frame: nothing to read
	}
	l.received.Add(1)
	sender = sender.Unmap()
	if !l.limit.allow(sender, l.opts.Now()) {
		l.warn("rate", "syslog: messages over the rate limit dropped", "sender", sender, "rate", l.opts.Rate)
		l.rateLimited.Add(1)
		return
	}
	m := p.parse(b, sender)
	if m.Format == Raw {
		l.raw.Add(1)
	}
	if !l.filter.Match(&m) {
		l.filtered.Add(1)
		return
	}
	select {
	case l.queue <- m:
	case <-ctx.Done():
	}
}

// warn logs a warning of one kind at most once per LogInterval, with the
// count of events since the last one.
func (l *Listener) warn(kind, msg string, args ...any) {
	now := l.opts.Now()
	l.mu.Lock()
	l.pending[kind]++
	last, seen := l.warned[kind]
	if seen && now.Sub(last) < l.opts.LogInterval {
		l.mu.Unlock()
		return
	}
	n := l.pending[kind]
	l.pending[kind] = 0
	l.warned[kind] = now
	l.mu.Unlock()
	l.log.Warn(msg, append(args, "count", n)...)
}
