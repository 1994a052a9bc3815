package ipset

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gaol-project/gaol/internal/firewall"
)

// jailState is a jail as set up in the kernel.
type jailState struct {
	name     string
	protocol string // one of the Protocol constants
	ports    []firewall.PortRange
	v4, v6   string // set names
}

func (js *jailState) set(i int) string {
	if i == 0 {
		return js.v4
	}
	return js.v6
}

var protocols = map[string]string{
	"":                       firewall.ProtocolTCP,
	firewall.ProtocolTCP:     firewall.ProtocolTCP,
	firewall.ProtocolUDP:     firewall.ProtocolUDP,
	firewall.ProtocolSCTP:    firewall.ProtocolSCTP,
	firewall.ProtocolDCCP:    firewall.ProtocolDCCP,
	firewall.ProtocolUDPLite: firewall.ProtocolUDPLite,
	firewall.ProtocolAll:     firewall.ProtocolAll,
}

// Set names are NAME-JAIL-v4 and NAME-JAIL-v6; Replace fills a temporary
// set named like the set with tempSuffix added.
const tempSuffix = "-r"

// setBaseName returns the part of a jail's set names that comes from the
// jail name. Names with bytes other than letters, digits, '_', '-' and '.',
// or too long for ipset (31 bytes in all), are rewritten deterministically:
// unsuitable bytes become '_', and a hash of the jail name is appended so
// that distinct jails keep distinct sets.
func setBaseName(chain, jail string) string {
	limit := maxNameLen - len(chain) - len("-") - len("-v4") - len(tempSuffix)
	ok := jail != "" && len(jail) <= limit
	for i := 0; ok && i < len(jail); i++ {
		ok = nameByte(jail[i])
	}
	if ok {
		return jail
	}
	var sb strings.Builder
	for i := 0; i < len(jail) && sb.Len() < limit-9; i++ {
		c := jail[i]
		if !nameByte(c) {
			c = '_'
		}
		sb.WriteByte(c)
	}
	sum := sha256.Sum256([]byte(jail))
	sb.WriteByte('_')
	sb.WriteString(hex.EncodeToString(sum[:4]))
	return sb.String()
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// owned reports whether a set name is one of the backend's: NAME-*-v4 or
// NAME-*-v6, or a temporary set of Replace.
func (b *Backend) owned(set string) bool {
	rest, ok := strings.CutPrefix(set, b.chain+"-")
	if !ok {
		return false
	}
	rest = strings.TrimSuffix(rest, tempSuffix)
	return len(rest) > len("-v4") && (strings.HasSuffix(rest, "-v4") || strings.HasSuffix(rest, "-v6"))
}

// compile validates jails and returns their states.
func (b *Backend) compile(jails []firewall.Jail) ([]*jailState, error) {
	out := make([]*jailState, 0, len(jails))
	names := make(map[string]string) // set base name -> jail
	for _, j := range jails {
		if j.Name == "" {
			return nil, errors.New("ipset: a jail has no name")
		}
		proto, ok := protocols[strings.ToLower(j.Protocol)]
		if !ok {
			return nil, fmt.Errorf("ipset: jail %q: unsupported protocol %q (want tcp, udp, sctp, dccp, udplite or all)", j.Name, j.Protocol)
		}
		base := setBaseName(b.chain, j.Name)
		if other, dup := names[base]; dup {
			if other == j.Name {
				return nil, fmt.Errorf("ipset: jail %q listed twice", j.Name)
			}
			return nil, fmt.Errorf("ipset: jails %q and %q map to the same set name %q", other, j.Name, base)
		}
		names[base] = j.Name
		for _, r := range j.Ports {
			if r.From > r.To {
				return nil, fmt.Errorf("ipset: jail %q: port range %d-%d is reversed", j.Name, r.From, r.To)
			}
		}
		js := &jailState{
			name:     j.Name,
			protocol: proto,
			v4:       b.chain + "-" + base + "-v4",
			v6:       b.chain + "-" + base + "-v6",
		}
		if proto != firewall.ProtocolAll {
			js.ports = firewall.MergePorts(j.Ports)
		}
		out = append(out, js)
	}
	return out, nil
}

// Setup makes the kernel hold exactly the given jails: a pair of sets for
// each, and the chain with their rules, hooked first into INPUT, for IPv4
// and IPv6. It may be called again, on a configuration reload: new jails
// are added, jails no longer listed are removed with their bans, the rules
// of the others are rewritten, and their bans are kept. Sets that exist
// with the right type are kept with their elements, so a restarted daemon
// finds its bans. Each family's rules change in one iptables-restore
// transaction.
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
	inUse := make(map[string]bool)
	var conflicting []string
	for _, js := range states {
		for i, f := range b.fams {
			name := js.set(i)
			inUse[name] = true
			err := b.conn.create(name, f.nfproto, b.rev[i], b.maxElem)
			switch {
			case errors.Is(err, ipsetError(errExistSetName2)), errors.Is(err, syscall.EEXIST):
				conflicting = append(conflicting, name)
			case err != nil:
				return describe(err, "creating set %s", name)
			}
		}
	}
	if len(conflicting) > 0 {
		// Sets of the same names but another type (or size): rules of
		// the chain may reference them, so empty it before replacing
		// them.
		for _, f := range b.fams {
			if err := b.writeChain(f, nil); err != nil {
				return fmt.Errorf("ipset: emptying chain %s: %w", b.chain, err)
			}
		}
		for _, name := range conflicting {
			i := 0
			if strings.HasSuffix(name, "-v6") {
				i = 1
			}
			if err := b.recreate(name, i); err != nil {
				return err
			}
		}
	}
	for _, f := range b.fams {
		if err := b.writeChain(f, states); err != nil {
			return fmt.Errorf("ipset: writing the %s rules: %w", f.iptables, err)
		}
		st, err := b.inspect(f)
		if err == nil {
			err = b.hook(f, st)
		}
		if err != nil {
			return fmt.Errorf("ipset: hooking chain %s into %s INPUT: %w", b.chain, f.iptables, err)
		}
	}
	if err := b.destroyUnused(inUse); err != nil {
		return err
	}
	b.setupJails = slices.Clone(jails)
	b.jails = make(map[string]*jailState, len(states))
	for _, js := range states {
		b.jails[js.name] = js
	}
	for set := range b.long {
		if !inUse[set] {
			delete(b.long, set)
		}
	}
	b.verified = b.now()
	return nil
}

// recreate replaces a set of another type or size by one of the backend's,
// keeping the elements it can.
func (b *Backend) recreate(name string, fam int) error {
	_, old, err := b.conn.list(name)
	if err != nil {
		return describe(err, "reading set %s of another type", name)
	}
	if err := b.destroy(name); err != nil {
		return describe(err, "replacing set %s of another type", name)
	}
	if err := b.conn.create(name, b.fams[fam].nfproto, b.rev[fam], b.maxElem); err != nil {
		return describe(err, "creating set %s", name)
	}
	var keep []batchEntry
	for _, e := range old {
		if e.prefix.Addr().Is4() == (fam == 0) && e.prefix.Bits() > 0 {
			keep = append(keep, batchEntry{prefix: e.prefix, seconds: uint32(e.timeout / time.Second)})
		}
	}
	if err := b.addEntries(name, keep); err != nil {
		return describe(err, "restoring the elements of set %s", name)
	}
	return nil
}

// destroyUnused destroys the backend's sets that are not in use.
func (b *Backend) destroyUnused(inUse map[string]bool) error {
	names, err := b.conn.names()
	if err != nil {
		return describe(err, "listing sets")
	}
	for _, n := range names {
		if b.owned(n) && !inUse[n] {
			if err := b.destroy(n); err != nil {
				return describe(err, "destroying set %s", n)
			}
			delete(b.long, n)
		}
	}
	return nil
}

// destroy destroys a set that no rule of the backend's references any
// more. The kernel may release the reference of a rule just deleted a
// little later (iptables-nft frees rules after the transaction), so a set
// still referenced is tried again for a short while.
func (b *Backend) destroy(name string) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := b.conn.destroy(name)
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, ipsetError(errReferenced)) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// verifyEvery is how long Replace trusts that the rules it wrote are still
// there.
const verifyEvery = 10 * time.Second

// intact reports whether the chain, its rules, the hook and the sets are
// as the last Setup left them.
func (b *Backend) intact() (bool, error) {
	states := make([]*jailState, 0, len(b.jails))
	for _, j := range b.setupJails {
		states = append(states, b.jails[j.Name])
	}
	for i, f := range b.fams {
		st, err := b.inspect(f)
		if err != nil {
			return false, err
		}
		if !st.chainExists || st.jumps != 1 || st.rules != expectedRules(b.chain, states, i == 1) {
			return false, nil
		}
	}
	names, err := b.conn.names()
	if err != nil {
		return false, describe(err, "listing sets")
	}
	have := make(map[string]bool, len(names))
	for _, n := range names {
		have[n] = true
	}
	for _, js := range states {
		if !have[js.v4] || !have[js.v6] {
			return false, nil
		}
	}
	return true, nil
}

// expectedRules returns the chain's rules as `iptables -S` lists them.
func expectedRules(chain string, states []*jailState, v6 bool) string {
	var sb strings.Builder
	for line := range strings.Lines(chainRules(chain, states, v6)) {
		if strings.HasPrefix(line, "-A ") {
			sb.WriteString(line)
		}
	}
	return sb.String()
}
