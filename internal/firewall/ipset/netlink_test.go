package ipset

import (
	"net/netip"
	"testing"
	"time"
)

// TestEntryRoundTrip encodes elements as the kernel receives them and
// parses them as it lists them.
func TestEntryRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		prefix string
		secs   uint32
	}{
		{"192.0.2.1/32", 600},
		{"198.51.100.0/24", 0},
		{"2001:db8::/64", 3600},
		{"2001:db8::1/128", 1},
	} {
		var a attrs
		putEntry(&a, cmdAdd, batchEntry{prefix: netip.MustParsePrefix(tt.prefix), seconds: tt.secs})
		e, ok := parseEntry(a)
		if !ok || e.prefix.String() != tt.prefix || e.timeout != time.Duration(tt.secs)*time.Second {
			t.Errorf("%s %d: parsed %v %v, %v", tt.prefix, tt.secs, e.prefix, e.timeout, ok)
		}
	}
}

func TestParseAttrsNested(t *testing.T) {
	var a attrs
	a.putString(attrSetName, "gaol-sshd-v4")
	a.nest(attrADT, func(a *attrs) {
		a.nest(attrData, func(a *attrs) {
			putEntry(a, cmdAdd, batchEntry{prefix: netip.MustParsePrefix("192.0.2.7/32"), seconds: 5})
		})
	})
	var names []string
	var entries []kernelEntry
	for typ, v := range parseAttrs(a) {
		switch typ {
		case attrSetName:
			names = append(names, cString(v))
		case attrADT:
			for typ, d := range parseAttrs(v) {
				if typ == attrData {
					if e, ok := parseEntry(d); ok {
						entries = append(entries, e)
					}
				}
			}
		}
	}
	if len(names) != 1 || names[0] != "gaol-sshd-v4" || len(entries) != 1 || entries[0].prefix.String() != "192.0.2.7/32" {
		t.Errorf("parsed %q %v", names, entries)
	}
}

// FuzzParse feeds arbitrary bytes to the parsers of the kernel's answers.
func FuzzParse(f *testing.F) {
	var a attrs
	putEntry(&a, cmdAdd, batchEntry{prefix: netip.MustParsePrefix("2001:db8::/64"), seconds: 7})
	f.Add([]byte(a))
	f.Add([]byte{4, 0, 1, 0, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		for typ, v := range parseAttrs(b) {
			_ = typ
			if e, ok := parseEntry(v); ok && !e.prefix.IsValid() {
				t.Fatalf("invalid prefix parsed from %x", v)
			}
			_ = cString(v)
		}
		parseEntry(b)
	})
}
