package syslog

import (
	"fmt"
	"net/netip"
	"path"
	"strings"
)

// Filter selects messages by program and host: a listener's allow-list,
// or what one jail takes of all that a listener receives.
type Filter struct {
	programs []string
	hostPats []string
	prefixes []netip.Prefix
}

// NewFilter makes a Filter. A message passes if its Program matches one
// of programs and its host one of hosts; an empty list lets any through.
//
// A program is a shell pattern (path.Match: "sshd", "postfix/*").
// A host is an address or prefix ("192.0.2.7", "198.51.100.0/24"),
// matched against the sender's address and against the header's HOSTNAME
// when that is an address, or else a shell pattern matched against the
// HOSTNAME without regard to case ("web*", "*.example.org").
func NewFilter(programs, hosts []string) (Filter, error) {
	var f Filter
	for _, p := range programs {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			return Filter{}, fmt.Errorf("syslog program pattern %q: invalid", p)
		}
		f.programs = append(f.programs, p)
	}
	for _, h := range hosts {
		if p, err := netip.ParsePrefix(h); err == nil {
			f.prefixes = append(f.prefixes, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(h); err == nil {
			f.prefixes = append(f.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		if _, err := path.Match(h, ""); err != nil || h == "" {
			return Filter{}, fmt.Errorf("syslog host pattern %q: invalid", h)
		}
		f.hostPats = append(f.hostPats, strings.ToLower(h))
	}
	return f, nil
}

// Match reports whether m passes the filter.
func (f Filter) Match(m *Message) bool {
	return f.matchProgram(m.Program) && f.matchHost(m)
}

func (f Filter) matchProgram(program string) bool {
	if len(f.programs) == 0 {
		return true
	}
	for _, p := range f.programs {
		if ok, _ := path.Match(p, program); ok {
			return true
		}
	}
	return false
}

func (f Filter) matchHost(m *Message) bool {
	if len(f.prefixes) == 0 && len(f.hostPats) == 0 {
		return true
	}
	hostAddr, _ := netip.ParseAddr(m.Host)
	for _, p := range f.prefixes {
		if m.Sender.IsValid() && p.Contains(m.Sender.Unmap()) {
			return true
		}
		if hostAddr.IsValid() && p.Contains(hostAddr.Unmap()) {
			return true
		}
	}
	host := strings.ToLower(m.Host)
	for _, p := range f.hostPats {
		if ok, _ := path.Match(p, host); ok {
			return true
		}
	}
	return false
}
