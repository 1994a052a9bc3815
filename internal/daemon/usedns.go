package daemon

import (
	"context"
	"net/netip"

	"github.com/gaol-project/gaol/internal/engine"
	"github.com/gaol-project/gaol/internal/match"
)

// usedns: a failure whose <HOST> is a host name rather than an address is,
// under usedns = yes or warn, a failure of each address the name resolves
// to (fail2ban's DNSUtils.textToIp); under no or raw it counts for nothing.
// Answers, failed lookups included, are cached (hostres).

// namesHost reports whether a stateless filter's result is a failure that
// names a host the jail resolves.
func (j *jailRuntime) namesHost(r *match.Result) bool {
	return j.useDNS != "" && r.Unresolved && r.HostName
}

// failureNamesHost reports whether a Matcher's failure names a host the
// jail resolves.
func (j *jailRuntime) failureNamesHost(f *match.Failure) bool {
	return j.useDNS != "" && !f.Addr.IsValid() && f.HostName
}

// resolveHost returns the addresses of the host name a failure of jail j
// names, logging as fail2ban does: a warning for each name resolved under
// usedns = warn, and one for each lookup that failed. A name that does not
// resolve gives none.
func (m *lineMatcher) resolveHost(ctx context.Context, j *jailRuntime, name string) []netip.Addr {
	addrs, fresh, err := m.hosts.Resolve(ctx, name)
	if err != nil {
		if fresh {
			m.log.Warn("unable to find a corresponding IP address", "jail", j.cfg.Name, "host", name, "err", err)
		}
		return nil
	}
	if j.useDNS == "warn" {
		m.log.Warn("determined IP using DNS lookup", "jail", j.cfg.Name, "host", name, "addrs", addrs)
	}
	return addrs
}

// appendAddrs appends f as a failure of each address in addrs, but those
// the jail's ignorecommand ignores.
func (m *lineMatcher) appendAddrs(ctx context.Context, j *jailRuntime, addrs []netip.Addr, f engine.Failure, out []jailFailure) []jailFailure {
	for _, a := range addrs {
		if j.command != nil && m.commandIgnores(ctx, j, a) {
			continue
		}
		f.Addr = a
		out = append(out, jailFailure{jail: j.cfg.Name, failure: f})
	}
	return out
}
