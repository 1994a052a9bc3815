package pyre

import (
	"slices"
	"strings"
	"testing"
)

func TestFactor(t *testing.T) {
	tests := []struct {
		expr string
		want []string // nil: none
	}{
		{`abc`, []string{"abc"}},
		{`^Failed \S+ for`, []string{"Failed "}}, // the longer literal
		{`^Failed (?:password|publickey) for`, []string{"Failed password for", "Failed publickey for"}},
		{`^[iI](?:llegal|nvalid) user \S+`, []string{"Illegal user ", "Invalid user ", "illegal user ", "invalid user "}},
		{`(Connection (?:closed|reset)|Disconnected) (?:by|from)`, []string{
			"Connection closed by", "Connection closed from", "Connection reset by", "Connection reset from", "Disconnected by", "Disconnected from"}},
		{`a|\d+`, nil}, // an alternative without literal
		{`(?:abc)?def`, []string{"abcdef", "def"}}, // "def" covers both; factor does not drop it
		{`x*`, nil},
		{`(?:foo)+bar`, []string{"foo"}},
		{`(?i)failed`, nil}, // folded literals are not spelled out
		{`\bword\b`, []string{"word"}},
		{`(?=look)ahead`, []string{"ahead"}},
		{`(a)\1bcd`, []string{"bcd"}},
		{`(?P<x>a)?(?(x)yes|no)`, []string{"ano", "ayes", "no", "yes"}}, // either branch after either
		{`[ab][cd][ef][gh][ij]`, nil},                                   // checked below
	}
	for _, tt := range tests {
		re := MustCompile(tt.expr, Options{})
		got := re.Factor()
		if tt.expr == `[ab][cd][ef][gh][ij]` {
			// 32 texts: too many to spell out; one run of 16 is kept.
			if len(got) != 16 {
				t.Errorf("%q: factor %q, want 16 strings", tt.expr, got)
			}
			continue
		}
		want := slices.Clone(tt.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q: factor %q, want %q", tt.expr, got, want)
		}
	}
}

// TestFactorHolds checks, over texts that match, that each contains a
// string of its expression's factor.
func TestFactorHolds(t *testing.T) {
	tests := []struct{ expr, text string }{
		{`^[iI](?:llegal|nvalid) user \S+`, "Invalid user bob"},
		{`(Connection (?:closed|reset)|Disconnected) (?:by|from)`, "x Disconnected from y"},
		{`(?:abc)?def`, "def"},
		{`(?P<x>a)?(?(x)yes|no)`, "no"},
		{`(?P<x>a)?(?(x)yes|no)`, "ayes"},
		{`(?:foo)+bar`, "foofoobar"},
	}
	for _, tt := range tests {
		re := MustCompile(tt.expr, Options{})
		if re.FindStringSubmatchIndex(tt.text) == nil {
			t.Fatalf("%q does not match %q", tt.expr, tt.text)
		}
		if !slices.ContainsFunc(re.Factor(), func(l string) bool { return strings.Contains(tt.text, l) }) {
			t.Errorf("%q matches %q, which contains none of %q", tt.expr, tt.text, re.Factor())
		}
	}
}
