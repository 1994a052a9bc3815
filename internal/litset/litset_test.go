package litset

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// naive is what In must answer.
func naive(lits []string, text string) bool {
	return slices.ContainsFunc(lits, func(l string) bool { return strings.Contains(text, l) })
}

// sshdLits are literals of the shapes fail2ban's sshd failregexes need.
var sshdLits = []string{
	"Failed ", "Invalid user ", "invalid user ", "Illegal user ", "Accepted ",
	"Connection closed by", "Connection reset by", "Disconnected from", "Connection from ",
	"Received disconnect from ", "authentication failure;", " not allowed because ",
	"maximum authentication attempts exceeded for ", "ROOT LOGIN REFUSED FROM ",
}

func TestIn(t *testing.T) {
	tests := []struct {
		name string
		lits []string
		text string
		want bool
	}{
		{"none", nil, "anything", false},
		{"empty literal", []string{""}, "", true},
		{"at start", sshdLits, "Failed password for root from 192.0.2.1 port 22 ssh2", true},
		{"at end", sshdLits, "web1 sshd[1]: Connection closed by", true},
		{"whole text", sshdLits, "Failed ", true},
		{"one short", sshdLits, "Failed", false},
		{"in the middle", sshdLits, "web1 sshd[1]: pam_unix(sshd:auth): authentication failure; logname=", true},
		{"benign", sshdLits, "web1 CRON[22]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", false},
		{"benign sudo", sshdLits, "web1 sudo: deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/true", false},
		{"short literals", []string{"ab", "x"}, "zzzx", true},
		{"short literal missing", []string{"ab", "xyz"}, "a b xy", false},
		{"mixed lengths", []string{"q", "longer literal"}, "a longer literal", true},
		{"text shorter than a window", []string{"abc"}, "ab", false},
		{"covered literal dropped", []string{"abcdef", "cde"}, "xxcdexx", true},
		{"every offset", []string{"abcdefgh"}, "0123456789abcdefgh", true},
		{"not at a probe", []string{"abcdefgh"}, "0abcdefg", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.lits)
			if got := s.In(tt.text); got != tt.want {
				t.Errorf("In(%q) = %v, want %v", tt.text, got, tt.want)
			}
			if got := naive(tt.lits, tt.text); got != tt.want {
				t.Fatalf("the test is wrong: naive(%q) = %v", tt.text, got)
			}
		})
	}
}

// TestEveryPosition puts each literal at every position of texts of many
// lengths.
func TestEveryPosition(t *testing.T) {
	s := New(sshdLits)
	for _, lit := range sshdLits {
		for pad := range 40 {
			for tail := range 4 {
				text := strings.Repeat("z", pad) + lit + strings.Repeat("y", tail)
				if !s.In(text) {
					t.Fatalf("In(%q) = false", text)
				}
				if cut := text[:len(text)-tail-1]; s.In(cut) != naive(sshdLits, cut) {
					t.Fatalf("In(%q) = %v", cut, s.In(cut))
				}
			}
		}
	}
}

func TestLiterals(t *testing.T) {
	got := New([]string{"b", "abc", "b", "xyz", "wxyz!"}).Literals()
	if want := []string{"b", "xyz"}; !slices.Equal(got, want) {
		t.Errorf("Literals() = %q, want %q", got, want)
	}
	if !New(nil).Empty() || New([]string{"a"}).Empty() {
		t.Error("Empty is wrong")
	}
}

func FuzzIn(f *testing.F) {
	f.Add("Failed \x00invalid user ", "web1 sshd[1]: Failed password for invalid user x")
	f.Add("ab\x00abc\x00zzzzzz", "xxabcxx")
	f.Fuzz(func(t *testing.T, lits, text string) {
		set := strings.Split(lits, "\x00")
		if got, want := New(set).In(text), naive(set, text); got != want {
			t.Fatalf("In(%q) over %q = %v, want %v", text, set, got, want)
		}
	})
}

func BenchmarkIn(b *testing.B) {
	s := New(sshdLits)
	texts := []string{
		"web1 CRON[22]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
		"web1 sshd[2001]: Failed password for invalid user admin from 2001:db8:3:a::300a port 18965 ssh2",
		"web1 kernel: [0.000001] [UFW BLOCK] IN=eth0 OUT= SRC=2001:db8:9:8d::988d DST=192.0.2.1 PROTO=TCP SPT=51461 DPT=23",
	}
	for _, text := range texts {
		b.Run(text[5:10], func(b *testing.B) {
			for b.Loop() {
				s.In(text)
			}
		})
	}
}

// TestManyLiterals checks a set larger than its table has buckets, and
// with more windows than a uint16 counts.
func TestManyLiterals(t *testing.T) {
	var lits []string
	for i := range 9000 {
		lits = append(lits, fmt.Sprintf("<%06d-%06x>", i, i*7919))
	}
	s := New(lits)
	if n := len(s.entries); n <= 1<<16 {
		t.Fatalf("%d windows: the test needs more", n)
	}
	for _, i := range []int{0, 1, 4095, 8999} {
		text := "prefix " + lits[i] + " suffix"
		if !s.In(text) {
			t.Errorf("In(%q) = false", text)
		}
	}
	if s.In("<009000-") || s.In(strings.Repeat("<000001-", 50)) {
		t.Error("In is true for a text without a literal")
	}
}
