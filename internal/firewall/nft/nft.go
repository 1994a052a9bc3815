// Package nft is gaol's nftables firewall backend. It talks to the kernel
// through netlink (github.com/google/nftables): no process is spawned, and
// thousands of bans go to the kernel in one batch.
//
// Everything lives in one table, `inet gaol` by default. For a jail sshd
// on port 22 that bans IPv4 attackers by address and IPv6 attackers by /64
// (banprefix.ipv4 = 32, banprefix.ipv6 = 64, gaol's defaults):
//
//	table inet gaol {
//		set sshd-v4 { type ipv4_addr; flags timeout; }
//		set sshd-v4-net { type ipv4_addr; flags interval,timeout; }
//		set sshd-v6 { type ipv6_addr; flags timeout; }
//		set sshd-v6-net { type ipv6_addr; flags interval,timeout; }
//		chain input {
//			type filter hook input priority filter - 1; policy accept;
//			tcp dport 22 ip saddr @sshd-v4 drop comment "sshd"
//			tcp dport 22 ip saddr @sshd-v4-net drop comment "sshd"
//			tcp dport 22 ip6 saddr & ffff:ffff:ffff:ffff:: == @sshd-v6 drop comment "sshd"
//			tcp dport 22 ip6 saddr @sshd-v6-net drop comment "sshd"
//		}
//	}
//
// (testdata/setup.golden shows more: port sets, ranges, other protocols.)
//
// Each jail has two sets per address family, and a rule for each. Almost
// every ban has the jail's ban prefix length (firewall.Jail.BanPrefix4,
// BanPrefix6): those go to a hash set (sshd-v4, sshd-v6), to which the
// kernel adds elements about twice as fast as to an interval set. Its
// elements are the prefixes' network addresses (2001:db8:1:2:: for
// 2001:db8:1:2::/64), and its rule looks up the source address masked to
// that length; with a full-length address (32, 128) it is a plain lookup.
// The bans of other prefixes go to an interval set (sshd-v4-net,
// sshd-v6-net). Every element has its own timeout, so the kernel lifts
// bans by itself even when the daemon is gone.
//
// The backend keeps a model of each set, so that it computes changes
// without reading the kernel. In a hash set the elements are the bans
// (prefixes of one length never overlap). An interval set rejects
// overlapping elements, so its model holds both the bans it was asked for
// and the elements the kernel holds: overlapping bans (a subnet and a
// smaller one inside it, with different timeouts) are turned into
// disjoint elements that give every address the latest deadline of the
// bans covering it. A ban in the hash set and an overlapping one in the
// interval set stay independent.
//
// Reading a large set back from the kernel is slow (the kernel walks the
// set from its start for each message of the dump: about 1 s for 100,000
// IPv6 addresses in a hash set, 3 s for as many prefixes in an interval
// set), so the backend reads a set only when it must: after a restart, for
// a set that Replace has not rewritten, and after the kernel refused a
// change.
package nft

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/gaol-project/gaol/internal/firewall"
)

// ErrUnavailable is wrapped by Open's error when the kernel has no nftables
// support or the process may not use it (it needs CAP_NET_ADMIN).
var ErrUnavailable = errors.New("nftables is unavailable")

// ErrUnknownJail is wrapped by the errors of methods given a jail that the
// last Setup did not list.
var ErrUnknownJail = firewall.ErrUnknownJail

// Options configure Open.
type Options struct {
	// Table is the name of the inet table; "gaol" if empty.
	Table string
	// NetNS is a file descriptor of the network namespace to work in;
	// 0 means the current one. Open duplicates it: the caller may close
	// its own descriptor afterwards.
	NetNS int
}

const (
	defaultTable = "gaol"
	chainName    = "input"
	// chainPriority runs the chain just before the usual filter chains.
	chainPriority = -1

	// sendBuffer is the socket send buffer asked for, so that a batch of
	// about a hundred thousand elements fits in one transaction.
	sendBuffer = 32 << 20
	// maxTxBytes bounds the bytes of one transaction when the kernel
	// granted the buffer asked for.
	maxTxBytes = 16 << 20
)

// Backend manages gaol's nftables table. Its methods may be called from
// several goroutines.
type Backend struct {
	mu    sync.Mutex
	conn  *nftables.Conn
	nsFD  int // duplicated namespace descriptor, -1 for the current one
	table *nftables.Table
	chain *nftables.Chain
	jails map[string]*jailState
	// setupJails is what the last Setup was given, to set the table up
	// again if it disappears.
	setupJails []firewall.Jail
	budget     int // bytes per transaction
	now        func() time.Time
	closed     bool
}

// Open connects to nftables and checks that it can be used. It changes
// nothing in the kernel: Setup creates the table.
func Open(opts Options) (*Backend, error) {
	b := &Backend{nsFD: -1, jails: make(map[string]*jailState), now: time.Now}
	name := opts.Table
	if name == "" {
		name = defaultTable
	}
	if err := checkName("table", name); err != nil {
		return nil, err
	}
	b.table = &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
	prio := nftables.ChainPriority(chainPriority)
	policy := nftables.ChainPolicyAccept
	b.chain = &nftables.Chain{
		Name:     chainName,
		Table:    b.table,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookInput,
		Priority: &prio,
		Policy:   &policy,
	}
	connOpts := []nftables.ConnOption{nftables.WithSockOptions(b.setBuffers)}
	if opts.NetNS != 0 {
		fd, err := unix.FcntlInt(uintptr(opts.NetNS), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("nftables: duplicating network namespace descriptor %d: %w", opts.NetNS, err)
		}
		b.nsFD = fd
		connOpts = append(connOpts, nftables.WithNetNSFd(fd))
	}
	conn, err := nftables.New(connOpts...)
	if err != nil {
		b.closeNS()
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	b.conn = conn
	if _, err := conn.ListTablesOfFamily(nftables.TableFamilyINet); err != nil {
		b.closeNS()
		return nil, unavailable(err)
	}
	return b, nil
}

// setBuffers raises the socket send buffer of each netlink connection so
// that large batches fit, and records what the kernel granted.
func (b *Backend) setBuffers(c *netlink.Conn) error {
	// Without the privilege to force it the kernel caps the size; the
	// transaction budget follows what was granted.
	_ = c.SetWriteBuffer(sendBuffer)
	got, err := c.WriteBuffer()
	if err != nil {
		got = 0
	}
	// The kernel doubles the value it is given and reports the doubled
	// size; keep a margin for the batch's own headers.
	b.budget = max(min(got/2-4096, maxTxBytes), 64<<10)
	widenDumps(c)
	return nil
}

// widenDumps makes the kernel fill dump messages of c up to 32 KiB instead
// of one page. The kernel sizes them by the largest buffer a read of the
// socket offered, and the netlink package reads with a page. Reading back
// a set is quadratic in the number of messages (each resumes a walk of the
// set from its start), so this divides the time to list a large set
// several times. It reads the reply to a harmless request (the ruleset's
// generation) with a large buffer; if anything fails, dumps merely stay
// slower.
func widenDumps(c *netlink.Conn) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	req := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN),
			Flags: netlink.Request,
		},
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	}
	if _, err := c.Send(req); err != nil {
		return
	}
	// The kernel always answers, if only with an error; do not wait long
	// if it somehow does not.
	if err := c.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		return
	}
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 32<<10)
	_ = rc.Read(func(fd uintptr) bool {
		_, _, _, _, err := unix.Recvmsg(int(fd), buf, nil, 0)
		return err != unix.EAGAIN
	})
}

func unavailable(err error) error {
	var hint string
	switch {
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		hint = "permission denied: gaol needs CAP_NET_ADMIN (run as root)"
	case errors.Is(err, syscall.EPROTONOSUPPORT), errors.Is(err, syscall.EAFNOSUPPORT), errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.ENOENT):
		hint = "the kernel has no nf_tables support (CONFIG_NF_TABLES, module nf_tables)"
	default:
		hint = "talking to nf_tables over netlink failed"
	}
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, hint, err)
}

// Teardown deletes the table with every set, element and rule in it. It
// succeeds if the table does not exist.
func (b *Backend) Teardown() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usable(); err != nil {
		return err
	}
	exists, err := b.tableExists()
	if err != nil {
		return err
	}
	b.jails = make(map[string]*jailState)
	b.setupJails = nil
	if !exists {
		return nil
	}
	b.conn.DelTable(b.table)
	if err := b.conn.Flush(); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("nftables: deleting table inet %s: %w", b.table.Name, err)
	}
	return nil
}

// Close releases the backend. The table and its bans stay in the kernel.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	return b.closeNS()
}

func (b *Backend) closeNS() error {
	if b.nsFD < 0 {
		return nil
	}
	err := unix.Close(b.nsFD)
	b.nsFD = -1
	if err != nil {
		return fmt.Errorf("nftables: closing network namespace descriptor: %w", err)
	}
	return nil
}

func (b *Backend) usable() error {
	if b.closed {
		return errors.New("nftables: backend is closed")
	}
	return nil
}

func (b *Backend) tableExists() (bool, error) {
	tables, err := b.conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("nftables: listing tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == b.table.Name {
			return true, nil
		}
	}
	return false, nil
}
