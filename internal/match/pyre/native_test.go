package pyre

import (
	"slices"
	"testing"
)

// The address groups as gaol's tags expand them, in continuations that
// take the first end the group gives, make it back off to others, or
// split what it took.
const (
	ip4Body = `(?:\d{1,3}\.){3}\d{1,3}`
	ip6Body = `(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:)`
)

var nativeTestExprs = []string{
	`^from (?P<ip4>` + ip4Body + `) port \d+$`,
	`^from (?P<ip6>` + ip6Body + `) port \d+$`,
	`(?:(?:::f{4,6}:)?(?P<ip4>` + ip4Body + `)|(?P<ip6>` + ip6Body + `))`,
	`\[?(?:(?:::f{4,6}:)?(?P<ip4>` + ip4Body + `)|(?P<ip6>` + ip6Body + `))\]?(?: port \d+)?$`,
	`^(?P<ip6>` + ip6Body + `)(?P<rest>.*)$`,
	`^(?P<ip6>` + ip6Body + `)(?P<rest>[0-9a-f:]*?)x`,
	`^(?P<ip6>` + ip6Body + `):\d$`,
	`^(?P<ip6>` + ip6Body + `)::$`,
	`(?P<ip6>` + ip6Body + `)\b`,
	`^(?P<ip4>` + ip4Body + `)\d$`,
	`^(?P<ip4>` + ip4Body + `)(?P<rest>\d*)\.`,
	`(?P<a>(?P<ip4>` + ip4Body + `)|(?P<ip6>` + ip6Body + `))+ end`,
}

var nativeTexts = []string{
	"from 192.0.2.1 port 22", "from 2001:db8::1 port 22", "from 2001:db8:0:1c::2 port 22",
	"192.0.2.123", "1.2.3.4567", "1.2.3.45x", "1.2.3", "1234.1.2.3", "1.2.3.4.", "::ffff:192.0.2.1",
	"2001:db8::", "2001:db8::x", "::", "::1", ":::", "::::", "1::2::3::4::5::6::7::8::9::", "1:2:3:4:5:6:7:8",
	"1:2:3:4:5:6:7:8:9", "12345::1", "abcd:ef01:2345:6789:abcd:ef01:2345:6789:1", "fe80::1%eth0",
	"2001:db8::1:2", "2001:db8::1::", "1:2:3x", "[2001:db8::1] port 22", "[192.0.2.1]", "1.2.3.4 1::2 end",
	"１.2.3.4", "1.２.3.4", "1.2.3.٤", "2001:db8::1 end", "a:b:c:d:e:f:a:b::", "0:0:0:0:0:0:0:0:0:0",
}

// TestNativeUsed checks that the address groups run as Go code.
func TestNativeUsed(t *testing.T) {
	for _, expr := range nativeTestExprs {
		re := MustCompile(expr, Options{})
		if re.fast == nil || !slices.ContainsFunc(re.fast.insts, func(in inst) bool { return in.op == opNative }) {
			t.Errorf("%q: no native part", expr)
		}
	}
	// Other classes or counts: the instructions.
	for _, expr := range []string{`(?a)(?P<ip4>` + ip4Body + `)`, `(?P<ip4>(?:\d{1,3}\.){2}\d{1,3})`, `(?P<ip6>(?:[0-9a-fA-F]{1,5}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:))`} {
		re := MustCompile(expr, Options{})
		if slices.ContainsFunc(re.fast.insts, func(in inst) bool { return in.op == opNative }) {
			t.Errorf("%q: native part", expr)
		}
	}
}

// TestNative compares the fast matcher, with the address groups as Go
// code, with the fallback engines.
func TestNative(t *testing.T) {
	for _, expr := range nativeTestExprs {
		for _, text := range nativeTexts {
			for _, s := range []string{text, text + "\n", "x " + text, text + " end"} {
				checkFast(t, expr, s)
			}
		}
	}
}

// TestNativeEnds checks listings worked out by hand from the expressions:
// the loop tries another group first (the second ":" of "::?" taken
// first), the last part its longest run first.
func TestNativeEnds(t *testing.T) {
	tests := []struct {
		kind nativeKind
		text string
		want []int
	}{
		{nativeIP4, "1.2.3.456", []int{9, 8, 7}},
		{nativeIP4, "1.2.3.4567", []int{9, 8, 7}},
		{nativeIP4, "1.2.3.4", []int{7}},
		{nativeIP4, "1.2.3", nil},
		{nativeIP4, "1234.1.2.3", nil},
		{nativeIP4, "1..2.3", nil},
		{nativeIP6, "1:2", []int{3}},
		{nativeIP6, "1::2", []int{4, 3}},
		{nativeIP6, "::", nil},
		{nativeIP6, ":::", []int{3}},
		{nativeIP6, "::1", []int{3, 2}[:1]},
		{nativeIP6, "12345:1", nil},
		{nativeIP6, "ab:cd", []int{5, 4}},
		{nativeIP6, "1:2:3:4:5:6:7:8:9", []int{15, 13, 11, 9, 7, 5, 3}},
	}
	for _, tt := range tests {
		got, _, ok := nativeEnds(tt.kind, tt.text, 0, nil, false)
		if !ok || !slices.Equal(got, tt.want) {
			t.Errorf("%d on %q: ends %v (%v), want %v", tt.kind, tt.text, got, ok, tt.want)
		}
		first, _, ok := nativeEnds(tt.kind, tt.text, 0, nil, true)
		if !ok || len(tt.want) > 0 != (len(first) > 0) || len(first) > 0 && first[0] != tt.want[0] {
			t.Errorf("%d on %q: first end %v (%v), want the first of %v", tt.kind, tt.text, first, ok, tt.want)
		}
	}
}

// FuzzNative compares the fast matcher with the fallback engines on the
// address groups followed by arbitrary continuations, on arbitrary texts.
func FuzzNative(f *testing.F) {
	for k, text := range nativeTexts {
		f.Add(uint8(k), []string{``, ` port \d+$`, `(?P<b>.*)$`, `:\d$`, `(?P<b>[0-9a-f:]*?)x`, `\d`, `::`}[k%7], text)
	}
	f.Fuzz(func(t *testing.T, which uint8, cont, text string) {
		if len(cont) > 40 || len(text) > 80 {
			return
		}
		body := ip4Body
		if which%2 == 1 {
			body = ip6Body
		}
		checkFast(t, `(?P<a>`+body+`)`+cont, text)
	})
}

// TestNativeFallback makes every IPv6 listing that needs more than the
// first way through give up: the instructions run instead, at the start
// or when the matcher comes back for more ends.
func TestNativeFallback(t *testing.T) {
	defer func(w int) { nativeWork = w }(nativeWork)
	nativeWork = 2
	for _, expr := range nativeTestExprs {
		for _, text := range nativeTexts {
			checkFast(t, expr, text)
			checkFast(t, expr, text+" end")
		}
	}
}
