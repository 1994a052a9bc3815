package ignore

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Kind says what an ignoreip entry is.
type Kind int

// The kinds of ignoreip entries.
const (
	KindPrefix Kind = iota + 1 // an address or a network
	KindHost                   // a host name, resolved to all its addresses
	KindFile                   // a file: list of further entries
)

// String returns the kind's name: "prefix", "host" or "file".
func (k Kind) String() string {
	switch k {
	case KindPrefix:
		return "prefix"
	case KindHost:
		return "host"
	case KindFile:
		return "file"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Entry is one parsed ignoreip entry.
type Entry struct {
	Kind   Kind
	Text   string       // the entry as written
	Prefix netip.Prefix // KindPrefix: canonical (see Canonical)
	Name   string       // KindHost: the host name, lower case, without a final dot; KindFile: the path
}

// EntryError is the error for an entry that cannot be parsed.
type EntryError struct {
	Entry string // the entry as written
	Err   error
}

// Error names the entry and what is wrong with it.
func (e *EntryError) Error() string { return fmt.Sprintf("invalid entry %q: %v", e.Entry, e.Err) }

// Unwrap returns the underlying error.
func (e *EntryError) Unwrap() error { return e.Err }

// filePrefix introduces an entry naming a file of further entries.
const filePrefix = "file:"

// Parse parses an ignoreip value: entries separated by white space or
// commas, each an IPv4 or IPv6 address, a network in CIDR notation (host bits
// are cleared: 127.0.0.1/8 is 127.0.0.0/8), an IPv4 network with a dotted
// netmask (192.0.2.0/255.255.255.0) or an IPv6 one with a mask (2001:db8::/ffff:ffff::),
// a host name, or file:PATH. Brackets around an IPv6 address and zones are
// dropped. The error of a bad entry is an *EntryError naming it.
//
// The returned Spec holds the entries; its options (Self, NameRefresh, ...)
// may be set before its first Resolve.
func Parse(entries string) (*Spec, error) {
	var out []Entry
	seen := make(map[Entry]bool)
	for _, f := range splitEntries(entries) {
		e, err := ParseEntry(f)
		if err != nil {
			return nil, err
		}
		key := e
		key.Text = ""
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, e)
	}
	return &Spec{entries: out}, nil
}

// splitEntries splits s at white space and commas.
func splitEntries(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
	})
}

// ParseEntry parses one ignoreip entry (see Parse).
func ParseEntry(s string) (Entry, error) {
	e, err := parseEntry(s, true)
	if err != nil {
		return Entry{}, &EntryError{Entry: s, Err: err}
	}
	return e, nil
}

func parseEntry(s string, allowFile bool) (Entry, error) {
	if s == "" {
		return Entry{}, errors.New("empty entry")
	}
	if len(s) >= len(filePrefix) && strings.EqualFold(s[:len(filePrefix)], filePrefix) {
		if !allowFile {
			return Entry{}, errors.New("file: entries cannot be nested in a file")
		}
		p, err := filePath(s[len(filePrefix):])
		if err != nil {
			return Entry{}, err
		}
		return Entry{Kind: KindFile, Text: s, Name: p}, nil
	}
	if p, ok, err := parsePrefix(s); ok {
		if err != nil {
			return Entry{}, err
		}
		return Entry{Kind: KindPrefix, Text: s, Prefix: p}, nil
	}
	if name, ok := hostName(s); ok {
		return Entry{Kind: KindHost, Text: s, Name: name}, nil
	}
	return Entry{}, errors.New("not an address, a network, a host name or file:PATH")
}

// filePath returns the path of a file: entry. "file:/etc/x", "file:///etc/x"
// and "file://etc/x" all name /etc/x; "file:x", "file://./x" and "file://../x"
// are relative paths (resolved against Spec.BaseDir).
func filePath(s string) (string, error) {
	if rest, ok := strings.CutPrefix(s, "//"); ok {
		switch {
		case strings.HasPrefix(rest, "/"), rest == ".", rest == "..",
			strings.HasPrefix(rest, "./"), strings.HasPrefix(rest, "../"):
			s = rest
		default:
			s = "/" + rest
		}
	}
	if s == "" || s == "/" {
		return "", errors.New("file: without a path")
	}
	if strings.ContainsRune(s, 0) {
		return "", errors.New("NUL in path")
	}
	return s, nil
}

// parsePrefix parses an address or a network. ok says whether s looks like
// one (so that an error is about it rather than about a host name).
func parsePrefix(s string) (p netip.Prefix, ok bool, err error) {
	addrPart, maskPart, hasMask := strings.Cut(s, "/")
	if len(addrPart) > 2 && addrPart[0] == '[' && addrPart[len(addrPart)-1] == ']' {
		addrPart = addrPart[1 : len(addrPart)-1]
	}
	a, aerr := netip.ParseAddr(addrPart)
	if aerr != nil {
		if looksNumeric(addrPart) || hasMask {
			return netip.Prefix{}, true, fmt.Errorf("invalid address: %v", aerr)
		}
		return netip.Prefix{}, false, nil
	}
	a = a.WithZone("")
	if !hasMask {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true, nil
	}
	n, err := strconv.Atoi(maskPart)
	if err != nil || maskPart == "" || maskPart[0] == '+' || maskPart[0] == '-' {
		m, merr := netip.ParseAddr(maskPart)
		if merr != nil || m.Zone() != "" || m.Is4() != a.Is4() {
			return netip.Prefix{}, true, fmt.Errorf("invalid prefix length or netmask %q", maskPart)
		}
		if n, err = maskBits(m.AsSlice()); err != nil {
			return netip.Prefix{}, true, err
		}
	}
	if n < 0 || n > a.BitLen() {
		return netip.Prefix{}, true, fmt.Errorf("prefix length %d out of range", n)
	}
	return Canonical(netip.PrefixFrom(a, n)), true, nil
}

// maskBits returns the prefix length of a contiguous netmask.
func maskBits(m []byte) (int, error) {
	n := 0
	for i, b := range m {
		if b == 0xff {
			n += 8
			continue
		}
		for b&0x80 != 0 {
			n++
			b <<= 1
		}
		if b != 0 {
			return 0, errors.New("non-contiguous netmask")
		}
		for _, rest := range m[i+1:] {
			if rest != 0 {
				return 0, errors.New("non-contiguous netmask")
			}
		}
		break
	}
	return n, nil
}

// looksNumeric reports whether s is made of digits and dots only, or of hex
// digits, dots and colons with at least one colon: a mistyped address rather
// than a host name.
func looksNumeric(s string) bool {
	if s == "" {
		return false
	}
	digitsDots, hexColons := true, strings.Contains(s, ":")
	for i := 0; i < len(s); i++ {
		c := s[i]
		digit := c >= '0' && c <= '9'
		hex := digit || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
		if !digit && c != '.' {
			digitsDots = false
		}
		if !hex && c != ':' && c != '.' {
			hexColons = false
		}
	}
	return digitsDots || hexColons
}

// hostName checks that s is a plausible DNS name (letters, digits, '-', '_'
// and dots; labels of at most 63 characters; at most 253 in all; not all
// digits) and returns it in lower case without a final dot.
func hostName(s string) (string, bool) {
	name := strings.TrimSuffix(s, ".")
	if name == "" || len(name) > 253 {
		return "", false
	}
	letter := false
	label := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
			letter = true
		case c >= '0' && c <= '9':
		case c == '-':
			if label == 0 {
				return "", false
			}
		case c == '.':
			if label == 0 || name[i-1] == '-' {
				return "", false
			}
			label = 0
			continue
		default:
			return "", false
		}
		label++
		if label > 63 {
			return "", false
		}
	}
	if !letter || name[len(name)-1] == '-' {
		return "", false
	}
	return strings.ToLower(name), true
}

// listItem is one entry of a file: list, with its line.
type listItem struct {
	line  int
	entry Entry
}

// parseList parses the contents of a file: list: entries separated by white
// space, commas or new lines; '#' or ';' at the start of a line or after
// white space starts a comment running to the end of the line. Bad entries
// are reported and skipped.
func parseList(name string, data []byte) ([]listItem, []error) {
	var items []listItem
	var errs []error
	for i, line := range strings.Split(string(data), "\n") {
		line = stripComment(line)
		for _, f := range splitEntries(line) {
			e, err := parseEntry(f, false)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %w", name, i+1, &EntryError{Entry: f, Err: err}))
				continue
			}
			items = append(items, listItem{line: i + 1, entry: e})
		}
	}
	return items, errs
}

func stripComment(line string) string {
	for i := 0; i < len(line); i++ {
		if (line[i] == '#' || line[i] == ';') && (i == 0 || isSpace(line[i-1])) {
			return line[:i]
		}
	}
	return line
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}
