package config

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// durationUnits maps the unit words fail2ban accepts (MyTime.str2seconds) to
// seconds. A month is a twelfth of an average year of 365.25 days.
var durationUnits = map[string]float64{
	"":  1,
	"s": 1, "ss": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
	"m": 60, "mm": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
	"h": 3600, "hh": 3600, "hour": 3600, "hours": 3600,
	"d": 86400, "dd": 86400, "da": 86400, "day": 86400, "days": 86400,
	"w": 604800, "ww": 604800, "week": 604800, "weeks": 604800,
	"mo": 2629800, "mon": 2629800, "month": 2629800, "months": 2629800,
	"y": 31557600, "yy": 31557600, "yr": 31557600, "yrs": 31557600, "year": 31557600, "years": 31557600,
}

// ParseDuration parses a duration the way fail2ban writes them: a number of
// seconds ("600"), or numbers with units ("10m", "1h30m", "1h 30m",
// "2 days", "1.5h"), the parts added up. Units are s, m, h, d, w, mo and y
// and fail2ban's longer spellings (sec, min, hour, day, week, month, year,
// with or without a plural s). A leading "-" negates the whole ("-1", which
// a bantime reads as permanent); the caller decides whether a negative or
// zero duration makes sense.
func ParseDuration(s string) (time.Duration, error) {
	in := s
	s = strings.TrimSpace(s)
	neg := false
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		neg, s = true, strings.TrimSpace(rest)
	}
	if s == "" {
		return 0, fmt.Errorf("invalid duration %q", in)
	}
	total := 0.0
	for s != "" {
		// A number, digits with an optional fraction.
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		num, err := strconv.ParseFloat(s[:i], 64)
		if i == 0 || err != nil {
			return 0, fmt.Errorf("invalid duration %q", in)
		}
		s = strings.TrimLeft(s[i:], " \t")
		// An optional unit.
		j := 0
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
			j++
		}
		unit, ok := durationUnits[strings.ToLower(s[:j])]
		if !ok {
			return 0, fmt.Errorf("invalid duration %q: unknown unit %q", in, s[:j])
		}
		total += num * unit
		s = strings.TrimLeft(s[j:], " \t,")
	}
	if total*float64(time.Second) > math.MaxInt64 {
		return 0, fmt.Errorf("duration %q is too long", in)
	}
	d := time.Duration(math.Round(total * float64(time.Second)))
	if neg {
		d = -d
	}
	return d, nil
}

// parseBool parses a boolean as Python's ConfigParser.getboolean does.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "yes", "true", "on":
		return true, nil
	case "0", "no", "false", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q (want true or false)", s)
}

// parseUseDNS parses a usedns value: yes, warn, no or raw (booleans
// stand for yes and no, as in fail2ban).
func parseUseDNS(s string) (string, error) {
	switch v := strings.ToLower(strings.TrimSpace(s)); v {
	case "yes", "warn", "no", "raw":
		return v, nil
	case "1", "true", "on":
		return "yes", nil
	case "0", "false", "off":
		return "no", nil
	}
	return "", fmt.Errorf("invalid value %q (want yes, warn, no or raw)", s)
}

// parsePositive parses an integer of at least 1.
func parsePositive(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	if n < 1 {
		return 0, fmt.Errorf("must be at least 1, got %d", n)
	}
	return n, nil
}

// PortRange is an inclusive range of ports; a single port has From == To.
type PortRange struct {
	From, To uint16
}

// String returns "22" or "1000:2000".
func (r PortRange) String() string {
	if r.From == r.To {
		return strconv.Itoa(int(r.From))
	}
	return fmt.Sprintf("%d:%d", r.From, r.To)
}

// wellKnownPorts resolves common service names when the system has no
// /etc/services (minimal containers). The system database is asked first.
var wellKnownPorts = map[string]uint16{
	"ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25,
	"domain": 53, "http": 80, "pop3": 110, "sunrpc": 111, "imap": 143, "imap2": 143,
	"ldap": 389, "https": 443, "smtps": 465, "submissions": 465, "ssmtp": 465,
	"submission": 587, "ldaps": 636, "imaps": 993, "pop3s": 995,
	"openvpn": 1194, "mysql": 3306, "sieve": 4190, "postgresql": 5432,
	"http-alt": 8080, "webcache": 8080,
}

// lookupPort resolves a port number or service name.
func lookupPort(s, proto string) (uint16, error) {
	if n, err := strconv.ParseUint(s, 10, 16); err == nil {
		return uint16(n), nil
	} else if s != "" && strings.Trim(s, "0123456789") == "" {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	if s == "" || strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r))
	}) >= 0 {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	if proto != "udp" {
		proto = "tcp"
	}
	if n, err := net.LookupPort(proto, s); err == nil {
		return uint16(n), nil
	}
	if n, ok := wellKnownPorts[strings.ToLower(s)]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("unknown service %q", s)
}

// parsePorts parses a jail's port list: comma-separated port numbers,
// service names and ranges ("1000:2000" or "1000-2000"). It returns nil
// for all ports ("0:65535", "1:65535", "all", "any").
func parsePorts(s, proto string) ([]PortRange, error) {
	var out []PortRange
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		switch strings.ToLower(item) {
		case "all", "any":
			return nil, nil
		}
		r, err := parsePortItem(item, proto)
		if err != nil {
			return nil, err
		}
		if r.From <= 1 && r.To == 65535 {
			return nil, nil
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no ports in %q", s)
	}
	return out, nil
}

// parsePortItem parses one port, service or range.
func parsePortItem(item, proto string) (PortRange, error) {
	p, err := lookupPort(item, proto)
	if err == nil {
		if p == 0 {
			return PortRange{}, fmt.Errorf("invalid port 0")
		}
		return PortRange{p, p}, nil
	}
	if from, to, ok := strings.Cut(item, ":"); ok {
		return portRange(item, from, to, proto)
	}
	// "a-b". Service names may contain "-" (ftp-data): use the first
	// split whose sides both resolve.
	for i := 0; i < len(item); i++ {
		if item[i] == '-' {
			if r, rerr := portRange(item, item[:i], item[i+1:], proto); rerr == nil {
				return r, nil
			}
		}
	}
	return PortRange{}, err
}

// portRange resolves the two ends of a range.
func portRange(item, from, to, proto string) (PortRange, error) {
	a, err := lookupPort(strings.TrimSpace(from), proto)
	if err != nil {
		return PortRange{}, err
	}
	b, err := lookupPort(strings.TrimSpace(to), proto)
	if err != nil {
		return PortRange{}, err
	}
	if a > b {
		return PortRange{}, fmt.Errorf("invalid port range %q", item)
	}
	return PortRange{a, b}, nil
}

// parseProtocol checks a jail's protocol.
func parseProtocol(s string) (string, error) {
	p := strings.ToLower(strings.TrimSpace(s))
	switch p {
	case "tcp", "udp", "all":
		return p, nil
	}
	return "", fmt.Errorf("invalid protocol %q (want tcp, udp or all)", s)
}
