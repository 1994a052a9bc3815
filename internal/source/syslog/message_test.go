package syslog

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	testNow    = time.Date(2024, 6, 15, 12, 0, 0, 0, time.UTC)
	testSender = netip.MustParseAddr("192.0.2.10")
)

func testParser() *parser {
	return newParser(time.UTC, func() time.Time { return testNow }, 1<<10)
}

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		line    string
		host    string
		program string
		pid     string
		fmt     Format
		pri     int
	}{
		{"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
			"Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", "mymachine", "su", "", RFC3164, 34},
		{"<38>Jun 15 11:59:58 web1 sshd[4242]: Failed password for root from 198.51.100.7 port 22 ssh2\n",
			"Jun 15 11:59:58 web1 sshd[4242]: Failed password for root from 198.51.100.7 port 22 ssh2", "web1", "sshd", "4242", RFC3164, 38},
		{"<13>Jun  5 01:02:03 sshd[7]: no hostname",
			"Jun  5 01:02:03 192.0.2.10 sshd[7]: no hostname", "192.0.2.10", "sshd", "7", RFC3164, 13},
		{"<13>Jun  5 01:02:03 sshd: no hostname, no pid",
			"Jun  5 01:02:03 192.0.2.10 sshd: no hostname, no pid", "192.0.2.10", "sshd", "", RFC3164, 13},
		{"<13>Jun 5 01:02:03.250 host app: unpadded day, fractions",
			"Jun  5 01:02:03 host app: unpadded day, fractions", "host", "app", "", RFC3164, 13},
		{"<13>2024-06-15T13:02:03.123456+02:00 host postfix/smtpd[9]: RFC 3339 stamp",
			"Jun 15 11:02:03 host postfix/smtpd[9]: RFC 3339 stamp", "host", "postfix/smtpd", "9", RFC3164, 13},
		{"<13>Jun 15 11:00:00 host no tag here",
			"Jun 15 11:00:00 host no tag here", "host", "", "", RFC3164, 13},
		{"<13>Jun 15 11:00:00 host sshd[1]:",
			"Jun 15 11:00:00 host sshd[1]: ", "host", "sshd", "1", RFC3164, 13},
		{"<13>just text, no header",
			"Jun 15 12:00:00 192.0.2.10 just text, no header", "192.0.2.10", "", "", RFC3164, 13},
		{"<13>cron[5]: no timestamp",
			"Jun 15 12:00:00 192.0.2.10 cron[5]: no timestamp", "192.0.2.10", "cron", "5", RFC3164, 13},
		{"<13>Jun 15 11:00:00 host sshd[1]: two\nlines\r\n",
			`Jun 15 11:00:00 host sshd[1]: two\nlines`, "host", "sshd", "1", RFC3164, 13},
		{"<0>Jun 15 11:00:00 host kernel: [ 1.2] pri 0",
			"Jun 15 11:00:00 host kernel: [ 1.2] pri 0", "host", "kernel", "", RFC3164, 0},
		{"no PRI at all",
			"Jun 15 12:00:00 192.0.2.10 no PRI at all", "192.0.2.10", "", "", Raw, 13},
		{"<192>Jun 15 11:00:00 host x: PRI too big",
			"Jun 15 12:00:00 192.0.2.10 <192>Jun 15 11:00:00 host x: PRI too big", "192.0.2.10", "", "", Raw, 13},
		{"<013>x", "Jun 15 12:00:00 192.0.2.10 <013>x", "192.0.2.10", "", "", Raw, 13},
		{"<34>1 2024-06-15T10:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed",
			"Jun 15 10:14:15 mymachine.example.com su: 'su root' failed", "mymachine.example.com", "su", "", RFC5424, 34},
		{`<165>1 2024-06-15T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - [exampleSDID@32473 iut="3"] It's time`,
			"Jun 15 12:14:15 192.0.2.1 myproc[8710]: It's time", "192.0.2.1", "myproc", "8710", RFC5424, 165},
		{"<13>1 - - - - - -",
			"Jun 15 12:00:00 192.0.2.10 ", "192.0.2.10", "", "", RFC5424, 13},
		{"<13>1 - - sshd 12 - - multi\nline",
			`Jun 15 12:00:00 192.0.2.10 sshd[12]: multi\nline`, "192.0.2.10", "sshd", "12", RFC5424, 13},
		{"<13>1 garbage that is not RFC 5424",
			"Jun 15 12:00:00 192.0.2.10 1 garbage that is not RFC 5424", "192.0.2.10", "", "", RFC3164, 13},
		// The year is the one nearest to now: December is last year.
		{"<13>Dec 31 23:59:59 host app: last year",
			"Dec 31 23:59:59 host app: last year", "host", "app", "", RFC3164, 13},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m := testParser().parse([]byte(tt.in), testSender)
			if m.Line != tt.line {
				t.Errorf("line %q, want %q", m.Line, tt.line)
			}
			if m.Host != tt.host || m.Program != tt.program || m.PID != tt.pid {
				t.Errorf("host %q program %q pid %q, want %q %q %q", m.Host, m.Program, m.PID, tt.host, tt.program, tt.pid)
			}
			if m.Format != tt.fmt {
				t.Errorf("format %v, want %v", m.Format, tt.fmt)
			}
			if int(m.Facility)*8+int(m.Severity) != tt.pri {
				t.Errorf("facility %d severity %d, want PRI %d", m.Facility, m.Severity, tt.pri)
			}
			if m.Sender != testSender {
				t.Errorf("sender %v", m.Sender)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	loc := time.FixedZone("X", -5*3600)
	tests := []struct {
		in   string
		now  time.Time
		want time.Time
	}{
		{"<13>Jun 15 07:00:00.5 h a: m", testNow, time.Date(2024, 6, 15, 7, 0, 0, 5e8, loc)},
		{"<13>Dec 31 23:59:59 h a: m", time.Date(2025, 1, 1, 0, 0, 1, 0, loc), time.Date(2024, 12, 31, 23, 59, 59, 0, loc)},
		{"<13>Jan  1 00:00:01 h a: m", time.Date(2024, 12, 31, 23, 59, 0, 0, loc), time.Date(2025, 1, 1, 0, 0, 1, 0, loc)},
		{"<13>Feb 29 10:00:00 h a: m", time.Date(2024, 3, 1, 0, 0, 0, 0, loc), time.Date(2024, 2, 29, 10, 0, 0, 0, loc)},
		{"<13>2024-06-15T13:02:03.5Z h a: m", testNow, time.Date(2024, 6, 15, 13, 2, 3, 5e8, time.UTC)},
		{"<13>1 2024-06-15T13:02:03Z h a - - - m", testNow, time.Date(2024, 6, 15, 13, 2, 3, 0, time.UTC)},
		{"<13>no time", testNow, testNow},
	}
	for _, tt := range tests {
		p := newParser(loc, func() time.Time { return tt.now }, 1<<10)
		m := p.parse([]byte(tt.in), testSender)
		if !m.Time.Equal(tt.want) {
			t.Errorf("%q: time %v, want %v", tt.in, m.Time, tt.want)
		}
		if want := tt.want.In(loc).Format(time.Stamp); !strings.HasPrefix(m.Line, want) {
			t.Errorf("%q: line %q does not start with %q", tt.in, m.Line, want)
		}
	}
}

func TestParseCutsLine(t *testing.T) {
	p := newParser(time.UTC, func() time.Time { return testNow }, 40)
	m := p.parse([]byte("<13>Jun 15 11:00:00 host app: "+strings.Repeat("x", 100)), testSender)
	if len(m.Line) != 40 {
		t.Errorf("line of %d bytes: %q", len(m.Line), m.Line)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
		"<13>Jun  5 01:02:03.250 sshd[7]: x",
		"<13>2024-06-15T13:02:03.123456+02:00 host postfix/smtpd[9]: y",
		"<165>1 2024-06-15T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - [a@1 b=\"c\"] z",
		"<13>1 - - - - - -",
		"plain",
		"<0>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := newParser(time.UTC, func() time.Time { return testNow }, 200)
		m := p.parse(b, testSender)
		if len(m.Line) > 200 {
			t.Fatalf("line of %d bytes", len(m.Line))
		}
		if strings.ContainsAny(m.Line, "\n\r") {
			t.Fatalf("line break in %q", m.Line)
		}
		if m.Time.IsZero() || m.Host == "" {
			t.Fatalf("no time or host: %+v", m)
		}
		if m.Facility > 23 || m.Severity > 7 {
			t.Fatalf("PRI out of range: %+v", m)
		}
	})
}
