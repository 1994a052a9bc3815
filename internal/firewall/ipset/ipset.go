// Package ipset is gaol's iptables + ipset firewall backend, for hosts where
// nftables cannot be used. Bans live in ipsets that the backend manages
// through netlink (no process is spawned per ban, and thousands of
// elements go to the kernel in a few messages); iptables rules that match
// the sets are written with iptables-restore once per Setup.
//
// Each jail has one set per address family:
//
//	gaol-sshd-v4  hash:net family inet  timeout 0 maxelem 1048576
//	gaol-sshd-v6  hash:net family inet6 timeout 0 maxelem 1048576
//
// and rules in one chain that INPUT jumps to first:
//
//	-A INPUT -j gaol
//	-A gaol -p tcp -m multiport --dports 22 -m set --match-set gaol-sshd-v4 src -j DROP
//
// (ip6tables has the same rules with the -v6 sets; testdata/setup.golden
// shows more: port ranges, other protocols, every port.)
//
// Every element has its own timeout, so the kernel lifts bans by itself
// even when the daemon is gone. The kernel keeps timeouts of at most about
// 24.8 days (2,147,483 s); a longer ban is added with that timeout and the
// backend adds it again, while it runs, before the kernel would drop it.
//
// A hash:net set may hold overlapping prefixes (an address and a subnet
// around it), each with its own timeout, and a packet matches if any of
// them holds its source address. So the backend needs no model of the
// elements, unlike the nftables one, and the semantics are the same: an
// address is banned until the latest deadline of the bans that cover it;
// unbanning a prefix removes exactly that ban. hash:net cannot hold a /0:
// banning 0.0.0.0/0 or ::/0 adds its two halves (/1), which List shows.
//
// The iptables and ip6tables commands may be either iptables-nft (Debian's
// default) or iptables-legacy; both need the xt_set match (module xt_set).
package ipset

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/netnsrun"
	"github.com/vishvananda/netns"
)

// ErrUnavailable is wrapped by Open's error when the kernel has no ipset
// support, the iptables commands are missing, or the process may not use
// them (it needs CAP_NET_ADMIN).
var ErrUnavailable = errors.New("iptables+ipset is unavailable")

// ErrUnknownJail is wrapped by the errors of methods given a jail that the
// last Setup did not list.
var ErrUnknownJail = firewall.ErrUnknownJail

// Options configure Open.
type Options struct {
	// Name names the iptables chain and starts the names of the sets:
	// "gaol" if empty. Letters, digits, '_' and '-', at most 12 bytes.
	Name string
	// NetNS is a file descriptor of the network namespace to work in; 0
	// means the current one. Open duplicates it: the caller may close its
	// own descriptor afterwards.
	NetNS int
	// IPTables and IP6Tables are the commands that write the rules,
	// "iptables" and "ip6tables" if empty ("iptables-legacy" selects the
	// legacy tools). The "-restore" command next to each is used too.
	IPTables, IP6Tables string
	// MaxElements bounds the elements of one set; 1,048,576 if zero
	// (ipset's own default is 65,536).
	MaxElements uint32
	// Logger receives the errors of renewing long bans in the
	// background; slog.Default() if nil.
	Logger *slog.Logger
}

const (
	defaultName    = "gaol"
	maxOptionName  = 12
	defaultMaxElem = 1 << 20
)

// Backend manages gaol's ipsets and iptables rules. Its methods may be
// called from several goroutines.
type Backend struct {
	mu      sync.Mutex
	conn    *conn
	nsFD    int // duplicated namespace descriptor, -1 for the current one
	run     runner
	chain   string
	fams    [2]family
	rev     [2]uint8 // hash:net revision per family
	maxElem uint32
	jails   map[string]*jailState
	// setupJails is what the last Setup was given, to set up again if the
	// sets or rules disappear.
	setupJails []firewall.Jail
	// verified is when the rules were last written or checked.
	verified time.Time
	// long holds, per set, the bans longer than the kernel's longest
	// timeout, which the backend must add again.
	long    map[string]map[netip.Prefix]longBan
	refresh func() bool // stops the pending refresh timer, if any

	log       *slog.Logger
	now       func() time.Time
	afterFunc func(time.Duration, func()) func() bool
	closed    bool
}

// Open connects to ipset through netlink, finds the iptables commands and
// checks that both can be used. It changes nothing in the kernel: Setup
// creates the sets and rules.
func Open(opts Options) (*Backend, error) {
	b := &Backend{
		nsFD:    -1,
		chain:   opts.Name,
		maxElem: opts.MaxElements,
		jails:   make(map[string]*jailState),
		long:    make(map[string]map[netip.Prefix]longBan),
		log:     opts.Logger,
		now:     time.Now,
		afterFunc: func(d time.Duration, f func()) func() bool {
			return time.AfterFunc(d, f).Stop
		},
	}
	if b.chain == "" {
		b.chain = defaultName
	}
	if err := checkName(b.chain); err != nil {
		return nil, err
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.maxElem == 0 {
		b.maxElem = defaultMaxElem
	}
	ipt, ip6t := opts.IPTables, opts.IP6Tables
	if ipt == "" {
		ipt = "iptables"
	}
	if ip6t == "" {
		ip6t = "ip6tables"
	}
	b.fams = [2]family{
		{name: "inet", suffix: "v4", nfproto: unix.NFPROTO_IPV4, iptables: ipt},
		{name: "inet6", suffix: "v6", nfproto: unix.NFPROTO_IPV6, iptables: ip6t},
	}
	for _, f := range b.fams {
		for _, cmd := range []string{f.iptables, f.iptables + "-restore"} {
			if _, err := exec.LookPath(cmd); err != nil {
				return nil, fmt.Errorf("%w: command %s not found (install the iptables package): %v", ErrUnavailable, cmd, err)
			}
		}
	}
	if opts.NetNS != 0 {
		fd, err := unix.FcntlInt(uintptr(opts.NetNS), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("ipset: duplicating network namespace descriptor %d: %w", opts.NetNS, err)
		}
		b.nsFD = fd
	}
	b.run = runner{nsFD: b.nsFD}
	if err := b.connect(); err != nil {
		b.closeNS()
		return nil, err
	}
	for _, f := range b.fams {
		if _, err := b.inspect(f); err != nil {
			b.conn.close()
			b.closeNS()
			return nil, fmt.Errorf("%w: %s does not work: %v", ErrUnavailable, f.iptables, err)
		}
	}
	return b, nil
}

// connect opens the netlink socket and checks that ipset and its hash:net
// type are there.
func (b *Backend) connect() error {
	var c *conn
	open := func() (err error) {
		c, err = newConn()
		return err
	}
	var err error
	if b.nsFD >= 0 {
		err = netnsrun.Do(netns.NsHandle(b.nsFD), open)
	} else {
		err = open()
	}
	if err != nil {
		return unavailable(err)
	}
	if err := c.protocol(); err != nil {
		c.close()
		return unavailable(err)
	}
	for i, f := range b.fams {
		lo, hi, err := c.typeRevisions(f.nfproto)
		if err != nil {
			c.close()
			return unavailable(err)
		}
		b.rev[i] = max(min(hi, preferredRevision), lo)
	}
	b.conn = c
	return nil
}

func unavailable(err error) error {
	var hint string
	switch {
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		hint = "permission denied: gaol needs CAP_NET_ADMIN (run as root)"
	case errors.Is(err, ipsetError(errFindType)):
		hint = "the kernel has no hash:net ipset type (module ip_set_hash_net)"
	case errors.Is(err, syscall.EPROTONOSUPPORT), errors.Is(err, syscall.EAFNOSUPPORT),
		errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.ENOENT):
		hint = "the kernel has no ipset support (CONFIG_IP_SET, module ip_set)"
	default:
		hint = "talking to ipset over netlink failed"
	}
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, hint, err)
}

func checkName(name string) error {
	ok := name != "" && len(name) <= maxOptionName
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("ipset: invalid name %q: 1 to %d letters, digits, '_' or '-'", name, maxOptionName)
	}
	switch name {
	case "INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING", "ACCEPT", "DROP", "RETURN", "QUEUE", "REJECT", "LOG":
		return fmt.Errorf("ipset: invalid name %q: an iptables built-in", name)
	}
	return nil
}

// Teardown removes the rules, the chain and every set of gaol's, with
// their bans. It succeeds if there are none.
func (b *Backend) Teardown() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usable(); err != nil {
		return err
	}
	b.stopRefresh()
	b.jails = make(map[string]*jailState)
	b.setupJails = nil
	b.long = make(map[string]map[netip.Prefix]longBan)
	for _, f := range b.fams {
		if err := b.unhook(f); err != nil {
			return fmt.Errorf("ipset: removing the %s rules: %w", f.iptables, err)
		}
	}
	return b.destroyUnused(nil)
}

// Close releases the backend. The sets, rules and bans stay in the kernel;
// bans longer than the kernel's longest timeout are no longer renewed.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.stopRefresh()
	b.conn.close()
	return b.closeNS()
}

func (b *Backend) closeNS() error {
	if b.nsFD < 0 {
		return nil
	}
	err := unix.Close(b.nsFD)
	b.nsFD = -1
	if err != nil {
		return fmt.Errorf("ipset: closing network namespace descriptor: %w", err)
	}
	return nil
}

func (b *Backend) usable() error {
	if b.closed {
		return errors.New("ipset: backend is closed")
	}
	return nil
}
