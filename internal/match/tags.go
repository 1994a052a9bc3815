package match

import (
	"regexp"
	"strings"
)

// Address patterns for the tags. They are RE2-safe: where fail2ban's own
// <HOST> uses a lookbehind, these rely on \b, on the expression around the
// tag and on netip.ParseAddr to reject what is not an address. A capture that
// does not parse makes the line not match.
const (
	// ip4Pattern is a dotted quad. The \b on both sides keeps it from
	// starting or ending inside a longer run of digits ("1.2.3.4567").
	ip4Pattern = `\b(?P<ip4>(?:[0-9]{1,3}\.){3}[0-9]{1,3})\b`
	// ip6Pattern is two to eight colon-separated groups, possibly
	// compressed ("::"), possibly ending in a dotted quad.
	ip6Pattern = `(?P<ip6>(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b|[0-9A-Fa-f]{1,4}\b)?)`
	// dnsPattern is a host name as fail2ban's <HOST> accepts it. gaol does
	// not resolve names yet: such a capture matches only if it is an
	// address literal.
	dnsPattern = `(?P<dns>[\w\-.^_]*\w)`
	// addrPattern is an IPv4 address (possibly IPv4-mapped IPv6, as in
	// "::ffff:192.0.2.1") or an IPv6 address, possibly in brackets.
	addrPattern = `\[?(?:(?:::[fF]{4}:)?` + ip4Pattern + `|` + ip6Pattern + `)\]?`
	// hostPattern is an address or a host name.
	hostPattern = `(?:` + addrPattern + `|` + dnsPattern + `)`
)

// addrGroups are the names of the capture groups that hold the address of
// a failure.
var addrGroups = map[string]bool{"ip4": true, "ip6": true, "dns": true}

// contentGroup is the capture group that <F-CONTENT> becomes.
const contentGroup = "content"

// tags maps fail2ban's address tags to their expansions.
var tags = strings.NewReplacer(
	"<HOST>", hostPattern,
	"<ADDR>", addrPattern,
	"<IP4>", ip4Pattern,
	"<IP6>", ip6Pattern,
	"<DNS>", dnsPattern,
)

// fieldTagRE matches fail2ban's field tags, "<F-NAME>" and "</F-NAME>".
var fieldTagRE = regexp.MustCompile(`<(/?)F-([A-Za-z0-9_-]+)>`)

// fieldNames maps field tag names whose group name differs from the
// lower-cased tag name, as in fail2ban.
var fieldNames = map[string]string{"id": "fid", "port": "fport"}

// expandTags replaces fail2ban's tags in a filter expression by RE2
// syntax: the address tags by the patterns above, "<F-NAME>" by the start of
// a capture group named after the field and "</F-NAME>" by its end.
func expandTags(expr string) string {
	expr = tags.Replace(expr)
	return fieldTagRE.ReplaceAllStringFunc(expr, func(tag string) string {
		m := fieldTagRE.FindStringSubmatch(tag)
		if m[1] == "/" {
			return ")"
		}
		name := strings.ToLower(strings.ReplaceAll(m[2], "-", "_"))
		if n, ok := fieldNames[name]; ok {
			name = n
		}
		return "(?P<" + name + ">"
	})
}
