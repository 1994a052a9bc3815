package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/control"
	"github.com/gaol-project/gaol/internal/engine"
	"github.com/gaol-project/gaol/internal/store"
)

// gatedStore is a store that records the writes it is asked for and, while
// gated, holds AddBans until it is released.
type gatedStore struct {
	Store
	mu      sync.Mutex
	calls   []string
	gate    chan struct{} // nil: not gated
	entered chan struct{} // receives when a gated AddBans waits
}

func newGatedStore(s Store) *gatedStore {
	return &gatedStore{Store: s, entered: make(chan struct{}, 16)}
}

func (g *gatedStore) record(call string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, call)
}

func (g *gatedStore) log() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.calls)
}

// hold makes the next AddBans calls wait until release.
func (g *gatedStore) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
}

func (g *gatedStore) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.gate)
	g.gate = nil
}

func (g *gatedStore) AddBans(ctx context.Context, bans []store.Ban) ([]int64, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		g.entered <- struct{}{}
		<-gate
	}
	var ps []string
	for _, b := range bans {
		ps = append(ps, prefixString(b.Prefix))
	}
	g.record("add " + strings.Join(ps, ","))
	return g.Store.AddBans(ctx, bans)
}

func (g *gatedStore) EndBans(ctx context.Context, ends []store.End) (int, error) {
	g.record(fmt.Sprintf("end %d", len(ends)))
	return g.Store.EndBans(ctx, ends)
}

func (g *gatedStore) SaveOffsets(ctx context.Context, offs []store.Offset) error {
	g.record("offsets")
	return g.Store.SaveOffsets(ctx, offs)
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestBanEnforcedThenRecorded: a ban found in the logs is in the firewall
// (and in the status) before the store has it; it is logged only once the
// store has it; the read position after its lines is saved after it; and
// whoever reads the store waits for it.
func TestBanEnforcedThenRecorded(t *testing.T) {
	e := newEnv(t, twoJails)
	gs := newGatedStore(e.db)
	var logs syncBuffer
	e.store = gs
	e.logger = slog.New(slog.NewTextHandler(&logs, nil))
	e.start()
	now := e.clock.Now()
	gs.hold()
	e.appendLines("auth.log", failLine(now, "198.51.100.1"), failLine(now, "198.51.100.1"))
	<-gs.entered
	// Enforced and reported while the store is held up.
	if js := e.jail("sshd"); js.CurrentlyBanned != 1 {
		t.Fatalf("status while the store is held up: %+v", js)
	}
	if got := e.fw.set("sshd"); len(got) != 1 {
		t.Fatalf("firewall while the store is held up: %v", got)
	}
	if strings.Contains(logs.String(), "msg=ban") {
		t.Fatalf("ban logged before it was recorded:\n%s", logs.String())
	}
	// Reading the store waits for the write; a reload saves the read
	// position, after the ban.
	banned := make(chan control.Banned, 1)
	go func() {
		b, err := e.d.Banned(context.Background(), "198.51.100.1")
		if err != nil {
			t.Error(err)
		}
		banned <- b
	}()
	reloaded := make(chan error, 1)
	go func() {
		_, err := e.d.Reload(context.Background(), control.ReloadRequest{})
		reloaded <- err
	}()
	gs.release()
	if b := <-banned; len(b.History) != 1 {
		t.Fatalf("history read while the ban was being recorded: %+v", b)
	}
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "msg=ban jail=sshd prefix=198.51.100.1") {
		t.Fatalf("ban not logged:\n%s", logs.String())
	}
	calls := gs.log()
	add, off := slices.Index(calls, "add 198.51.100.1"), slices.Index(calls, "offsets")
	if add < 0 || off < add {
		t.Fatalf("store calls %q: want the ban recorded before the read position", calls)
	}
}

// recorderDaemon returns a daemon that records in a gated store, with a
// recorder that holds bans for quiet (maxWait at most), and a function
// that makes a ban of an address in jail sshd.
func recorderDaemon(t *testing.T, quiet, maxWait time.Duration) (*env, *gatedStore, *Daemon, func(addr string) engine.Decision) {
	t.Helper()
	e := newEnv(t, twoJails)
	gs := newGatedStore(e.db)
	d, err := New(Options{Store: gs, Logger: slog.New(slog.DiscardHandler), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	d.rec = startRecorder(d, quiet, maxWait)
	t.Cleanup(d.rec.close)
	now := e.clock.Now()
	ban := func(addr string) engine.Decision {
		return engine.Decision{Action: engine.Ban, Jail: "sshd", Prefix: netip.MustParsePrefix(addr + "/32"), Start: now, End: now.Add(time.Hour)}
	}
	return e, gs, d, ban
}

// TestRecorderMergesBans: bans queued while the store is busy are recorded
// together, in order; an unban is not merged with them, and a barrier
// waits for everything before it.
func TestRecorderMergesBans(t *testing.T) {
	e, gs, d, ban := recorderDaemon(t, recordQuiet, recordMaxWait)
	now := e.clock.Now()
	gs.hold()
	d.rec.enqueue(recorderJob{decisions: []engine.Decision{ban("192.0.2.1")}})
	<-gs.entered
	d.rec.enqueue(recorderJob{decisions: []engine.Decision{ban("192.0.2.2")}})
	d.rec.enqueue(recorderJob{decisions: []engine.Decision{ban("192.0.2.3")}, offsets: []store.Offset{{Path: "/var/log/auth.log", Offset: 7}}})
	d.rec.enqueue(recorderJob{decisions: []engine.Decision{{Action: engine.Unban, Jail: "sshd", Prefix: netip.MustParsePrefix("192.0.2.2/32"), Reason: "unbanned"}}})
	d.rec.enqueue(recorderJob{decisions: []engine.Decision{ban("192.0.2.4")}})
	gs.release()
	if err := d.rec.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"add 192.0.2.1", "add 192.0.2.2,192.0.2.3", "offsets", "end 1", "add 192.0.2.4"}
	if got := gs.log(); !slices.Equal(got, want) {
		t.Fatalf("store calls %q, want %q", got, want)
	}
	active, err := e.db.ActiveBans(context.Background(), now)
	if err != nil || len(active) != 3 {
		t.Fatalf("active bans %+v, %v", active, err)
	}
}

// TestRecorderHoldsBans checks that the recorder holds bans while more
// come (here, as long as the test needs: the pause it waits for is an
// hour) and records them in one transaction when something else comes: a
// barrier (whoever reads the store) or a job that is not only bans.
func TestRecorderHoldsBans(t *testing.T) {
	e, gs, d, ban := recorderDaemon(t, time.Hour, time.Hour)
	d.rec.enqueue(recorderJob{decisions: []engine.Decision{ban("192.0.2.1")}})
	d.rec.enqueue(recorderJob{decisions: []engine.Decision{ban("192.0.2.2")}, offsets: []store.Offset{{Path: "/var/log/auth.log", Offset: 7}}})
	d.rec.enqueue(recorderJob{offsets: []store.Offset{{Path: "/var/log/auth.log", Offset: 9}}})
	d.rec.enqueue(recorderJob{decisions: []engine.Decision{ban("192.0.2.3")}})
	if err := d.rec.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.rec.enqueue(recorderJob{decisions: []engine.Decision{ban("192.0.2.4")}})
	d.rec.enqueue(recorderJob{decisions: []engine.Decision{{Action: engine.Unban, Jail: "sshd", Prefix: netip.MustParsePrefix("192.0.2.1/32"), Reason: "unbanned"}}})
	if err := d.rec.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"add 192.0.2.1,192.0.2.2,192.0.2.3", "offsets", "add 192.0.2.4", "end 1"}
	if got := gs.log(); !slices.Equal(got, want) {
		t.Fatalf("store calls %q, want %q", got, want)
	}
	off, ok, err := e.db.Offset(context.Background(), "/var/log/auth.log")
	if err != nil || !ok || off.Offset != 9 {
		t.Fatalf("offset %+v, %v, %v: want the last, 9", off, ok, err)
	}
}
