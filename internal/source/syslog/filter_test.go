package syslog

import (
	"net/netip"
	"testing"
)

func TestFilter(t *testing.T) {
	msg := func(sender, host, program string) *Message {
		return &Message{Sender: netip.MustParseAddr(sender), Host: host, Program: program}
	}
	tests := []struct {
		name            string
		programs, hosts []string
		m               *Message
		want            bool
	}{
		{"empty lets all through", nil, nil, msg("192.0.2.1", "web1", "sshd"), true},
		{"program", []string{"sshd"}, nil, msg("192.0.2.1", "web1", "sshd"), true},
		{"other program", []string{"sshd"}, nil, msg("192.0.2.1", "web1", "cron"), false},
		{"program pattern", []string{"postfix/*"}, nil, msg("192.0.2.1", "web1", "postfix/smtpd"), true},
		{"no program", []string{"sshd"}, nil, msg("192.0.2.1", "web1", ""), false},
		{"host pattern", nil, []string{"WEB*"}, msg("192.0.2.1", "web1", "sshd"), true},
		{"other host", nil, []string{"web*"}, msg("192.0.2.1", "db1", "sshd"), false},
		{"sender prefix", nil, []string{"192.0.2.0/24"}, msg("192.0.2.1", "db1", "sshd"), true},
		{"sender address", nil, []string{"192.0.2.1"}, msg("::ffff:192.0.2.1", "db1", "sshd"), true},
		{"hostname address", nil, []string{"198.51.100.0/24"}, msg("192.0.2.1", "198.51.100.3", "sshd"), true},
		{"other address", nil, []string{"2001:db8::/32"}, msg("192.0.2.1", "db1", "sshd"), false},
		{"both", []string{"sshd"}, []string{"web1"}, msg("192.0.2.1", "web1", "cron"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFilter(tt.programs, tt.hosts)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(tt.m); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
	for _, bad := range [][2][]string{{{"["}, nil}, {nil, {"[x"}}, {{""}, nil}} {
		if _, err := NewFilter(bad[0], bad[1]); err == nil {
			t.Errorf("NewFilter(%q, %q): no error", bad[0], bad[1])
		}
	}
}
