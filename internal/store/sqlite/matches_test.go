package sqlite

import (
	"slices"
	"strings"
	"testing"
)

func TestMatchesEncoding(t *testing.T) {
	tests := []struct {
		matches []string
		stored  string
	}{
		{[]string{"one"}, "one"},
		{[]string{"one", "two"}, "one\ntwo"},
		{[]string{""}, ""},
		{[]string{"", ""}, "\n"},
		{[]string{`back\slash`, "new\nline", `\n`}, `back\\slash` + "\n" + `new\nline` + "\n" + `\\n`},
		{[]string{`\`, "\n", `\\`}, `\\` + "\n" + `\n` + "\n" + `\\\\`},
	}
	for _, tt := range tests {
		got := encodeMatches(tt.matches)
		if got != tt.stored {
			t.Errorf("encodeMatches(%q) = %q, want %q", tt.matches, got, tt.stored)
		}
		if back := decodeMatches(got); !slices.Equal(back, tt.matches) {
			t.Errorf("decodeMatches(%q) = %q, want %q", got, back, tt.matches)
		}
	}
}

func FuzzMatches(f *testing.F) {
	f.Add("Failed password for root", "from 192.0.2.1\\n")
	f.Add(`\`, "\n")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, ms := range [][]string{{a}, {a, b}, strings.Split(a, b)} {
			if len(ms) == 0 {
				continue // no matches are stored as NULL
			}
			if back := decodeMatches(encodeMatches(ms)); !slices.Equal(back, ms) {
				t.Fatalf("%q came back as %q", ms, back)
			}
		}
	})
}
