package match

import (
	"fmt"
	"regexp"
	"strings"
)

// Expansions of fail2ban's tags, in Python's syntax (package pyre compiles
// them). They are fail2ban's own expressions, with one change: fail2ban's
// IPv6 expression ends in "(?<=:):", a lookbehind that always holds there
// (every part before it ends with ":"), so it is written ":" and the
// expressions stay RE2.
const (
	ip4Pattern  = `(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})`
	ip6Pattern  = `(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:))`
	dnsPattern  = `(?P<dns>[\w\-.^_]*\w)`
	cidrPattern = `(?P<cidr>\d+)`
	addrPattern = `\[?(?:` + ip4Pattern + `|` + ip6Pattern + `)\]?`
	// hostPattern is an address or a host name (usedns other than "no").
	hostPattern   = `(?:` + addrPattern + `|` + dnsPattern + `)`
	subnetPattern = `\[?(?:` + ip4Pattern + `|` + ip6Pattern + `)(?:/` + cidrPattern + `)?\]?`
)

// staticTags are the tags whose expansion never changes, as fail2ban's
// RH4TAG.
var staticTags = map[string]string{
	"IP4":       ip4Pattern,
	"F-IP4/":    ip4Pattern,
	"IP6":       ip6Pattern,
	"F-IP6/":    ip6Pattern,
	"ADDR":      addrPattern,
	"F-ADDR/":   addrPattern,
	"CIDR":      cidrPattern,
	"F-CIDR/":   cidrPattern,
	"SUBNET":    subnetPattern,
	"F-SUBNET/": subnetPattern,
	"DNS":       dnsPattern,
	"F-DNS/":    dnsPattern,
	"F-ID/":     `(?P<fid>\S+)`,
	"F-PORT/":   `(?P<fport>\w+)`,
}

// Group names with a meaning to the matcher.
const (
	groupIP4       = "ip4"
	groupIP6       = "ip6"
	groupDNS       = "dns"
	groupFID       = "fid"
	groupCIDR      = "cidr"
	groupContent   = "content"
	groupMLFID     = "mlfid"
	groupNoFail    = "nofail"
	groupMLFForget = "mlfforget"
	groupMLFGained = "mlfgained"
	groupUser      = "user"
)

// fieldNames maps field tag names whose group name differs from the
// lower-cased tag name, as fail2ban's R_MAP.
var fieldNames = map[string]string{"id": groupFID, "port": "fport"}

// fieldName returns the group name of a field tag name ("USER" -> "user",
// "ID" -> "fid").
func fieldName(tag string) string {
	name := strings.ToLower(tag)
	if n, ok := fieldNames[name]; ok {
		return n
	}
	return name
}

// tagRE matches what fail2ban takes for a tag (its FTAG_CRE).
var tagRE = regexp.MustCompile(`</?[\w\-]+/?>`)

// customTagRE matches a field tag's name (FCUSTNAME_CRE): upper case only.
var customTagRE = regexp.MustCompile(`^(/?)F-([A-Z0-9_\-]+)$`)

// expandTags replaces fail2ban's tags in a filter expression as fail2ban's
// Regex._resolveHostTag does: <HOST> (an address or, unless useDNS is
// "no", a host name), <ADDR>, <IP4>, <IP6>, <DNS>, <CIDR>, <SUBNET>,
// <SKIPLINES>, <F-ID/>, <F-PORT/> and the field tags <F-NAME>...</F-NAME>,
// which become the group "name" (lower case; ID is "fid", PORT "fport"). A
// closing field tag that was not opened and any other tag are left as
// written.
func expandTags(expr, useDNS string) string {
	open := map[string]bool{}
	skip := 0
	return tagRE.ReplaceAllStringFunc(expr, func(tag string) string {
		name := tag[1 : len(tag)-1]
		switch name {
		case "HOST":
			if useDNS == "no" {
				return addrPattern
			}
			return hostPattern
		case "SKIPLINES":
			s := fmt.Sprintf(`\n(?P<skiplines%d>(?:(?:.*\n)*?))`, skip)
			skip++
			return s
		}
		if s, ok := staticTags[name]; ok {
			return s
		}
		m := customTagRE.FindStringSubmatch(name)
		if m == nil {
			return tag
		}
		if m[1] == "/" {
			if open[m[2]] {
				return ")"
			}
			return tag
		}
		open[m[2]] = true
		return "(?P<" + fieldName(m[2]) + ">"
	})
}

// globalFlagsToLocal rewrites "((?i)x)" and "(?:(?i)x)" as "(?i:x)", as
// fail2ban does (its R_GLOB2LOCFLAGS) before Python refuses global flags
// that are not at the start of an expression.
func globalFlagsToLocal(expr string) string {
	var b strings.Builder
	for i := 0; i < len(expr); {
		if expr[i] == '(' && (i == 0 || expr[i-1] != '\\') {
			j := i + 1
			if strings.HasPrefix(expr[j:], "?:") {
				j += 2
			}
			if strings.HasPrefix(expr[j:], "(?") {
				k := j + 2
				for k < len(expr) && expr[k] >= 'a' && expr[k] <= 'z' {
					k++
				}
				if k > j+2 && k < len(expr) && expr[k] == ')' {
					b.WriteString(expr[j:k])
					b.WriteByte(':')
					i = k + 1
					continue
				}
			}
		}
		b.WriteByte(expr[i])
		i++
	}
	return b.String()
}
