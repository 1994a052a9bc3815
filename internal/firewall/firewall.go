// Package firewall holds what every ban backend shares: the description of
// a jail's filtering and of one banned prefix. The backends live in
// subpackages (nft for nftables through netlink); they know no ban policy.
package firewall

import (
	"errors"
	"net/netip"
	"time"
)

// Protocols a Jail may use. An empty Protocol means ProtocolTCP.
const (
	ProtocolTCP     = "tcp"
	ProtocolUDP     = "udp"
	ProtocolSCTP    = "sctp"
	ProtocolDCCP    = "dccp"
	ProtocolUDPLite = "udplite"
	// ProtocolAll blocks every protocol and port; Ports are ignored.
	ProtocolAll = "all"
)

// ErrUnknownJail is wrapped by the errors of backends given a jail that
// their last Setup did not list.
var ErrUnknownJail = errors.New("unknown jail")

// Jail is what a backend needs to know of a jail to block its traffic.
type Jail struct {
	Name     string
	Ports    []PortRange // empty = every port
	Protocol string      // "tcp", "udp" or "all"
	// BanPrefix4 and BanPrefix6 are the prefix lengths the jail bans IPv4
	// and IPv6 attackers by (its banprefix.ipv4 and banprefix.ipv6): most
	// of its bans have that length, and a backend may keep them in a set
	// of their own that the kernel fills faster. 0 means a full address
	// (32, 128). Bans of every other length are accepted all the same.
	// When they change, a backend's Setup may drop the jail's bans: the
	// caller then applies them again with Replace.
	BanPrefix4, BanPrefix6 int
}

// PortRange is an inclusive range of ports.
type PortRange struct {
	From, To uint16
}

// Element is one banned prefix in a jail's set.
type Element struct {
	Prefix  netip.Prefix
	Timeout time.Duration // time left; 0 = permanent
}
