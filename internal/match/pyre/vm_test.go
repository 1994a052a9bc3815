package pyre

import (
	"strings"
	"testing"
)

// TestLastIndex checks the hint search of greedy loops against
// strings.LastIndex, for every choice of the byte it looks for.
func TestLastIndex(t *testing.T) {
	tests := []struct{ s, lit string }{
		{"Failed password for invalid user admin from 2001:db8::5 port 1028 ssh2\n", " from "},
		{"user from from here from\n", " from "},
		{" from ", " from "},
		{"from ", " from "},
		{"", "x"},
		{"abc", ""},
		{"aaaa", "aa"},
		{"abab", "bab"},
		{"x] y] z", "]"},
		{"no match at all", "zz"},
		{"ends with lit", "lit"},
		{"lit starts it", "lit"},
	}
	for _, tc := range tests {
		want := strings.LastIndex(tc.s, tc.lit)
		for rare := range max(len(tc.lit), 1) {
			if got := lastIndex(tc.s, tc.lit, rare); got != want {
				t.Errorf("lastIndex(%q, %q, %d) = %d, want %d", tc.s, tc.lit, rare, got, want)
			}
		}
	}
}

func FuzzLastIndex(f *testing.F) {
	f.Add("Failed password for admin from 192.0.2.1 port 22", " from ", 1)
	f.Add("aaaaa", "aa", 0)
	f.Fuzz(func(t *testing.T, s, lit string, rare int) {
		if len(lit) == 0 {
			return
		}
		rare = int(uint(rare) % uint(len(lit)))
		if got, want := lastIndex(s, lit, rare), strings.LastIndex(s, lit); got != want {
			t.Fatalf("lastIndex(%q, %q, %d) = %d, want %d", s, lit, rare, got, want)
		}
	})
}

// TestRareByte checks that the byte looked for is the least common one.
func TestRareByte(t *testing.T) {
	tests := []struct {
		lit  string
		want uint8
	}{
		{" from ", 1}, // 'f'
		{"]", 0},
		{" port ", 1}, // 'p'
		{"sshd", 3},   // 'd'
		{": ", 0},
		{"", 0},
	}
	for _, tc := range tests {
		if got := rareByte(tc.lit); got != tc.want {
			t.Errorf("rareByte(%q) = %d, want %d", tc.lit, got, tc.want)
		}
	}
}

// TestLitAt compares litAt with strings.HasPrefix for literals of every
// length up to 20 at every position of texts that hold them, whole or
// with one byte changed, near the end of the text and far from it.
func TestLitAt(t *testing.T) {
	const text = "Failed password for invalid user admin from 192.0.2.7 port 22 ssh2\n"
	for n := 1; n <= 20; n++ {
		for from := 0; from+n <= len(text); from++ {
			lit := padLit(text[from : from+n])
			for change := -1; change < n; change++ {
				s := text
				if change >= 0 {
					b := []byte(text)
					b[from+change] ^= 0x20
					s = string(b)
				}
				for i := 0; i+n <= len(s); i++ {
					if got, want := litAt(s, i, lit), strings.HasPrefix(s[i:], lit); got != want {
						t.Fatalf("litAt(%q, %d, %q) = %v, want %v", s, i, lit, got, want)
					}
				}
			}
		}
	}
}
