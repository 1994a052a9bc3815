package nft

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"

	"github.com/gaol-project/gaol/internal/firewall"
)

// jailState is a jail as set up in the kernel.
type jailState struct {
	name  string
	l4    int // IP protocol number; -1 for every protocol
	ports []firewall.PortRange
	v4    *family
	v6    *family
}

// family is a jail's pair of sets for one address family. Bans of the
// jail's ban prefix length (a single address, or the /64 of an IPv6
// attacker) are the common case, and the kernel adds elements to a hash
// set faster than to an interval set (which holds each prefix as two
// elements), so they have a set of their own; the bans of other prefixes
// go to the interval set.
type family struct {
	addrs *setState // hash set <base>-v4: the bans of the jail's length
	nets  *setState // interval set <base>-v4-net: the bans of other prefixes
}

// sets returns the family's sets.
func (f *family) sets() []*setState { return []*setState{f.addrs, f.nets} }

// sets returns the jail's sets: IPv4 addresses and prefixes, then IPv6.
func (js *jailState) sets() []*setState {
	return []*setState{js.v4.addrs, js.v4.nets, js.v6.addrs, js.v6.nets}
}

// setState is one of a jail's sets and the backend's model of it: an
// addrModel for a hash set, a model for an interval set.
type setState struct {
	set *nftables.Set
	is4 bool
	// plen is the length of the prefixes a hash set holds, the jail's ban
	// prefix length: its elements are their network addresses, and its
	// rule looks up the source address masked to that length. For an
	// interval set it is the family's full length, and unused.
	plen int
	// The model is nil until it is known: a set that existed before this
	// process is read back from the kernel the first time it is needed
	// (Replace makes that unnecessary).
	addrs *addrModel // hash set
	nets  *model     // interval set
	// pruned is when the model last forgot expired bans.
	pruned time.Time
}

// interval reports whether st is an interval set (of prefixes of any
// length) rather than a hash set (of prefixes of one length).
func (st *setState) interval() bool { return st.set.Interval }

// bits returns the length of the family's addresses: 32 or 128.
func (st *setState) bits() int {
	if st.is4 {
		return 32
	}
	return 128
}

// known reports whether the set's model is known.
func (st *setState) known() bool { return st.addrs != nil || st.nets != nil }

// forget drops the model: the set is read back from the kernel when next
// needed.
func (st *setState) forget() { st.addrs, st.nets = nil, nil }

// empty gives the set an empty model.
func (st *setState) empty(now time.Time) {
	st.forget()
	if st.interval() {
		st.nets = newModel(st.bits())
	} else {
		st.addrs = newAddrModel(st.is4, st.plen, 0)
	}
	st.pruned = now
}

// adopt makes entries read from the kernel the model's elements. A set
// without a model gets them as its bans too; an interval set with a model
// keeps its bans, from which the elements derive.
func (st *setState) adopt(entries []entry, now time.Time) {
	if !st.interval() {
		m := newAddrModel(st.is4, st.plen, len(entries))
		for _, e := range entries {
			m.elems[keyOf(e.prefix.Addr())] = e.deadline
		}
		st.addrs, st.pruned = m, now
		return
	}
	if st.nets == nil {
		st.nets = newModel(st.bits())
		for _, e := range entries {
			st.nets.bans.put(e.prefix, e.deadline)
		}
		st.pruned = now
	}
	st.nets.elems = newIndex(st.bits())
	for _, e := range entries {
		st.nets.elems.put(e.prefix, e.deadline)
	}
}

// prune makes the model forget expired bans, at most every pruneEvery.
func (st *setState) prune(now time.Time) {
	if now.Sub(st.pruned) <= pruneEvery {
		return
	}
	if st.addrs != nil {
		st.addrs.prune(now)
	}
	if st.nets != nil {
		st.nets.prune(now)
	}
	st.pruned = now
}

var protocols = map[string]int{
	"":                       unix.IPPROTO_TCP,
	firewall.ProtocolTCP:     unix.IPPROTO_TCP,
	firewall.ProtocolUDP:     unix.IPPROTO_UDP,
	firewall.ProtocolSCTP:    unix.IPPROTO_SCTP,
	firewall.ProtocolDCCP:    unix.IPPROTO_DCCP,
	firewall.ProtocolUDPLite: unix.IPPROTO_UDPLITE,
	firewall.ProtocolAll:     -1,
}

// maxNameLen bounds the part of a set name derived from the jail name, and
// the table name. With the longest suffix ("-v4-net") a set name stays far
// below the kernel's 255 bytes.
const maxNameLen = 64

// Suffixes of a jail's set names: after the base name, the family, and for
// the interval set of prefixes other than the jail's length, "-net". A set
// name ends in "-v4", "-v6", "-v4-net" or "-v6-net", none of which ends
// another, so distinct base names never give the same set name.
const (
	suffix4    = "-v4"
	suffix6    = "-v6"
	suffixNets = "-net"
)

// setBaseName returns the part of a jail's set names before the suffixes
// ("-v4", "-v6-net"...). Names that nft(8) cannot parse back in `@name`
// (it wants a letter or '_' first, then letters, digits, '_', '-' and '.')
// or that are long are rewritten deterministically: unsuitable bytes
// become '_', and a hash of the jail name is appended so that distinct
// jails keep distinct sets.
func setBaseName(jail string) string {
	ok := len(jail) <= maxNameLen
	for i := 0; ok && i < len(jail); i++ {
		ok = nameByte(jail[i], i == 0)
	}
	if ok {
		return jail
	}
	var sb strings.Builder
	if jail != "" && !nameByte(jail[0], true) && nameByte(jail[0], false) {
		sb.WriteByte('_') // keep a leading digit, '-' or '.'
	}
	for i := 0; i < len(jail) && sb.Len() < maxNameLen-9; i++ {
		c := jail[i]
		if !nameByte(c, sb.Len() == 0) {
			c = '_'
		}
		sb.WriteByte(c)
	}
	sum := sha256.Sum256([]byte(jail))
	sb.WriteByte('_')
	sb.WriteString(hex.EncodeToString(sum[:4]))
	return sb.String()
}

func nameByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		return true
	case c >= '0' && c <= '9', c == '-', c == '.':
		return !first
	}
	return false
}

func checkName(what, name string) error {
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i], i == 0) {
			return fmt.Errorf("nftables: invalid %s name %q: use letters, digits, '_', '-' and '.', starting with a letter or '_'", what, name)
		}
	}
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("nftables: invalid %s name %q: 1 to %d bytes", what, name, maxNameLen)
	}
	return nil
}

// compile validates jails and returns their states, without models.
func (b *Backend) compile(jails []firewall.Jail) ([]*jailState, error) {
	out := make([]*jailState, 0, len(jails))
	names := make(map[string]string) // set base name -> jail
	for _, j := range jails {
		if j.Name == "" {
			return nil, errors.New("nftables: a jail has no name")
		}
		l4, ok := protocols[strings.ToLower(j.Protocol)]
		if !ok {
			return nil, fmt.Errorf("nftables: jail %q: unsupported protocol %q (want tcp, udp, sctp, dccp, udplite or all)", j.Name, j.Protocol)
		}
		base := setBaseName(j.Name)
		if other, dup := names[base]; dup {
			if other == j.Name {
				return nil, fmt.Errorf("nftables: jail %q listed twice", j.Name)
			}
			return nil, fmt.Errorf("nftables: jails %q and %q map to the same set name %q", other, j.Name, base)
		}
		names[base] = j.Name
		for _, r := range j.Ports {
			if r.From > r.To {
				return nil, fmt.Errorf("nftables: jail %q: port range %d-%d is reversed", j.Name, r.From, r.To)
			}
		}
		len4, len6 := j.BanPrefix4, j.BanPrefix6
		if len4 == 0 {
			len4 = 32
		}
		if len6 == 0 {
			len6 = 128
		}
		if len4 < 1 || len4 > 32 || len6 < 1 || len6 > 128 {
			return nil, fmt.Errorf("nftables: jail %q: ban prefix lengths /%d, /%d: want 1 to 32 for IPv4, 1 to 128 for IPv6 (0: a full address)", j.Name, j.BanPrefix4, j.BanPrefix6)
		}
		js := &jailState{name: j.Name, l4: l4}
		if l4 >= 0 {
			js.ports = firewall.MergePorts(j.Ports)
		}
		js.v4 = b.family(base+suffix4, true, len4)
		js.v6 = b.family(base+suffix6, false, len6)
		out = append(out, js)
	}
	return out, nil
}

// family returns the sets of one family, named name and name-net, without
// models: the hash set holds the bans of prefixes of length plen.
func (b *Backend) family(name string, is4 bool, plen int) *family {
	key, total := nftables.TypeIP6Addr, 128
	if is4 {
		key, total = nftables.TypeIPAddr, 32
	}
	return &family{
		addrs: &setState{is4: is4, plen: plen, set: &nftables.Set{
			Table: b.table, Name: name, KeyType: key, HasTimeout: true,
		}},
		nets: &setState{is4: is4, plen: total, set: &nftables.Set{
			Table: b.table, Name: name + suffixNets, KeyType: key, Interval: true, HasTimeout: true,
		}},
	}
}

// Setup makes the table hold exactly the given jails: it creates the table,
// the chain and each jail's sets and rules. It may be called again, on a
// configuration reload: new jails are added, jails no longer listed are
// removed with their bans, the rules of the others are rewritten, and their
// bans are kept. Everything happens in one transaction.
//
// A jail whose ban prefix length for a family (Jail.BanPrefix4,
// BanPrefix6) changed loses the bans of its hash set for that family: its
// elements were the network addresses of prefixes of the old length, and
// mean other prefixes under the new rule. The caller must then apply the
// jail's bans again with Replace (the daemon does on such a reload). The
// change is seen from the previous Setup of this Backend or, after a
// restart, from the mask of the rule in the kernel. Bans in the interval
// sets are kept; Replace sorts them out too.
//
// A set of the right name but of another kind (a table made by an older
// gaol held every ban of a family in one interval set) is made again,
// empty: the daemon's Replace at start fills it from its store.
func (b *Backend) Setup(jails []firewall.Jail) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usable(); err != nil {
		return err
	}
	return b.setup(jails)
}

func (b *Backend) setup(jails []firewall.Jail) error {
	states, err := b.compile(jails)
	if err != nil {
		return err
	}
	existing, chainExists, err := b.inventory()
	if err != nil {
		return err
	}
	var ruleLens map[string]int
	if chainExists {
		ruleLens = b.lookupLengths()
	}
	previous := make(map[string]*setState)
	for _, js := range b.jails {
		for _, st := range js.sets() {
			previous[st.set.Name] = st
		}
	}
	now := b.now()

	c := b.conn
	c.AddTable(b.table)
	c.AddChain(b.chain)
	if chainExists {
		c.FlushChain(b.chain)
	}
	inUse := make(map[string]bool)
	for _, js := range states {
		for _, st := range js.sets() {
			inUse[st.set.Name] = true
			old, ok := existing[st.set.Name]
			prev := previous[st.set.Name]
			switch {
			case ok && compatible(old, st.set) && !st.interval() && lengthChanged(st, prev, ruleLens):
				// The elements are prefixes of another length: the
				// caller applies the jail's bans again.
				c.FlushSet(st.set)
				st.empty(now)
			case ok && compatible(old, st.set):
				if prev != nil {
					st.addrs, st.nets, st.pruned = prev.addrs, prev.nets, prev.pruned
				} // else: read back from the kernel when needed
			case ok:
				c.DelSet(old)
				fallthrough
			default:
				if err := c.AddSet(st.set, nil); err != nil {
					return b.abort(fmt.Errorf("nftables: adding set %s: %w", st.set.Name, err))
				}
				st.empty(now)
			}
			if err := b.addRule(js, st); err != nil {
				return b.abort(err)
			}
		}
	}
	for name, s := range existing {
		if !inUse[name] {
			c.DelSet(s)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: setting up table inet %s: %w", b.table.Name, err)
	}
	b.setupJails = slices.Clone(jails)
	b.jails = make(map[string]*jailState, len(states))
	for _, js := range states {
		b.jails[js.name] = js
	}
	return nil
}

// abort drops the commands queued so far and returns err.
func (b *Backend) abort(err error) error {
	// An empty flush is a no-op; a failing one reports nothing new.
	b.conn = b.freshConn(b.conn)
	return err
}

// freshConn returns a connection without queued commands. Conn has no way to
// drop them, so the old one is replaced by a copy of its settings.
func (b *Backend) freshConn(old *nftables.Conn) *nftables.Conn {
	opts := []nftables.ConnOption{nftables.WithSockOptions(b.setBuffers)}
	if b.nsFD >= 0 {
		opts = append(opts, nftables.WithNetNSFd(b.nsFD))
	}
	c, err := nftables.New(opts...)
	if err != nil { // cannot happen without AsLasting
		return old
	}
	return c
}

// inventory returns the named sets of the table and whether its chain
// exists.
func (b *Backend) inventory() (map[string]*nftables.Set, bool, error) {
	sets := make(map[string]*nftables.Set)
	exists, err := b.tableExists()
	if err != nil || !exists {
		return sets, false, err
	}
	list, err := b.conn.GetSets(b.table)
	if err != nil {
		return nil, false, fmt.Errorf("nftables: listing sets of table inet %s: %w", b.table.Name, err)
	}
	for _, s := range list {
		if !s.Anonymous {
			sets[s.Name] = s
		}
	}
	chains, err := b.conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, false, fmt.Errorf("nftables: listing chains: %w", err)
	}
	for _, ch := range chains {
		if ch.Table.Name == b.table.Name && ch.Name == b.chain.Name {
			return sets, true, nil
		}
	}
	return sets, false, nil
}

// lengthChanged reports whether the hash set st held prefixes of another
// length than it is to hold now: as the previous Setup said (prev), or
// else as the rule in the kernel that looks the set up masks the address
// (ruleLens). If neither knows, the set is taken to hold prefixes of the
// current length.
func lengthChanged(st, prev *setState, ruleLens map[string]int) bool {
	if prev != nil {
		return prev.plen != st.plen
	}
	if n, ok := ruleLens[st.set.Name]; ok {
		return n != st.plen
	}
	return false
}

// lookupLengths returns, for each named set that a rule of the chain looks
// up an address in, the prefix length the rule masks the address to first
// (the address's full length without a mask). It reads the rules of the
// chain; if that fails it returns nothing, and Setup takes the lengths to
// be unchanged.
func (b *Backend) lookupLengths() map[string]int {
	rules, err := b.conn.GetRules(b.table, b.chain)
	if err != nil {
		return nil
	}
	out := make(map[string]int)
	for _, r := range rules {
		n := -1 // the length of what the register holds, if an address
		for _, e := range r.Exprs {
			switch e := e.(type) {
			case *expr.Meta:
				n = -1
			case *expr.Payload:
				n = -1
				if e.Base == expr.PayloadBaseNetworkHeader && (e.Len == 4 || e.Len == 16) {
					n = int(e.Len) * 8
				}
			case *expr.Bitwise:
				if n >= 0 {
					n = maskLen(e.Mask, e.Xor)
				}
			case *expr.Lookup:
				if n >= 0 && e.SetName != "" {
					out[e.SetName] = n
				}
				n = -1
			}
		}
	}
	return out
}

// maskLen returns the prefix length of a network mask (its leading ones),
// or -1 if mask is not one or xor is not zero.
func maskLen(mask, xor []byte) int {
	if slices.ContainsFunc(xor, func(c byte) bool { return c != 0 }) {
		return -1
	}
	n, ended := 0, false
	for _, c := range mask {
		ones := bits.LeadingZeros8(^c)
		if ended && c != 0 || c<<ones != 0 {
			return -1 // a one after a zero
		}
		n += ones
		ended = ones < 8
	}
	return n
}

// compatible reports whether an existing set can be kept as want: same
// key, same kind (hash or interval), with timeouts, a plain set.
func compatible(have, want *nftables.Set) bool {
	return have.KeyType.Name == want.KeyType.Name && have.Interval == want.Interval &&
		have.HasTimeout && !have.IsMap && !have.Constant && !have.Concatenation
}

// addRule queues the rule that drops what the jail blocks from addresses
// in st's set, with the jail's name as comment:
//
//	meta l4proto tcp th dport 22 ip saddr @sshd-v4 drop
//
// Each set of a jail has a rule of its own. A hash set of prefixes shorter
// than an address is looked up with the source address masked to their
// length, which gives the network address its elements are:
//
//	meta l4proto tcp th dport 22 ip6 saddr & ffff:ffff:ffff:ffff:: == @sshd-v6 drop
func (b *Backend) addRule(js *jailState, st *setState) error {
	const reg = 1
	var exprs []expr.Any
	if js.l4 >= 0 {
		exprs = append(exprs,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: []byte{byte(js.l4)}},
		)
		if len(js.ports) > 0 {
			exprs = append(exprs, &expr.Payload{
				DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2,
			})
			switch r := js.ports[0]; {
			case len(js.ports) == 1 && r.From == r.To:
				exprs = append(exprs, &expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: port(r.From)})
			case len(js.ports) == 1:
				exprs = append(exprs,
					&expr.Cmp{Op: expr.CmpOpGte, Register: reg, Data: port(r.From)},
					&expr.Cmp{Op: expr.CmpOpLte, Register: reg, Data: port(r.To)},
				)
			default:
				set, err := b.addPortSet(js.ports)
				if err != nil {
					return fmt.Errorf("nftables: jail %q: port set: %w", js.name, err)
				}
				exprs = append(exprs, &expr.Lookup{SourceRegister: reg, SetName: set.Name, SetID: set.ID})
			}
		}
	}
	nfproto, offset, size := byte(unix.NFPROTO_IPV6), uint32(8), uint32(16)
	if st.is4 {
		nfproto, offset, size = unix.NFPROTO_IPV4, 12, 4
	}
	exprs = append(exprs,
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: []byte{nfproto}},
		&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: size},
	)
	if !st.interval() && st.plen < st.bits() {
		exprs = append(exprs, &expr.Bitwise{
			SourceRegister: reg, DestRegister: reg, Len: size,
			Mask: prefixMask(st.plen, int(size)), Xor: make([]byte, size),
		})
	}
	exprs = append(exprs,
		&expr.Lookup{SourceRegister: reg, SetName: st.set.Name, SetID: st.set.ID},
		&expr.Verdict{Kind: expr.VerdictDrop},
	)
	b.conn.AddRule(&nftables.Rule{
		Table:    b.table,
		Chain:    b.chain,
		Exprs:    exprs,
		UserData: userdata.AppendString(nil, userdata.TypeComment, comment(js.name)),
	})
	return nil
}

// prefixMask returns the network mask of a prefix of bits ones in size
// bytes.
func prefixMask(ones, size int) []byte {
	m := make([]byte, size)
	for i := range m {
		switch {
		case ones >= 8:
			m[i] = 0xff
		case ones > 0:
			m[i] = byte(0xff << (8 - ones))
		}
		ones -= 8
	}
	return m
}

// comment returns the jail name cut to what nft(8) shows as a comment.
func comment(s string) string {
	const maxComment = 127
	if len(s) <= maxComment {
		return s
	}
	s = s[:maxComment]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// addPortSet queues an anonymous interval set of the ports.
func (b *Backend) addPortSet(ports []firewall.PortRange) (*nftables.Set, error) {
	set := &nftables.Set{
		Table:     b.table,
		Anonymous: true,
		Constant:  true,
		Interval:  true,
		KeyType:   nftables.TypeInetService,
	}
	var elems []nftables.SetElement
	for _, r := range ports {
		elems = append(elems, nftables.SetElement{Key: port(r.From)})
		if r.To != 65535 {
			elems = append(elems, nftables.SetElement{Key: port(r.To + 1), IntervalEnd: true})
		}
	}
	if err := b.conn.AddSet(set, elems); err != nil {
		return nil, err
	}
	return set, nil
}

func port(p uint16) []byte {
	return binary.BigEndian.AppendUint16(nil, p)
}
