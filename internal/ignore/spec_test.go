package ignore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeResolver answers from a table and counts lookups.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	fail    map[string]error
	calls   map[string]int
}

func newFakeResolver() *fakeResolver {
	return &fakeResolver{answers: map[string][]netip.Addr{}, fail: map[string]error{}, calls: map[string]int{}}
}

func (r *fakeResolver) set(host string, addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	r.answers[host] = as
	delete(r.fail, host)
}

func (r *fakeResolver) setErr(host string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail[host] = err
}

func (r *fakeResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

func (r *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if network != "ip" {
		return nil, fmt.Errorf("network %q", network)
	}
	r.calls[host]++
	if err := r.fail[host]; err != nil {
		return nil, err
	}
	if as, ok := r.answers[host]; ok {
		return slices.Clone(as), nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func mustParse(t *testing.T, s string) *Spec {
	t.Helper()
	spec, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func strs[T fmt.Stringer](xs []T) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, x.String())
	}
	return out
}

func wantPrefixes(t *testing.T, snap Snapshot, want ...string) {
	t.Helper()
	if got := strs(snap.Prefixes()); !slices.Equal(got, append([]string{}, want...)) {
		t.Errorf("prefixes %v, want %v", got, want)
	}
}

func wantErrs(t *testing.T, errs []error, want ...string) {
	t.Helper()
	if len(errs) != len(want) {
		t.Errorf("errors %v, want %d (%q)", errs, len(want), want)
		return
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("error %q, want it to contain %q", errs[i], w)
		}
	}
}

func TestResolveStatic(t *testing.T) {
	s := mustParse(t, "127.0.0.1/8 ::1 192.0.2.0/24")
	r := newFakeResolver()
	snap, errs := s.Resolve(context.Background(), r, t0)
	wantErrs(t, errs)
	wantPrefixes(t, snap, "127.0.0.0/8", "192.0.2.0/24", "::1/128")
	if !snap.NextRefresh.IsZero() || !snap.Changed {
		t.Errorf("NextRefresh %v, Changed %v; want zero, true", snap.NextRefresh, snap.Changed)
	}
	snap, _ = s.Resolve(context.Background(), r, t0.Add(time.Hour))
	if snap.Changed {
		t.Error("Changed on a second Resolve of a static list")
	}
	if !s.Static().Equal(snap.Set) {
		t.Error("Static differs from the resolved set")
	}
}

func TestResolveNames(t *testing.T) {
	ctx := context.Background()
	r := newFakeResolver()
	r.set("backup.example.org", "198.51.100.7", "2001:db8::7", "::ffff:198.51.100.8")
	r.set("mail.example.org", "203.0.113.25")
	s := mustParse(t, "192.0.2.1 backup.example.org mail.example.org")
	s.NameRefresh = 10 * time.Minute
	s.RetryInterval = 30 * time.Second

	type step struct {
		at      time.Duration
		setup   func()
		want    []string
		errs    []string
		next    time.Duration
		changed bool
	}
	steps := []step{
		{at: 0, want: []string{"192.0.2.1/32", "198.51.100.7/32", "198.51.100.8/32", "203.0.113.25/32", "2001:db8::7/128"},
			next: 10 * time.Minute, changed: true},
		// Nothing is due: no lookups.
		{at: 5 * time.Minute, setup: func() { r.set("mail.example.org", "203.0.113.26") },
			want: []string{"192.0.2.1/32", "198.51.100.7/32", "198.51.100.8/32", "203.0.113.25/32", "2001:db8::7/128"},
			next: 10 * time.Minute},
		// Due: the new address replaces the old.
		{at: 10 * time.Minute,
			want: []string{"192.0.2.1/32", "198.51.100.7/32", "198.51.100.8/32", "203.0.113.26/32", "2001:db8::7/128"},
			next: 20 * time.Minute, changed: true},
		// A failing lookup keeps the previous addresses, is reported, and is retried soon.
		{at: 20 * time.Minute, setup: func() { r.setErr("backup.example.org", errors.New("SERVFAIL")) },
			want: []string{"192.0.2.1/32", "198.51.100.7/32", "198.51.100.8/32", "203.0.113.26/32", "2001:db8::7/128"},
			errs: []string{`ignoreip host "backup.example.org": SERVFAIL (keeping its previous 3 addresses)`},
			next: 20*time.Minute + 30*time.Second},
		// The same failure again is not reported again.
		{at: 20*time.Minute + 30*time.Second,
			want: []string{"192.0.2.1/32", "198.51.100.7/32", "198.51.100.8/32", "203.0.113.26/32", "2001:db8::7/128"},
			next: 21 * time.Minute},
		// A different failure is.
		{at: 21 * time.Minute, setup: func() { r.set("backup.example.org") },
			want: []string{"192.0.2.1/32", "198.51.100.7/32", "198.51.100.8/32", "203.0.113.26/32", "2001:db8::7/128"},
			errs: []string{`"backup.example.org": no addresses (keeping its previous 3`},
			next: 21*time.Minute + 30*time.Second},
		// Recovery.
		{at: 22 * time.Minute, setup: func() { r.set("backup.example.org", "198.51.100.9") },
			want: []string{"192.0.2.1/32", "198.51.100.9/32", "203.0.113.26/32"},
			next: 30 * time.Minute, changed: true},
	}
	for i, st := range steps {
		if st.setup != nil {
			st.setup()
		}
		snap, errs := s.Resolve(ctx, r, t0.Add(st.at))
		t.Logf("step %d at %v", i, st.at)
		wantPrefixes(t, snap, st.want...)
		wantErrs(t, errs, st.errs...)
		if want := t0.Add(st.next); !snap.NextRefresh.Equal(want) {
			t.Errorf("step %d: NextRefresh %v, want %v", i, snap.NextRefresh, want)
		}
		if snap.Changed != st.changed {
			t.Errorf("step %d: Changed %v, want %v", i, snap.Changed, st.changed)
		}
	}
	if n := r.count("mail.example.org"); n != 3 {
		t.Errorf("mail.example.org looked up %d times, want 3", n)
	}
}

func TestResolveNameNeverResolved(t *testing.T) {
	r := newFakeResolver()
	s := mustParse(t, "gone.example.org 192.0.2.1")
	snap, errs := s.Resolve(context.Background(), r, t0)
	wantPrefixes(t, snap, "192.0.2.1/32")
	wantErrs(t, errs, `ignoreip host "gone.example.org": lookup gone.example.org: no such host (keeping its previous 0 addresses)`)
	if want := t0.Add(DefaultRetryInterval); !snap.NextRefresh.Equal(want) {
		t.Errorf("NextRefresh %v, want %v", snap.NextRefresh, want)
	}
}

// blockingResolver waits for its context: lookups time out.
type blockingResolver struct{}

func (blockingResolver) LookupNetIP(ctx context.Context, _, _ string) ([]netip.Addr, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestResolveLookupTimeout(t *testing.T) {
	s := mustParse(t, "slow.example.org")
	s.LookupTimeout = time.Millisecond
	_, errs := s.Resolve(context.Background(), blockingResolver{}, t0)
	wantErrs(t, errs, "context deadline exceeded")
}

// memFS is an in-memory FS with explicit modification times.
type memFS struct {
	mu    sync.Mutex
	files map[string]memFile
	reads int
}

type memFile struct {
	data string
	mod  time.Time
}

func (m *memFS) put(name, data string, mod time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.files == nil {
		m.files = map[string]memFile{}
	}
	m.files[name] = memFile{data, mod}
}

func (m *memFS) remove(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.files, name)
}

func (m *memFS) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return memInfo{name: filepath.Base(name), size: int64(len(f.data)), mod: f.mod}, nil
}

func (m *memFS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	m.reads++
	return []byte(f.data), nil
}

type memInfo struct {
	name string
	size int64
	mod  time.Time
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return i.mod }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

func TestResolveFiles(t *testing.T) {
	ctx := context.Background()
	r := newFakeResolver()
	r.set("office.example.org", "198.51.100.44")
	m := &memFS{}
	m.put("/etc/gaol/ignore.list", "# trusted\n192.0.2.0/24\noffice.example.org ; office\n", t0)
	s := mustParse(t, "127.0.0.1 file:ignore.list")
	s.BaseDir = "/etc/gaol"
	s.FS = m
	s.FileCheck = 10 * time.Second

	type step struct {
		at      time.Duration
		setup   func()
		want    []string
		errs    []string
		reads   int
		changed bool
	}
	steps := []step{
		{at: 0, want: []string{"127.0.0.1/32", "192.0.2.0/24", "198.51.100.44/32"}, reads: 1, changed: true},
		// Not due yet: no stat, no read, even though the file changed.
		{at: 5 * time.Second, setup: func() { m.put("/etc/gaol/ignore.list", "203.0.113.0/24\n", t0.Add(5*time.Second)) },
			want: []string{"127.0.0.1/32", "192.0.2.0/24", "198.51.100.44/32"}, reads: 1},
		// Due and changed: read again.
		{at: 10 * time.Second, want: []string{"127.0.0.1/32", "203.0.113.0/24"}, reads: 2, changed: true},
		// Due and unchanged: not read.
		{at: 20 * time.Second, want: []string{"127.0.0.1/32", "203.0.113.0/24"}, reads: 2},
		// Same mtime, other size: read.
		{at: 30 * time.Second, setup: func() { m.put("/etc/gaol/ignore.list", "203.0.113.0/24 2001:db8::/32\n", t0.Add(5*time.Second)) },
			want: []string{"127.0.0.1/32", "203.0.113.0/24", "2001:db8::/32"}, reads: 3, changed: true},
		// Bad entries are reported with their line and skipped; the rest is used.
		{at: 40 * time.Second, setup: func() { m.put("/etc/gaol/ignore.list", "203.0.113.0/24\n192.0.2.300\n", t0.Add(40*time.Second)) },
			want: []string{"127.0.0.1/32", "203.0.113.0/24"}, reads: 4, changed: true,
			errs: []string{`/etc/gaol/ignore.list:2: invalid entry "192.0.2.300"`}},
		// A vanished file keeps its entries, reported once.
		{at: 50 * time.Second, setup: func() { m.remove("/etc/gaol/ignore.list") },
			want: []string{"127.0.0.1/32", "203.0.113.0/24"}, reads: 4,
			errs: []string{`ignoreip file "/etc/gaol/ignore.list": stat /etc/gaol/ignore.list: file does not exist (keeping its previous 1 entries)`}},
		{at: 60 * time.Second, want: []string{"127.0.0.1/32", "203.0.113.0/24"}, reads: 4},
		// It comes back.
		{at: 70 * time.Second, setup: func() { m.put("/etc/gaol/ignore.list", "198.51.100.0/24", t0.Add(65*time.Second)) },
			want: []string{"127.0.0.1/32", "198.51.100.0/24"}, reads: 5, changed: true},
	}
	for i, st := range steps {
		if st.setup != nil {
			st.setup()
		}
		snap, errs := s.Resolve(ctx, r, t0.Add(st.at))
		t.Logf("step %d at %v", i, st.at)
		wantPrefixes(t, snap, st.want...)
		wantErrs(t, errs, st.errs...)
		if m.reads != st.reads {
			t.Errorf("step %d: %d reads, want %d", i, m.reads, st.reads)
		}
		if snap.Changed != st.changed {
			t.Errorf("step %d: Changed %v, want %v", i, snap.Changed, st.changed)
		}
		if want := t0.Add(st.at).Add(10 * time.Second); snap.NextRefresh.After(want) {
			t.Errorf("step %d: NextRefresh %v, after %v", i, snap.NextRefresh, want)
		}
	}
	// The host name the file no longer lists is forgotten.
	s.mu.Lock()
	_, ok := s.names["office.example.org"]
	s.mu.Unlock()
	if ok {
		t.Error("office.example.org still tracked")
	}
}

func TestResolveRealFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trusted")
	write := func(data string, mod time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	write("192.0.2.1\n", t0)
	s := mustParse(t, "file://"+path)
	snap, errs := s.Resolve(context.Background(), newFakeResolver(), t0)
	wantErrs(t, errs)
	wantPrefixes(t, snap, "192.0.2.1/32")

	// Same size, same mtime, but a new file (atomic replace): the inode tells.
	tmp := filepath.Join(dir, "trusted.new")
	if err := os.WriteFile(tmp, []byte("192.0.2.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, t0, t0); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	snap, errs = s.Resolve(context.Background(), newFakeResolver(), t0.Add(time.Minute))
	wantErrs(t, errs)
	wantPrefixes(t, snap, "192.0.2.2/32")

	write("192.0.2.3 192.0.2.4\n", t0.Add(time.Hour))
	snap, _ = s.Resolve(context.Background(), newFakeResolver(), t0.Add(2*time.Minute))
	wantPrefixes(t, snap, "192.0.2.3/32", "192.0.2.4/32")

	// A directory is an error.
	s2 := mustParse(t, "file:"+dir)
	_, errs = s2.Resolve(context.Background(), newFakeResolver(), t0)
	wantErrs(t, errs, "is a directory")
}

func TestResolveSelf(t *testing.T) {
	r := newFakeResolver()
	r.set("localhost", "127.0.0.1", "::1")
	r.set("gaolhost", "203.0.113.10")
	local := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
	var localErr error
	s := mustParse(t, "198.51.100.1")
	s.Self = true
	s.LocalAddrs = func() ([]netip.Addr, error) { return local, localErr }
	s.Hostname = func() (string, error) { return "gaolhost", nil }

	snap, errs := s.Resolve(context.Background(), r, t0)
	wantErrs(t, errs)
	wantPrefixes(t, snap, "127.0.0.1/32", "192.0.2.10/32", "198.51.100.1/32", "203.0.113.10/32", "::1/128", "2001:db8::10/128")
	if want := t0.Add(DefaultNameRefresh); !snap.NextRefresh.Equal(want) {
		t.Errorf("NextRefresh %v, want %v", snap.NextRefresh, want)
	}

	// The interfaces change; the host name stops resolving (not reported:
	// many hosts have no DNS name), and listing interfaces fails later.
	local = []netip.Addr{netip.MustParseAddr("192.0.2.11")}
	r.setErr("gaolhost", errors.New("no such host"))
	snap, errs = s.Resolve(context.Background(), r, t0.Add(DefaultNameRefresh))
	wantErrs(t, errs)
	wantPrefixes(t, snap, "127.0.0.1/32", "192.0.2.11/32", "198.51.100.1/32", "203.0.113.10/32", "::1/128")

	localErr = errors.New("netlink: permission denied")
	snap, errs = s.Resolve(context.Background(), r, t0.Add(2*DefaultNameRefresh))
	wantErrs(t, errs, "ignoreself: listing local addresses: netlink: permission denied (keeping the previous 1)")
	wantPrefixes(t, snap, "127.0.0.1/32", "192.0.2.11/32", "198.51.100.1/32", "203.0.113.10/32", "::1/128")
}

func TestInterfaceAddrs(t *testing.T) {
	addrs, err := InterfaceAddrs()
	if err != nil {
		t.Skipf("no interfaces here: %v", err)
	}
	for _, a := range addrs {
		if !a.IsValid() || a.Is4In6() || a.Zone() != "" {
			t.Errorf("address %v not clean", a)
		}
	}
}

func TestResolveConcurrent(t *testing.T) {
	r := newFakeResolver()
	var hosts []string
	for i := range 30 {
		h := fmt.Sprintf("h%d.example.org", i)
		r.set(h, fmt.Sprintf("198.51.100.%d", i))
		hosts = append(hosts, h)
	}
	s := mustParse(t, strings.Join(hosts, " "))
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			snap, errs := s.Resolve(context.Background(), r, t0.Add(time.Duration(i)*time.Second))
			if len(errs) != 0 || snap.Len() == 0 {
				t.Errorf("Resolve: %v, %d prefixes", errs, snap.Len())
			}
		}()
	}
	wg.Wait()
	for _, h := range hosts {
		if n := r.count(h); n != 1 {
			t.Errorf("%s looked up %d times, want 1", h, n)
		}
	}
}
