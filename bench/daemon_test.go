package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/gaol-project/gaol/internal/netnstest"
)

// jailSpec is the one jail both daemons run: fail2ban's sshd jail reading
// logPath, with the given maxretry, findtime 10m and bantime 1h.
type jailSpec struct {
	logPath  string
	maxretry int
}

// daemon is a running intrusion-prevention daemon (gaol or fail2ban) in
// its own network namespace, with its sshd jail's IPv6 bans in a kernel
// set that set counts.
type daemon interface {
	// name is the daemon's name in metric units: "gaol" or "fail2ban".
	name() string
	// set counts the elements of the jail's IPv6 set in the kernel.
	set() *setCounter
	// failures returns how many failure lines the daemon has counted so
	// far. It must be cheap: it is polled.
	failures() (int, error)
	// awaitBanned waits until n addresses are in the kernel set and
	// returns when that was observed, without loading the daemon or the
	// kernel with set dumps while it works (see setCounter.count).
	awaitBanned(start time.Time, n int) (time.Time, error)
	// pollEvery is the interval at which the latency benchmark dumps the
	// (small) kernel set while waiting for one ban.
	pollEvery() time.Duration
	// timeout bounds each wait of the benchmarks.
	timeout(bans int) time.Duration
	// rssKB returns the daemon's resident set size.
	rssKB() int
	// logs returns the daemon's log, for diagnostics.
	logs() string
	// summary says in a line what the daemon's log tells of a run.
	summary() string
	// stop ends the daemon and waits for it; it may be called again.
	stop()
}

// setCounter counts a set's elements in a namespace through netlink.
type setCounter struct {
	conn  *nftables.Conn
	table *nftables.Table
	name  string
}

func newSetCounter(b *testing.B, ns *netnstest.NS, table, set string) *setCounter {
	b.Helper()
	f, err := os.Open(ns.Path())
	if err != nil {
		b.Fatalf("opening network namespace: %v", err)
	}
	b.Cleanup(func() { f.Close() })
	conn, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		b.Fatalf("connecting to nftables in %s: %v", ns.Name(), err)
	}
	return &setCounter{conn: conn, table: &nftables.Table{Name: table, Family: nftables.TableFamilyINet}, name: set}
}

// count returns the number of banned addresses or prefixes in the set
// (interval ends are not counted); 0 while the set does not exist.
//
// Dumping a set of 10,000 elements costs the kernel about 0.1 s, which
// slows a daemon down if done in a tight loop: poll large sets sparingly.
func (s *setCounter) count() int {
	st, err := s.conn.GetSetByName(s.table, s.name)
	if err != nil {
		return 0
	}
	els, err := s.conn.GetSetElements(st)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range els {
		if !e.IntervalEnd {
			n++
		}
	}
	return n
}

// String names the set as nft(8) does.
func (s *setCounter) String() string {
	return fmt.Sprintf("inet %s %s", s.table.Name, s.name)
}

// lineFollower reads the lines appended to a file since its last call.
type lineFollower struct {
	f       *os.File
	partial []byte
}

func openFollower(path string) (*lineFollower, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening %q: %w", path, err)
	}
	return &lineFollower{f: f}, nil
}

// next calls fn for every complete line appended since the last call.
func (l *lineFollower) next(fn func(line []byte)) error {
	data, err := io.ReadAll(l.f)
	if err != nil {
		return fmt.Errorf("reading %q: %w", l.f.Name(), err)
	}
	data = append(l.partial, data...)
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		l.partial = data
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data[:end+1]))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fn(sc.Bytes())
	}
	l.partial = append([]byte(nil), data[end+1:]...)
	return sc.Err()
}

func (l *lineFollower) close() { l.f.Close() }

// rssKB returns the VmRSS of process pid in KiB, 0 if it cannot be read.
func rssKB(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

// pollUntil calls cond every interval until it returns true or timeout
// passes since start.
func pollUntil(start time.Time, timeout, interval time.Duration, cond func() bool) bool {
	for !cond() {
		if time.Since(start) > timeout {
			return false
		}
		time.Sleep(interval)
	}
	return true
}
