package ipset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// This file is a small client of the kernel's ipset netlink protocol, built
// on the request and socket plumbing of github.com/vishvananda/netlink/nl.
// The high-level ipset functions of that module send one element per
// request and log unknown attributes through the standard logger; gaol
// needs batches of elements and quiet parsing, so it encodes the few
// messages it uses itself.

// Protocol constants from <linux/netfilter/ipset/ip_set.h>.
const (
	protocolVersion = 6
	maxNameLen      = 31 // IPSET_MAXNAMELEN, without the terminating NUL

	cmdProtocol = 1
	cmdCreate   = 2
	cmdDestroy  = 3
	cmdFlush    = 4
	cmdSwap     = 6
	cmdList     = 7
	cmdAdd      = 9
	cmdDel      = 10
	cmdType     = 13

	attrProtocol    = 1
	attrSetName     = 2
	attrTypeName    = 3
	attrSetName2    = attrTypeName
	attrRevision    = 4
	attrFamily      = 5
	attrFlags       = 6
	attrData        = 7
	attrADT         = 8
	attrLineNo      = 9
	attrRevisionMin = 10

	// Within attrData.
	attrIP         = 1
	attrCIDR       = 3
	attrTimeout    = 6
	attrCadtFlags  = 8
	attrMaxElem    = 19
	attrIPAddrIPv4 = 1
	attrIPAddrIPv6 = 2

	flagListSetName = 1 << 1

	errPrivate       = 4096
	errFindType      = 4098
	errExistSetName2 = 4101
	errTypeMismatch  = 4102
	errExist         = 4103
	errReferenced    = 4109
	errHashFull      = 4352

	nlaNested    = 1 << 15
	nlaNetOrder  = 1 << 14
	nlaTypeMask  = ^uint16(nlaNested | nlaNetOrder)
	nfgenmsgSize = 4

	// maxTimeout is the longest element timeout the kernel keeps, in
	// seconds (IPSET_MAX_TIMEOUT: about 24.8 days).
	maxTimeout = (1<<32 - 1) >> 1 / 1000
	// socketTimeout bounds the wait for one answer of the kernel.
	socketTimeout = 30 * time.Second
)

// setType is the kind of set gaol uses: it holds prefixes of any length,
// each with its own timeout.
const setType = "hash:net"

// preferredRevision is the newest hash:net revision used. Later revisions
// add bucket size and initval options that gaol does not need.
const preferredRevision = 6

// ipsetError is an error code private to ipset.
type ipsetError int

func (e ipsetError) Error() string {
	switch int(e) {
	case errFindType:
		return "set type not supported by the kernel"
	case errExistSetName2:
		return "a different set with the same name exists"
	case errTypeMismatch:
		return "set type mismatch"
	case errExist:
		return "element exists or is missing"
	case errReferenced:
		return "set is referenced by a rule"
	case errHashFull:
		return "set is full"
	}
	return nl.IPSetError(uintptr(e)).Error()
}

// conn is a netlink socket to the ipset subsystem of one namespace.
type conn struct {
	sock *nl.SocketHandle
}

// newConn opens the socket. It must run in the target namespace.
func newConn() (*conn, error) {
	s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, err
	}
	tv := unix.NsecToTimeval(socketTimeout.Nanoseconds())
	if err := s.SetSendTimeout(&tv); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.SetReceiveTimeout(&tv); err != nil {
		s.Close()
		return nil, err
	}
	return &conn{sock: &nl.SocketHandle{Socket: s}}, nil
}

func (c *conn) close() { c.sock.Close() }

// attrs encodes netlink attributes.
type attrs []byte

func (a *attrs) put(typ uint16, data []byte) {
	n := 4 + len(data)
	*a = binary.NativeEndian.AppendUint16(*a, uint16(n))
	*a = binary.NativeEndian.AppendUint16(*a, typ)
	*a = append(*a, data...)
	for len(*a)%4 != 0 {
		*a = append(*a, 0)
	}
}

func (a *attrs) putString(typ uint16, s string) { a.put(typ, append([]byte(s), 0)) }
func (a *attrs) putU8(typ uint16, v uint8)      { a.put(typ, []byte{v}) }
func (a *attrs) putBE32(typ uint16, v uint32) {
	a.put(typ|nlaNetOrder, binary.BigEndian.AppendUint32(nil, v))
}

// nest encodes the attributes fn adds inside a nested attribute.
func (a *attrs) nest(typ uint16, fn func(*attrs)) {
	start := len(*a)
	*a = append(*a, 0, 0, 0, 0)
	fn(a)
	binary.NativeEndian.PutUint16((*a)[start:], uint16(len(*a)-start))
	binary.NativeEndian.PutUint16((*a)[start+2:], typ|nlaNested)
}

// request builds an ipset message of command cmd with the protocol
// attribute and the attributes fn adds.
func (c *conn) request(cmd int, flags int, fn func(*attrs)) *nl.NetlinkRequest {
	req := &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{
			Type:  uint16(cmd | unix.NFNL_SUBSYS_IPSET<<8),
			Flags: unix.NLM_F_REQUEST | uint16(flags),
		},
		Sockets: map[int]*nl.SocketHandle{unix.NETLINK_NETFILTER: c.sock},
	}
	a := attrs{unix.AF_INET, unix.NFNETLINK_V0, 0, 0}
	a.putU8(attrProtocol, protocolVersion)
	if fn != nil {
		fn(&a)
	}
	req.AddRawData(a)
	return req
}

// execute sends req and returns the payloads of the answers, without their
// nfgenmsg headers.
func (c *conn) execute(req *nl.NetlinkRequest) ([][]byte, error) {
	msgs, err := req.Execute(unix.NETLINK_NETFILTER, 0)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) && errno >= errPrivate {
			return nil, ipsetError(errno)
		}
		return nil, err
	}
	out := msgs[:0]
	for _, m := range msgs {
		if len(m) >= nfgenmsgSize {
			out = append(out, m[nfgenmsgSize:])
		}
	}
	return out, nil
}

// protocol checks that the kernel speaks the ipset protocol.
func (c *conn) protocol() error {
	_, err := c.execute(c.request(cmdProtocol, 0, nil))
	return err
}

// typeRevisions returns the revisions of the hash:net type the kernel
// supports for a family.
func (c *conn) typeRevisions(family uint8) (lo, hi uint8, err error) {
	msgs, err := c.execute(c.request(cmdType, 0, func(a *attrs) {
		a.putString(attrTypeName, setType)
		a.putU8(attrFamily, family)
	}))
	if err != nil {
		return 0, 0, err
	}
	for _, m := range msgs {
		for typ, v := range parseAttrs(m) {
			switch {
			case typ == attrRevision && len(v) > 0:
				hi = v[0]
			case typ == attrRevisionMin && len(v) > 0:
				lo = v[0]
			}
		}
	}
	return lo, hi, nil
}

// create makes a hash:net set with timeout support. An identical set that
// already exists is kept with its elements; a different one with the same
// name fails with errExistSetName2.
func (c *conn) create(name string, family, revision uint8, maxElem uint32) error {
	_, err := c.execute(c.request(cmdCreate, unix.NLM_F_ACK|unix.NLM_F_CREATE, func(a *attrs) {
		a.putString(attrSetName, name)
		a.putString(attrTypeName, setType)
		a.putU8(attrRevision, revision)
		a.putU8(attrFamily, family)
		a.nest(attrData, func(a *attrs) {
			a.putBE32(attrTimeout, 0) // timeouts per element; none by default
			a.putBE32(attrMaxElem, maxElem)
		})
	}))
	return err
}

func (c *conn) simple(cmd int, name string) error {
	_, err := c.execute(c.request(cmd, unix.NLM_F_ACK, func(a *attrs) {
		a.putString(attrSetName, name)
	}))
	return err
}

func (c *conn) destroy(name string) error { return c.simple(cmdDestroy, name) }

// swap exchanges the contents of two sets of the same type. Rules that
// name one of them see the other's elements from then on.
func (c *conn) swap(a, b string) error {
	_, err := c.execute(c.request(cmdSwap, unix.NLM_F_ACK, func(at *attrs) {
		at.putString(attrSetName, a)
		at.putString(attrSetName2, b)
	}))
	return err
}

// names returns the names of every set.
func (c *conn) names() ([]string, error) {
	msgs, err := c.execute(c.request(cmdList, unix.NLM_F_ACK|unix.NLM_F_DUMP, func(a *attrs) {
		a.put(attrFlags, binary.BigEndian.AppendUint32(nil, flagListSetName))
	}))
	if err != nil {
		return nil, err
	}
	var out []string
	seen := make(map[string]bool)
	for _, m := range msgs {
		for typ, v := range parseAttrs(m) {
			if typ == attrSetName {
				if n := cString(v); !seen[n] {
					seen[n] = true
					out = append(out, n)
				}
			}
		}
	}
	return out, nil
}

// header is what list reports of a set besides its elements.
type header struct {
	typeName string
	family   uint8
}

// kernelEntry is an element as the kernel lists it.
type kernelEntry struct {
	prefix  netip.Prefix
	timeout time.Duration // time left; 0 = permanent
}

// list returns a set's header and elements.
func (c *conn) list(name string) (header, []kernelEntry, error) {
	msgs, err := c.execute(c.request(cmdList, unix.NLM_F_ACK|unix.NLM_F_DUMP, func(a *attrs) {
		a.putString(attrSetName, name)
	}))
	if err != nil {
		return header{}, nil, err
	}
	var h header
	var out []kernelEntry
	for _, m := range msgs {
		for typ, v := range parseAttrs(m) {
			switch typ {
			case attrTypeName:
				h.typeName = cString(v)
			case attrFamily:
				if len(v) > 0 {
					h.family = v[0]
				}
			case attrADT:
				for t, d := range parseAttrs(v) {
					if t != attrData {
						continue
					}
					if e, ok := parseEntry(d); ok {
						out = append(out, e)
					}
				}
			}
		}
	}
	return h, out, nil
}

func parseEntry(data []byte) (kernelEntry, bool) {
	var addr netip.Addr
	var e kernelEntry
	cidr := -1
	for typ, v := range parseAttrs(data) {
		switch typ {
		case attrIP:
			for t, a := range parseAttrs(v) {
				if t == attrIPAddrIPv4 || t == attrIPAddrIPv6 {
					addr, _ = netip.AddrFromSlice(a)
				}
			}
		case attrCIDR:
			if len(v) > 0 {
				cidr = int(v[0])
			}
		case attrTimeout:
			if len(v) == 4 {
				e.timeout = time.Duration(binary.BigEndian.Uint32(v)) * time.Second
			}
		}
	}
	if !addr.IsValid() {
		return e, false
	}
	if cidr < 0 {
		cidr = addr.BitLen()
	}
	p, err := addr.Prefix(cidr)
	if err != nil {
		return e, false
	}
	e.prefix = p
	return e, true
}

// maxBatch bounds the elements of one add or delete message. The kernel
// reads the list of elements as one attribute, whose length has 16 bits:
// an IPv6 element takes 44 bytes.
const maxBatch = 1000

// batchEntry is an element to add (with a timeout in seconds, 0 for
// permanent) or delete.
type batchEntry struct {
	prefix  netip.Prefix
	seconds uint32
}

// adt adds (cmd == cmdAdd) or deletes entries in one message. Adding an
// element that exists updates its timeout; deleting one that is missing
// is not an error. The kernel stops at the first element it refuses, so
// on error the caller cannot tell which elements were applied.
func (c *conn) adt(cmd int, set string, entries []batchEntry) error {
	// Without NLM_F_EXCL the kernel sets IPSET_FLAG_EXIST: existing
	// elements are updated and missing ones are ignored on delete.
	req := c.request(cmd, unix.NLM_F_ACK, func(a *attrs) {
		a.putString(attrSetName, set)
		// The kernel wants a line number with a list of elements; it
		// would report the failing element's number with it.
		a.putBE32(attrLineNo, 0)
		a.nest(attrADT, func(a *attrs) {
			for _, e := range entries {
				a.nest(attrData, func(a *attrs) {
					putEntry(a, cmd, e)
				})
			}
		})
	})
	_, err := c.execute(req)
	return err
}

func putEntry(a *attrs, cmd int, e batchEntry) {
	a.nest(attrIP, func(a *attrs) {
		if e.prefix.Addr().Is4() {
			b := e.prefix.Addr().As4()
			a.put(attrIPAddrIPv4|nlaNetOrder, b[:])
		} else {
			b := e.prefix.Addr().As16()
			a.put(attrIPAddrIPv6|nlaNetOrder, b[:])
		}
	})
	a.putU8(attrCIDR, uint8(e.prefix.Bits()))
	if cmd == cmdAdd {
		a.putBE32(attrTimeout, e.seconds)
	}
}

// parseAttrs iterates over the attributes in b, with the nested and byte
// order flags cleared from their types.
func parseAttrs(b []byte) func(yield func(uint16, []byte) bool) {
	return func(yield func(uint16, []byte) bool) {
		for len(b) >= 4 {
			n := int(binary.NativeEndian.Uint16(b))
			typ := binary.NativeEndian.Uint16(b[2:]) & nlaTypeMask
			if n < 4 || n > len(b) {
				return
			}
			if !yield(typ, b[4:n]) {
				return
			}
			n = (n + 3) &^ 3
			if n > len(b) {
				return
			}
			b = b[n:]
		}
	}
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// describe wraps an error of the kernel with what was being done.
func describe(err error, format string, args ...any) error {
	return fmt.Errorf("ipset: "+format+": %w", append(args, err)...)
}
