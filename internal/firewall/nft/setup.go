package nft

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
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
	v4    *setState
	v6    *setState
}

// setState is one of a jail's two sets.
type setState struct {
	set *nftables.Set
	is4 bool
	// model is nil until it is known: a set that existed before this
	// process is read back from the kernel the first time it is needed
	// (Replace makes that unnecessary).
	model *model
	// pruned is when the model last forgot expired bans.
	pruned time.Time
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

// maxNameLen bounds the part of a set name derived from the jail name; the
// kernel allows 255 bytes.
const maxNameLen = 64

// setBaseName returns the part of a jail's set names before "-v4" or
// "-v6". Names that nft(8) cannot parse back in `@name` (it wants a letter
// or '_' first, then letters, digits, '_', '-' and '.') or that are long
// are rewritten deterministically: unsuitable bytes become '_', and a hash
// of the jail name is appended so that distinct jails keep distinct sets.
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
		js := &jailState{name: j.Name, l4: l4}
		if l4 >= 0 {
			js.ports = firewall.MergePorts(j.Ports)
		}
		js.v4 = &setState{is4: true, set: &nftables.Set{
			Table: b.table, Name: base + "-v4", KeyType: nftables.TypeIPAddr, Interval: true, HasTimeout: true,
		}}
		js.v6 = &setState{set: &nftables.Set{
			Table: b.table, Name: base + "-v6", KeyType: nftables.TypeIP6Addr, Interval: true, HasTimeout: true,
		}}
		out = append(out, js)
	}
	return out, nil
}

// Setup makes the table hold exactly the given jails: it creates the table,
// the chain and each jail's sets and rules. It may be called again, on a
// configuration reload: new jails are added, jails no longer listed are
// removed with their bans, the rules of the others are rewritten, and their
// bans are kept. Everything happens in one transaction.
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
	previous := make(map[string]*setState)
	for _, js := range b.jails {
		previous[js.v4.set.Name] = js.v4
		previous[js.v6.set.Name] = js.v6
	}

	c := b.conn
	c.AddTable(b.table)
	c.AddChain(b.chain)
	if chainExists {
		c.FlushChain(b.chain)
	}
	inUse := make(map[string]bool)
	for _, js := range states {
		for _, st := range []*setState{js.v4, js.v6} {
			inUse[st.set.Name] = true
			old, ok := existing[st.set.Name]
			switch {
			case ok && compatible(old, st.set):
				if prev := previous[st.set.Name]; prev != nil {
					st.model, st.pruned = prev.model, prev.pruned
				} // else: read back from the kernel when needed
			case ok:
				c.DelSet(old)
				fallthrough
			default:
				if err := c.AddSet(st.set, nil); err != nil {
					return b.abort(fmt.Errorf("nftables: adding set %s: %w", st.set.Name, err))
				}
				st.model = newModel(b.bits(st))
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

func (b *Backend) bits(st *setState) int {
	if st.is4 {
		return 32
	}
	return 128
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

// compatible reports whether an existing set can be kept as want.
func compatible(have, want *nftables.Set) bool {
	return have.KeyType.Name == want.KeyType.Name && have.Interval && have.HasTimeout &&
		!have.IsMap && !have.Constant && !have.Concatenation
}

// addRule queues the rule that drops what the jail blocks from addresses
// in st's set:
//
//	meta l4proto tcp th dport 22 ip saddr @sshd-v4 drop
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
