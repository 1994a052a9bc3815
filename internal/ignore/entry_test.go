package ignore

import (
	"errors"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		in   string
		want []Entry
	}{
		{"", nil},
		{" , ,\n", nil},
		{"127.0.0.1/8 ::1", []Entry{
			{Kind: KindPrefix, Text: "127.0.0.1/8", Prefix: p("127.0.0.0/8")},
			{Kind: KindPrefix, Text: "::1", Prefix: p("::1/128")},
		}},
		{"192.0.2.7,2001:db8::/32\t198.51.100.0/255.255.255.0", []Entry{
			{Kind: KindPrefix, Text: "192.0.2.7", Prefix: p("192.0.2.7/32")},
			{Kind: KindPrefix, Text: "2001:db8::/32", Prefix: p("2001:db8::/32")},
			{Kind: KindPrefix, Text: "198.51.100.0/255.255.255.0", Prefix: p("198.51.100.0/24")},
		}},
		{"2001:db8::/ffff:ffff:: 198.51.100.0/0.0.0.0 203.0.113.9/255.255.255.255", []Entry{
			{Kind: KindPrefix, Text: "2001:db8::/ffff:ffff::", Prefix: p("2001:db8::/32")},
			{Kind: KindPrefix, Text: "198.51.100.0/0.0.0.0", Prefix: p("0.0.0.0/0")},
			{Kind: KindPrefix, Text: "203.0.113.9/255.255.255.255", Prefix: p("203.0.113.9/32")},
		}},
		{"::ffff:192.0.2.9 ::ffff:192.0.2.0/120 fe80::1%eth0 [2001:db8::5] [2001:db8::]/64", []Entry{
			{Kind: KindPrefix, Text: "::ffff:192.0.2.9", Prefix: p("192.0.2.9/32")},
			{Kind: KindPrefix, Text: "::ffff:192.0.2.0/120", Prefix: p("192.0.2.0/24")},
			{Kind: KindPrefix, Text: "fe80::1%eth0", Prefix: p("fe80::1/128")},
			{Kind: KindPrefix, Text: "[2001:db8::5]", Prefix: p("2001:db8::5/128")},
			{Kind: KindPrefix, Text: "[2001:db8::]/64", Prefix: p("2001:db8::/64")},
		}},
		{"Mail.Example.ORG. localhost backup-1.example.org _srv.example.org", []Entry{
			{Kind: KindHost, Text: "Mail.Example.ORG.", Name: "mail.example.org"},
			{Kind: KindHost, Text: "localhost", Name: "localhost"},
			{Kind: KindHost, Text: "backup-1.example.org", Name: "backup-1.example.org"},
			{Kind: KindHost, Text: "_srv.example.org", Name: "_srv.example.org"},
		}},
		{"file:/etc/gaol/ignore.list FILE:///etc/x file://etc/y file:rel/z file://./a file://../b", []Entry{
			{Kind: KindFile, Text: "file:/etc/gaol/ignore.list", Name: "/etc/gaol/ignore.list"},
			{Kind: KindFile, Text: "FILE:///etc/x", Name: "/etc/x"},
			{Kind: KindFile, Text: "file://etc/y", Name: "/etc/y"},
			{Kind: KindFile, Text: "file:rel/z", Name: "rel/z"},
			{Kind: KindFile, Text: "file://./a", Name: "./a"},
			{Kind: KindFile, Text: "file://../b", Name: "../b"},
		}},
		{"192.0.2.1 192.0.2.1/32 192.0.2.1", []Entry{ // duplicates dropped
			{Kind: KindPrefix, Text: "192.0.2.1", Prefix: p("192.0.2.1/32")},
		}},
	}
	for _, tt := range tests {
		s, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := s.Entries(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q)\n got  %+v\n want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, bad string }{
		{"192.0.2.0/33", "192.0.2.0/33"},
		{"127.0.0.1 192.0.2.300", "192.0.2.300"},
		{"192.0.2.0/255.0.255.0", "192.0.2.0/255.0.255.0"},
		{"192.0.2.0/ffff::", "192.0.2.0/ffff::"},
		{"2001:db8::/x", "2001:db8::/x"},
		{"2001:db8::/-1", "2001:db8::/-1"},
		{"2001:db8::/+8", "2001:db8::/+8"},
		{"2001:db8::/129", "2001:db8::/129"},
		{"1.2.3", "1.2.3"},
		{"2001:db8:::1", "2001:db8:::1"},
		{"example.org/24", "example.org/24"},
		{"not_an@address", "not_an@address"},
		{"-bad.example.org", "-bad.example.org"},
		{"bad-.example.org", "bad-.example.org"},
		{"a..b", "a..b"},
		{"host:22", "host:22"},
		{"file:", "file:"},
		{"file://", "file://"},
		{strings.Repeat("a", 64) + ".org", strings.Repeat("a", 64) + ".org"},
	}
	for _, tt := range tests {
		s, err := Parse(tt.in)
		var ee *EntryError
		if !errors.As(err, &ee) {
			t.Errorf("Parse(%q) = %v, %v; want an *EntryError", tt.in, s, err)
			continue
		}
		if ee.Entry != tt.bad || !strings.Contains(err.Error(), `"`+tt.bad+`"`) {
			t.Errorf("Parse(%q): error %q does not name %q", tt.in, err, tt.bad)
		}
	}
}

func TestParseList(t *testing.T) {
	data := "# office networks\n" +
		"192.0.2.0/24   # main office\n" +
		"198.51.100.7, 198.51.100.8 ; two hosts\n" +
		"\n" +
		"  ; indented comment 203.0.113.1\n" +
		"backup.example.org\n" +
		"2001:db8::#1\n" + // '#' not after white space: part of the entry, which is bad
		"file:/etc/other\n" +
		"192.0.2.300\r\n" +
		"2001:db8:1::/48\r\n"
	items, errs := parseList("list", []byte(data))
	var got []string
	for _, it := range items {
		got = append(got, it.entry.Text+"@"+strconv.Itoa(it.line))
	}
	want := []string{"192.0.2.0/24@2", "198.51.100.7@3", "198.51.100.8@3", "backup.example.org@6", "2001:db8:1::/48@10"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	wantErrs := []string{
		`list:7: invalid entry "2001:db8::#1"`,
		`list:8: invalid entry "file:/etc/other": file: entries cannot be nested in a file`,
		`list:9: invalid entry "192.0.2.300"`,
	}
	if len(msgs) != len(wantErrs) {
		t.Fatalf("errors %q, want %d", msgs, len(wantErrs))
	}
	for i, w := range wantErrs {
		if !strings.HasPrefix(msgs[i], w) {
			t.Errorf("error %q, want prefix %q", msgs[i], w)
		}
	}
}

func TestMaskBits(t *testing.T) {
	tests := []struct {
		mask string
		want int
		ok   bool
	}{
		{"255.255.255.0", 24, true}, {"255.255.255.255", 32, true}, {"0.0.0.0", 0, true},
		{"255.255.128.0", 17, true}, {"255.0.255.0", 0, false}, {"255.255.255.1", 0, false},
		{"ffff:ffff:ffff:ffff::", 64, true}, {"ffff:fffe::", 31, true}, {"ffff::1", 0, false},
	}
	for _, tt := range tests {
		n, err := maskBits(netip.MustParseAddr(tt.mask).AsSlice())
		if (err == nil) != tt.ok || n != tt.want {
			t.Errorf("maskBits(%s) = %d, %v; want %d, ok %v", tt.mask, n, err, tt.want, tt.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1/8 ::1", "192.0.2.0/255.255.255.0", "2001:db8::/ffff::", "file:///etc/x",
		"mail.example.org,", "[::1]/64", "fe80::1%eth0/64", "::ffff:192.0.2.1/100", "a..b", "1.2.3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(in)
		if err != nil {
			var ee *EntryError
			if !errors.As(err, &ee) || !strings.Contains(in, ee.Entry) {
				t.Fatalf("Parse(%q): error %v does not name an entry of the input", in, err)
			}
			return
		}
		for _, e := range s.Entries() {
			switch e.Kind {
			case KindPrefix:
				if !e.Prefix.IsValid() || e.Prefix != Canonical(e.Prefix) || e.Prefix.Addr().Zone() != "" {
					t.Fatalf("Parse(%q): prefix %v not canonical", in, e.Prefix)
				}
				// The entry parses to the same thing on its own.
				again, err := ParseEntry(e.Text)
				if err != nil || again != e {
					t.Fatalf("ParseEntry(%q) = %v, %v; want %v", e.Text, again, err, e)
				}
			case KindHost:
				if e.Name == "" || strings.ContainsAny(e.Name, " ,/:") {
					t.Fatalf("Parse(%q): bad host %q", in, e.Name)
				}
			case KindFile:
				if e.Name == "" {
					t.Fatalf("Parse(%q): empty path", in)
				}
			default:
				t.Fatalf("Parse(%q): kind %v", in, e.Kind)
			}
		}
		// Resolving static entries needs no I/O and cannot fail.
		set := s.Static()
		for _, e := range s.Entries() {
			if e.Kind == KindPrefix && !set.Contains(e.Prefix.Addr()) {
				t.Fatalf("Parse(%q): %v not in its set", in, e.Prefix)
			}
		}
	})
}

func FuzzParseList(f *testing.F) {
	f.Add("192.0.2.0/24 # c\nhost.example.org;x\n; c\n2001:db8::1,198.51.100.1")
	f.Fuzz(func(t *testing.T, data string) {
		items, errs := parseList("f", []byte(data))
		for _, it := range items {
			if it.entry.Kind == KindFile || it.line < 1 {
				t.Fatalf("bad item %+v", it)
			}
		}
		for _, err := range errs {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error without location: %v", err)
			}
		}
	})
}
