// Package ignore decides which addresses gaol must never ban.
//
// It covers fail2ban's ignoreip (addresses, networks, host names resolved and
// refreshed, file: lists re-read when they change), ignoreself (the host's
// own addresses), ignorecommand (an external command with fail2ban's exit
// code contract, its tag values passed so that none can inject shell code,
// and a cache), and the lockout guard that keeps a manual ban from cutting
// off a logged-in SSH session or the administrator running it.
//
// The package does the I/O (DNS, files, processes, utmp) so that the engine
// can stay pure: a Spec resolves into a Snapshot, an immutable Set of
// prefixes the engine is given, together with the time of the next refresh.
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
	"sort"
	"sync"
	"syscall"
	"time"
)

// Defaults of a Spec's options.
const (
	DefaultNameRefresh   = 5 * time.Minute  // how often host names are resolved again
	DefaultRetryInterval = time.Minute      // how soon a failed lookup is retried
	DefaultFileCheck     = 10 * time.Second // how often file: lists are checked for changes
	DefaultLookupTimeout = 5 * time.Second  // limit of one host name lookup
	// MaxFileSize is the largest file: list read.
	MaxFileSize = 32 << 20
)

// lookupParallel bounds the host name lookups run at once.
const lookupParallel = 8

// Resolver looks up the addresses of a host name; *net.Resolver satisfies it.
// Resolve calls it with network "ip" (A and AAAA records).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// FS is the file system file: lists are read from.
type FS interface {
	Stat(name string) (fs.FileInfo, error)
	ReadFile(name string) ([]byte, error)
}

// OSFS is the FS of the operating system.
type OSFS struct{}

// Stat calls os.Stat.
func (OSFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// ReadFile calls os.ReadFile.
func (OSFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

// Spec is a parsed ignoreip list together with the state of its dynamic
// parts. Its exported fields are options, to be set before the first
// Resolve; zero values mean the defaults. A Spec is safe for concurrent use.
type Spec struct {
	// Self adds the host's own addresses (ignoreself): those of its network
	// interfaces, and those its host name and "localhost" resolve to.
	Self bool
	// NameRefresh is how often host names are resolved again.
	NameRefresh time.Duration
	// RetryInterval is how soon a failed lookup is tried again (at most
	// NameRefresh).
	RetryInterval time.Duration
	// FileCheck is how often file: lists are checked (mtime, size, inode)
	// for changes.
	FileCheck time.Duration
	// LookupTimeout limits each host name lookup.
	LookupTimeout time.Duration
	// BaseDir is the directory relative file: paths are resolved against;
	// empty means the working directory.
	BaseDir string
	// FS reads file: lists; nil means OSFS.
	FS FS
	// LocalAddrs lists the addresses of the host's interfaces; nil means
	// InterfaceAddrs.
	LocalAddrs func() ([]netip.Addr, error)
	// Hostname returns the host's name; nil means os.Hostname.
	Hostname func() (string, error)

	entries []Entry

	mu       sync.Mutex
	names    map[string]*nameState
	files    map[string]*fileState
	self     selfState
	last     Set
	resolved bool
}

type nameState struct {
	addrs   []netip.Addr
	next    time.Time
	lastErr string
	quiet   bool // wanted only by Self: failures are not reported
}

type fileState struct {
	path    string // as opened
	sig     fileSig
	loaded  bool
	next    time.Time
	items   []listItem
	lastErr string
}

type fileSig struct {
	mod   time.Time
	size  int64
	ino   uint64
	ctime int64
}

type selfState struct {
	addrs   []netip.Addr
	next    time.Time
	lastErr string
}

// Snapshot is the result of a Resolve: the addresses to ignore now.
type Snapshot struct {
	Set
	// NextRefresh is when Resolve should be called again: a host name is due
	// for a lookup or a file for a check. Zero means never: the list has no
	// dynamic part.
	NextRefresh time.Time
	// Changed says whether the Set differs from the previous Resolve's (it
	// is true on the first).
	Changed bool
}

// Entries returns the parsed entries.
func (s *Spec) Entries() []Entry { return slices.Clone(s.entries) }

// Static returns the Set of the list's addresses and networks alone, without
// names, files or the host's own addresses: what is known before any I/O.
func (s *Spec) Static() Set {
	var ps []netip.Prefix
	for _, e := range s.entries {
		if e.Kind == KindPrefix {
			ps = append(ps, e.Prefix)
		}
	}
	return NewSet(ps...)
}

func (s *Spec) nameRefresh() time.Duration { return orDefault(s.NameRefresh, DefaultNameRefresh) }

func (s *Spec) retryInterval() time.Duration {
	return min(orDefault(s.RetryInterval, DefaultRetryInterval), s.nameRefresh())
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Resolve brings the dynamic parts of the list up to date as of now and
// returns the addresses to ignore. Host names due for a refresh are looked up
// through r (nil means net.DefaultResolver), all at once; file: lists due for
// a check are read again if they changed. Nothing is lost on failure: a name
// that fails to resolve keeps its previous addresses, a file that cannot be
// read keeps its previous entries, and the failure is reported among the
// returned errors when it starts or changes (a persisting failure is reported
// once, and retried). Bad entries in a file are reported each time the file
// is read.
//
// Resolve may be called at any time; it does work only for what is due.
func (s *Spec) Resolve(ctx context.Context, r Resolver, now time.Time) (Snapshot, []error) {
	if r == nil {
		r = net.DefaultResolver
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.names == nil {
		s.names = make(map[string]*nameState)
		s.files = make(map[string]*fileState)
	}
	var errs []error

	// Files first: they may name hosts.
	wantFiles := make(map[string]bool)
	for _, e := range s.entries {
		if e.Kind != KindFile || wantFiles[e.Name] {
			continue
		}
		wantFiles[e.Name] = true
		st := s.files[e.Name]
		if st == nil {
			st = &fileState{path: s.filePath(e.Name)}
			s.files[e.Name] = st
		}
		if !now.Before(st.next) {
			errs = append(errs, s.checkFile(st, now)...)
		}
	}
	for name := range s.files {
		if !wantFiles[name] {
			delete(s.files, name)
		}
	}

	// Self: interface addresses and own names.
	var selfNames []string
	if s.Self {
		if !now.Before(s.self.next) {
			if err := s.refreshSelf(now); err != nil {
				errs = append(errs, err)
			}
		}
		selfNames = s.selfNames()
	}

	// Host names wanted by the list, its files and Self.
	want := make(map[string]bool) // name -> reported
	for _, e := range s.entries {
		if e.Kind == KindHost {
			want[e.Name] = true
		}
	}
	for _, st := range s.files {
		for _, it := range st.items {
			if it.entry.Kind == KindHost {
				want[it.entry.Name] = true
			}
		}
	}
	for _, n := range selfNames {
		if _, ok := want[n]; !ok {
			want[n] = false
		}
	}
	for name := range s.names {
		if _, ok := want[name]; !ok {
			delete(s.names, name)
		}
	}
	var due []string
	for name, reported := range want {
		st := s.names[name]
		if st == nil {
			st = &nameState{}
			s.names[name] = st
		}
		st.quiet = !reported
		if !now.Before(st.next) {
			due = append(due, name)
		}
	}
	sort.Strings(due)
	errs = append(errs, s.lookup(ctx, r, due, now)...)

	snap := Snapshot{Set: NewSet(s.prefixes()...), NextRefresh: s.nextRefresh()}
	snap.Changed = !s.resolved || !snap.Set.Equal(s.last)
	s.last, s.resolved = snap.Set, true
	return snap, errs
}

// filePath resolves a file: path against BaseDir.
func (s *Spec) filePath(p string) string {
	if filepath.IsAbs(p) || s.BaseDir == "" {
		return p
	}
	return filepath.Join(s.BaseDir, p)
}

func (s *Spec) fs() FS {
	if s.FS == nil {
		return OSFS{}
	}
	return s.FS
}

// checkFile re-reads a file: list if it changed since it was last read.
func (s *Spec) checkFile(st *fileState, now time.Time) []error {
	st.next = now.Add(orDefault(s.FileCheck, DefaultFileCheck))
	fi, err := s.fs().Stat(st.path)
	if err == nil && fi.IsDir() {
		err = errors.New("is a directory")
	}
	if err == nil && fi.Size() > MaxFileSize {
		err = fmt.Errorf("larger than %d bytes", MaxFileSize)
	}
	if err != nil {
		return st.fail(fmt.Errorf("ignoreip file %q: %w (keeping its previous %d entries)", st.path, err, len(st.items)))
	}
	sig := sigOf(fi)
	if st.loaded && sig == st.sig {
		st.lastErr = ""
		return nil
	}
	data, err := s.fs().ReadFile(st.path)
	if err == nil && len(data) > MaxFileSize {
		err = fmt.Errorf("larger than %d bytes", MaxFileSize)
	}
	if err != nil {
		return st.fail(fmt.Errorf("reading ignoreip file %q: %w (keeping its previous %d entries)", st.path, err, len(st.items)))
	}
	items, errs := parseList(st.path, data)
	st.items, st.sig, st.loaded, st.lastErr = items, sig, true, ""
	return errs
}

func (st *fileState) fail(err error) []error {
	msg := err.Error()
	if msg == st.lastErr {
		return nil
	}
	st.lastErr = msg
	return []error{err}
}

func sigOf(fi fs.FileInfo) fileSig {
	sig := fileSig{mod: fi.ModTime(), size: fi.Size()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		sig.ino = sys.Ino
		sig.ctime = sys.Ctim.Nano()
	}
	return sig
}

// refreshSelf reads the interface addresses again.
func (s *Spec) refreshSelf(now time.Time) error {
	s.self.next = now.Add(s.nameRefresh())
	local := s.LocalAddrs
	if local == nil {
		local = InterfaceAddrs
	}
	addrs, err := local()
	if err != nil {
		err = fmt.Errorf("ignoreself: listing local addresses: %w (keeping the previous %d)", err, len(s.self.addrs))
		if err.Error() == s.self.lastErr {
			return nil
		}
		s.self.lastErr = err.Error()
		return err
	}
	s.self.addrs, s.self.lastErr = addrs, ""
	return nil
}

// selfNames returns the host names whose addresses are the host's own.
func (s *Spec) selfNames() []string {
	names := []string{"localhost"}
	hostname := s.Hostname
	if hostname == nil {
		hostname = os.Hostname
	}
	if h, err := hostname(); err == nil {
		if n, ok := hostName(h); ok && n != "localhost" {
			names = append(names, n)
		}
	}
	return names
}

// lookup resolves the due names, at most lookupParallel at once.
func (s *Spec) lookup(ctx context.Context, r Resolver, due []string, now time.Time) []error {
	if len(due) == 0 {
		return nil
	}
	type result struct {
		addrs []netip.Addr
		err   error
	}
	results := make([]result, len(due))
	sem := make(chan struct{}, lookupParallel)
	var wg sync.WaitGroup
	timeout := orDefault(s.LookupTimeout, DefaultLookupTimeout)
	for i, name := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			lctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			addrs, err := r.LookupNetIP(lctx, "ip", name)
			results[i] = result{addrs, err}
		}()
	}
	wg.Wait()

	var errs []error
	for i, name := range due {
		st := s.names[name]
		res := results[i]
		addrs := cleanAddrs(res.addrs)
		if res.err == nil && len(addrs) == 0 {
			res.err = errors.New("no addresses")
		}
		if res.err != nil {
			st.next = now.Add(s.retryInterval())
			err := fmt.Errorf("ignoreip host %q: %w (keeping its previous %d addresses)", name, res.err, len(st.addrs))
			if !st.quiet && err.Error() != st.lastErr {
				errs = append(errs, err)
			}
			st.lastErr = err.Error()
			continue
		}
		st.addrs, st.lastErr, st.next = addrs, "", now.Add(s.nameRefresh())
	}
	return errs
}

// cleanAddrs unmaps, drops zones and invalid addresses, sorts and dedups.
func cleanAddrs(in []netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(in))
	for _, a := range in {
		if a.IsValid() {
			out = append(out, a.Unmap().WithZone(""))
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// prefixes gathers every prefix currently ignored.
func (s *Spec) prefixes() []netip.Prefix {
	var ps []netip.Prefix
	host := func(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }
	add := func(e Entry) {
		switch e.Kind {
		case KindPrefix:
			ps = append(ps, e.Prefix)
		case KindHost:
			if st := s.names[e.Name]; st != nil {
				for _, a := range st.addrs {
					ps = append(ps, host(a))
				}
			}
		}
	}
	for _, e := range s.entries {
		add(e)
	}
	for _, st := range s.files {
		for _, it := range st.items {
			add(it.entry)
		}
	}
	if s.Self {
		for _, a := range s.self.addrs {
			ps = append(ps, host(a))
		}
		for _, n := range s.selfNames() {
			if st := s.names[n]; st != nil {
				for _, a := range st.addrs {
					ps = append(ps, host(a))
				}
			}
		}
	}
	return ps
}

// nextRefresh returns the earliest time something is due.
func (s *Spec) nextRefresh() time.Time {
	var next time.Time
	earlier := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, st := range s.names {
		earlier(st.next)
	}
	for _, st := range s.files {
		earlier(st.next)
	}
	if s.Self {
		earlier(s.self.next)
	}
	return next
}

// InterfaceAddrs returns the addresses of the host's network interfaces.
func InterfaceAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("listing interface addresses: %w", err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		var ip net.IP
		switch a := a.(type) {
		case *net.IPNet:
			ip = a.IP
		case *net.IPAddr:
			ip = a.IP
		}
		if na, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, na.Unmap())
		}
	}
	return cleanAddrs(out), nil
}
