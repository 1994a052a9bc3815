package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/control"
	"github.com/gaol-project/gaol/internal/engine"
	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/store"
	"github.com/gaol-project/gaol/internal/store/sqlite"
	"github.com/gaol-project/gaol/internal/testutil"
)

// fakeFirewall records what the daemon asks of a firewall.
type fakeFirewall struct {
	mu    sync.Mutex
	jails []string
	// lengths are the jails' ban prefix lengths; as nft's, Setup drops
	// the bans of a jail whose lengths changed.
	lengths map[string][2]int
	sets    map[string]map[netip.Prefix]time.Duration
	calls   []string
	failBan int // fail this many Ban calls
}

func newFakeFirewall() *fakeFirewall {
	return &fakeFirewall{sets: map[string]map[netip.Prefix]time.Duration{}, lengths: map[string][2]int{}}
}

func (f *fakeFirewall) Setup(jails []firewall.Jail) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jails = nil
	keep := map[string]bool{}
	for _, j := range jails {
		f.jails = append(f.jails, j.Name)
		keep[j.Name] = true
		lengths := [2]int{j.BanPrefix4, j.BanPrefix6}
		if old, ok := f.lengths[j.Name]; f.sets[j.Name] == nil || ok && old != lengths {
			f.sets[j.Name] = map[netip.Prefix]time.Duration{}
		}
		f.lengths[j.Name] = lengths
	}
	for j := range f.sets {
		if !keep[j] {
			delete(f.sets, j)
			delete(f.lengths, j)
		}
	}
	f.calls = append(f.calls, "setup "+strings.Join(f.jails, ","))
	return nil
}

func (f *fakeFirewall) Ban(jail string, elems []firewall.Element) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("ban %s %d", jail, len(elems)))
	if f.failBan > 0 {
		f.failBan--
		return errors.New("netlink: no buffer space")
	}
	for _, e := range elems {
		f.sets[jail][e.Prefix] = e.Timeout
	}
	return nil
}

func (f *fakeFirewall) Unban(jail string, ps []netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("unban %s %d", jail, len(ps)))
	for _, p := range ps {
		delete(f.sets[jail], p)
	}
	return nil
}

func (f *fakeFirewall) Replace(jail string, elems []firewall.Element) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("replace %s %d", jail, len(elems)))
	f.sets[jail] = map[netip.Prefix]time.Duration{}
	for _, e := range elems {
		f.sets[jail][e.Prefix] = e.Timeout
	}
	return nil
}

func (f *fakeFirewall) set(jail string) map[netip.Prefix]time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[netip.Prefix]time.Duration{}
	for k, v := range f.sets[jail] {
		out[k] = v
	}
	return out
}

// env is a daemon running on a temporary config, log and database.
type env struct {
	fromStart    bool
	runActions   bool
	journalDir   string
	syslogListen string
	resolver     *fakeResolver
	t            *testing.T
	dir          string
	etc          string
	db           *sqlite.Store
	store        Store        // what the daemon uses; nil: db
	logger       *slog.Logger // nil: discard
	fw           *fakeFirewall
	d            *Daemon
	clock        *testutil.Clock
	stop         func()
}

func newEnv(t *testing.T, jailLocal string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, etc: filepath.Join(dir, "etc"), fw: newFakeFirewall(), clock: testutil.NewClock(time.Now().Truncate(time.Second)),
		resolver: &fakeResolver{names: map[string][]netip.Addr{}}}
	os.MkdirAll(filepath.Join(e.etc, "jail.d"), 0o755)
	// Log files that do not exist yet are waited for, not replaced by the
	// journal.
	if err := os.WriteFile(filepath.Join(e.etc, "jail.d", "00-test.conf"), []byte("[DEFAULT]\nbackend = polling\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.writeConfig(jailLocal)
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "gaol.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	return e
}

func (e *env) writeConfig(jailLocal string) {
	e.t.Helper()
	jailLocal = strings.ReplaceAll(jailLocal, "DIR", e.dir)
	if err := os.WriteFile(filepath.Join(e.etc, "jail.local"), []byte(jailLocal), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) start() {
	e.t.Helper()
	ready := make(chan struct{})
	var st Store = e.db
	if e.store != nil {
		st = e.store
	}
	logger := e.logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d, err := New(Options{
		ConfigDir:    e.etc,
		Store:        st,
		Firewall:     e.fw,
		Logger:       logger,
		Now:          e.clock.Now,
		LocalAddrs:   func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("192.0.2.99")}, nil },
		Resolver:     e.resolver,
		JournalDir:   e.journalDir,
		RunActions:   e.runActions,
		FromStart:    e.fromStart,
		SyslogListen: e.syslogListen,
		Utmp:         filepath.Join(e.dir, "utmp"),
		Ready:        func() { close(ready) },
	})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		e.t.Fatalf("daemon stopped: %v", err)
	}
	e.d = d
	stopped := false
	e.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("daemon: %v", err)
		}
	}
	e.t.Cleanup(e.stop)
}

func (e *env) appendLines(name string, lines ...string) {
	e.t.Helper()
	f, err := os.OpenFile(filepath.Join(e.dir, name), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(strings.Join(lines, "\n") + "\n")
}

func (e *env) jail(name string) control.JailStatus {
	e.t.Helper()
	js, err := e.d.JailStatus(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return js
}

// waitJail waits until cond holds for a jail's status, and then until the
// store has recorded what the status shows.
func (e *env) waitJail(name string, cond func(control.JailStatus) bool) control.JailStatus {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		js := e.jail(name)
		if cond(js) {
			if err := e.d.syncStore(context.Background()); err != nil {
				e.t.Fatal(err)
			}
			return js
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("jail %s: condition not reached: %+v", name, js)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fakeResolver resolves host names from a table and counts lookups.
type fakeResolver struct {
	mu    sync.Mutex
	names map[string][]netip.Addr
	calls map[string]int
}

func (r *fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	r.calls[host]++
	var out []netip.Addr
	for _, a := range r.names[host] {
		if network == "ip" || network == "ip4" && a.Is4() || network == "ip6" && a.Is6() {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lookup %s: no such host", host)
	}
	return out, nil
}

// lookups returns how many times host was looked up.
func (r *fakeResolver) lookups(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

func (r *fakeResolver) set(host string, addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names[host] = nil
	for _, a := range addrs {
		r.names[host] = append(r.names[host], netip.MustParseAddr(a))
	}
}

func failLine(t time.Time, addr string) string {
	return fmt.Sprintf("%s web1 sshd[77]: Failed password for root from %s port 50000 ssh2", t.Format(time.Stamp), addr)
}

const twoJails = `
[DEFAULT]
bantime = 1h
maxretry = 2

[sshd]
enabled = true
logpath = DIR/auth.log

[other]
enabled = true
filter = sshd
logpath = DIR/auth.log
maxretry = 3
`

func TestBanFlow(t *testing.T) {
	e := newEnv(t, twoJails)
	e.appendLines("auth.log", "old line")
	e.start()
	now := e.clock.Now()
	e.appendLines("auth.log",
		failLine(now, "198.51.100.1"), failLine(now, "198.51.100.1"),
		failLine(now, "2001:db8::7"),
		failLine(now, "192.0.2.99"), failLine(now, "192.0.2.99"), failLine(now, "192.0.2.99"), // ignoreself
	)
	js := e.waitJail("sshd", func(js control.JailStatus) bool { return js.TotalFailed == 3 && js.CurrentlyBanned == 1 })
	if js.CurrentlyFailed != 1 || !slices.Equal(js.Banned, []string{"198.51.100.1"}) || js.Files[0] != filepath.Join(e.dir, "auth.log") {
		t.Fatalf("sshd status %+v", js)
	}
	// The same file feeds the other jail, which has its own maxretry.
	other := e.waitJail("other", func(js control.JailStatus) bool { return js.TotalFailed == 3 })
	if other.CurrentlyBanned != 0 {
		t.Fatalf("other jail banned below its maxretry: %+v", other)
	}
	if got := e.fw.set("sshd"); got[netip.MustParsePrefix("198.51.100.1/32")] != time.Hour {
		t.Fatalf("firewall set %v", got)
	}
	active, err := e.db.ActiveBans(context.Background(), now)
	if err != nil || len(active) != 1 {
		t.Fatalf("store: %v %v", active, err)
	}
	if b := active[0]; b.Jail != "sshd" || b.Failures != 2 || len(b.Matches) != 2 || !strings.Contains(b.Matches[0], "198.51.100.1") || !b.End.Equal(now.Add(time.Hour)) {
		t.Fatalf("stored ban %+v", b)
	}

	// Manual ban and unban through the API.
	ctx := context.Background()
	if _, err := e.d.Ban(ctx, control.BanRequest{Jail: "other", Targets: []string{"203.0.113.0/24", "::ffff:192.0.2.5"}}); err != nil {
		t.Fatal(err)
	}
	if got := e.fw.set("other"); len(got) != 2 || got[netip.MustParsePrefix("192.0.2.5/32")] == 0 {
		t.Fatalf("other set %v", got)
	}
	if _, err := e.d.Ban(ctx, control.BanRequest{Jail: "other", Targets: []string{"192.0.2.300"}}); !errors.Is(err, control.ErrInvalid) {
		t.Fatalf("invalid address: %v", err)
	}
	if _, err := e.d.Ban(ctx, control.BanRequest{Jail: "nope", Targets: []string{"192.0.2.3"}}); !errors.Is(err, control.ErrNotFound) {
		t.Fatalf("unknown jail: %v", err)
	}
	if _, err := e.d.Ban(ctx, control.BanRequest{Jail: "sshd", Targets: []string{"192.0.2.99"}}); !errors.Is(err, control.ErrRefused) {
		t.Fatalf("own address: %v", err)
	}
	res, err := e.d.Unban(ctx, control.UnbanRequest{Targets: []string{"203.0.113.9", "198.51.100.77"}})
	if err != nil || len(res.Bans) != 1 || res.Bans[0].Prefix != "203.0.113.0/24" || !slices.Equal(res.NotBanned, []string{"198.51.100.77"}) {
		t.Fatalf("unban %+v %v", res, err)
	}
	if got := e.fw.set("other"); len(got) != 1 {
		t.Fatalf("after unban %v", got)
	}
	b, err := e.d.Banned(ctx, "203.0.113.9")
	if err != nil || len(b.Active) != 0 || len(b.History) != 1 || b.History[0].EndReason != "unbanned" {
		t.Fatalf("banned 203.0.113.9: %+v %v", b, err)
	}
	res, err = e.d.Unban(ctx, control.UnbanRequest{All: true})
	if err != nil || len(res.Bans) != 2 {
		t.Fatalf("unban all %+v %v", res, err)
	}
	if len(e.fw.set("sshd"))+len(e.fw.set("other")) != 0 {
		t.Fatal("firewall not emptied")
	}
}

func TestRestoreAtStart(t *testing.T) {
	e := newEnv(t, twoJails)
	now := e.clock.Now()
	ctx := context.Background()
	_, err := e.db.AddBans(ctx, []store.Ban{
		{Jail: "sshd", Prefix: netip.MustParsePrefix("198.51.100.1/32"), Start: now.Add(-time.Minute), End: now.Add(time.Hour)},
		{Jail: "sshd", Prefix: netip.MustParsePrefix("2001:db8::/64"), Start: now.Add(-time.Minute)}, // permanent
		{Jail: "sshd", Prefix: netip.MustParsePrefix("198.51.100.2/32"), Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour)},
		{Jail: "gone", Prefix: netip.MustParsePrefix("198.51.100.3/32"), Start: now, End: now.Add(time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.start()
	got := e.fw.set("sshd")
	want := map[netip.Prefix]time.Duration{
		netip.MustParsePrefix("198.51.100.1/32"): time.Hour,
		netip.MustParsePrefix("2001:db8::/64"):   0,
	}
	if len(got) != len(want) || got[netip.MustParsePrefix("198.51.100.1/32")] != time.Hour || got[netip.MustParsePrefix("2001:db8::/64")] != 0 {
		t.Fatalf("restored set %v, want %v", got, want)
	}
	if js := e.jail("sshd"); js.CurrentlyBanned != 2 || js.TotalBanned != 2 {
		t.Fatalf("status %+v", js)
	}
	// The expired ban is recorded as such; the other jail's ban is kept.
	h, _ := e.db.History(ctx, netip.MustParseAddr("198.51.100.2"))
	if len(h) != 1 || h[0].EndReason != "expired" {
		t.Fatalf("expired ban %+v", h)
	}
	active, _ := e.db.ActiveBans(ctx, now)
	if len(active) != 3 {
		t.Fatalf("active bans in store: %+v", active)
	}
}

func TestReloadKeepsState(t *testing.T) {
	e := newEnv(t, twoJails)
	e.start()
	now := e.clock.Now()
	e.appendLines("auth.log", failLine(now, "198.51.100.1"), failLine(now, "198.51.100.1"), failLine(now, "198.51.100.2"))
	e.waitJail("other", func(js control.JailStatus) bool { return js.TotalFailed == 3 })
	ctx := context.Background()
	if _, err := e.d.Ban(ctx, control.BanRequest{Jail: "other", Targets: []string{"203.0.113.4"}}); err != nil {
		t.Fatal(err)
	}

	// A broken configuration is refused and the running one kept.
	e.writeConfig("[sshd]\nenabled = true\nmaxretry = many\n")
	if _, err := e.d.Reload(ctx, control.ReloadRequest{}); !errors.Is(err, control.ErrInvalid) || !strings.Contains(err.Error(), "jail.local:3") {
		t.Fatalf("broken reload: %v", err)
	}
	if js := e.jail("sshd"); js.CurrentlyBanned != 1 {
		t.Fatalf("state after refused reload: %+v", js)
	}

	// Drop "other", add "third", change sshd's maxretry.
	e.writeConfig(`
[DEFAULT]
bantime = 1h

[sshd]
enabled = true
logpath = DIR/auth.log
maxretry = 2

[third]
enabled = true
filter = sshd
logpath = DIR/third.log
maxretry = 2
`)
	res, err := e.d.Reload(ctx, control.ReloadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Jails, []string{"sshd", "third"}) || !slices.Equal(res.Added, []string{"third"}) || !slices.Equal(res.Removed, []string{"other"}) {
		t.Fatalf("reload result %+v", res)
	}
	js := e.jail("sshd")
	if js.CurrentlyBanned != 1 || js.TotalFailed != 3 || js.CurrentlyFailed != 1 {
		t.Fatalf("sshd lost state in reload: %+v", js)
	}
	h, _ := e.db.History(ctx, netip.MustParseAddr("203.0.113.4"))
	if len(h) != 1 || h[0].EndReason != "jail removed" {
		t.Fatalf("ban of the removed jail: %+v", h)
	}
	// The file is still followed from where it was.
	e.appendLines("auth.log", failLine(now, "198.51.100.2"))
	e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == 2 })
	e.appendLines("third.log", failLine(now, "198.51.100.9"), failLine(now, "198.51.100.9"))
	e.waitJail("third", func(js control.JailStatus) bool { return js.CurrentlyBanned == 1 })
	if _, err := e.d.JailStatus(ctx, "other"); !errors.Is(err, control.ErrNotFound) || !strings.Contains(err.Error(), "sshd, third") {
		t.Fatalf("removed jail: %v", err)
	}
}

func TestFirewallFailureResynchronises(t *testing.T) {
	e := newEnv(t, twoJails)
	e.fw.failBan = 1
	e.start()
	now := e.clock.Now()
	e.appendLines("auth.log", failLine(now, "198.51.100.1"), failLine(now, "198.51.100.1"))
	// The ban is recorded although the firewall failed, and the next tick
	// replaces the sets whole.
	e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == 1 })
	deadline := time.Now().Add(10 * time.Second)
	for len(e.fw.set("sshd")) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("firewall not resynchronised: %v", e.fw.calls)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStaleLinesNotCounted(t *testing.T) {
	e := newEnv(t, twoJails)
	e.start()
	old := e.clock.Now().Add(-time.Hour)
	e.appendLines("auth.log", failLine(old, "198.51.100.1"), failLine(old, "198.51.100.1"), failLine(e.clock.Now(), "198.51.100.3"))
	js := e.waitJail("sshd", func(js control.JailStatus) bool { return js.TotalFailed == 1 })
	if js.CurrentlyBanned != 0 {
		t.Fatalf("lines older than findtime banned: %+v", js)
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "192.0.2.1", want: "192.0.2.1/32"},
		{in: " 2001:db8::1 ", want: "2001:db8::1/128"},
		{in: "::ffff:192.0.2.1", want: "192.0.2.1/32"},
		{in: "198.51.100.77/24", want: "198.51.100.0/24"},
		{in: "::ffff:198.51.100.0/120", want: "198.51.100.0/24"},
		{in: "2001:db8::1/64", want: "2001:db8::/64"},
		{in: "::ffff:0:0/90", bad: true},
		{in: "fe80::1%eth0", bad: true},
		{in: "192.0.2.256", bad: true},
		{in: "example.com", bad: true},
		{in: "", bad: true},
	}
	for _, tt := range tests {
		p, err := ParseTarget(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && p.String() != tt.want) {
			t.Errorf("ParseTarget(%q) = %v, %v", tt.in, p, err)
		}
	}
}

// TestEventsEnforcedInBatches queues several events while the loop is busy:
// one handleEvents takes them all, and the firewall gets each event's bans
// in a batch of its own, in order, on the enforcing goroutine. A batch the
// firewall refuses still reaches the store and makes the loop resynchronise
// the firewall; the others are enforced as they come.
func TestEventsEnforcedInBatches(t *testing.T) {
	e := newEnv(t, twoJails)
	e.start()
	ctx := context.Background()
	now := e.clock.Now()
	e.fw.mu.Lock()
	e.fw.failBan = 1 // the first batch
	e.fw.calls = nil
	e.fw.mu.Unlock()

	// Hold the loop while the events queue up.
	entered, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- e.d.do(ctx, func() error {
			close(entered)
			<-release
			return nil
		})
	}()
	<-entered
	const events = 3
	for k := range events {
		var fs []jailFailure
		for a := range 2 {
			addr := netip.AddrFrom4([4]byte{198, 51, 100, byte(10*k + a + 1)})
			f := engine.Failure{Addr: addr, Time: now, Line: failLine(now, addr.String())}
			fs = append(fs, jailFailure{jail: "sshd", failure: f}, jailFailure{jail: "sshd", failure: f})
		}
		e.d.events <- event{path: "test", failures: [][]jailFailure{fs}}
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}

	e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == 2*events })
	e.fw.mu.Lock()
	calls := slices.Clone(e.fw.calls)
	e.fw.mu.Unlock()
	var bans []string
	for _, c := range calls {
		if strings.HasPrefix(c, "ban ") {
			bans = append(bans, c)
		}
	}
	if want := []string{"ban sshd 2", "ban sshd 2", "ban sshd 2"}; !slices.Equal(bans[:min(len(bans), events)], want) {
		t.Fatalf("firewall calls %q: want the events' bans in %d batches first", calls, events)
	}
	// The refused batch comes back with the resynchronisation, and every
	// ban is recorded.
	deadline := time.Now().Add(10 * time.Second)
	for len(e.fw.set("sshd")) != 2*events {
		if time.Now().After(deadline) {
			t.Fatalf("firewall not resynchronised: %v", e.fw.set("sshd"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := e.d.do(ctx, func() error { return e.d.syncStore(ctx) }); err != nil {
		t.Fatal(err)
	}
	active, err := e.db.ActiveBans(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 2*events {
		t.Errorf("store holds %d active bans, want %d", len(active), 2*events)
	}
}
