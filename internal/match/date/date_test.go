package date

import (
	"testing"
	"time"
)

// berlin is a fixed zone for tests, independent of the machine's zone
// database: +01:00 all year.
var berlin = time.FixedZone("CET", 3600)

func fixedNow(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestFind(t *testing.T) {
	now := time.Date(2026, time.November, 22, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		now        time.Time // zero: now above
		line       string
		want       time.Time // zero: no match expected (unless noTime)
		start, end int
		noTime     bool // matched, but the text is no valid date
	}{
		{
			name:  "syslog two-digit day",
			line:  "Nov 22 02:15:46 host sshd[123]: Failed password",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC),
			start: 0, end: 15,
		},
		{
			name:  "syslog space-padded day",
			line:  "Nov  2 02:15:46 host sshd[123]: x",
			want:  time.Date(2026, 11, 2, 2, 15, 46, 0, time.UTC),
			start: 0, end: 15,
		},
		{
			name:  "syslog zero-padded day",
			line:  "Nov 02 02:15:46 host",
			want:  time.Date(2026, 11, 2, 2, 15, 46, 0, time.UTC),
			start: 0, end: 15,
		},
		{
			name:  "syslog unpadded day",
			line:  "Nov 2 02:15:46 host",
			want:  time.Date(2026, 11, 2, 2, 15, 46, 0, time.UTC),
			start: 0, end: 14,
		},
		{
			name:  "syslog fractional seconds",
			line:  "Nov 22 02:15:46.123456 host",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 123456000, time.UTC),
			start: 0, end: 22,
		},
		{
			name:  "syslog at end of line",
			line:  "Nov 22 02:15:46",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC),
			start: 0, end: 15,
		},
		{
			name:  "syslog lower case month",
			line:  "nov 22 02:15:46 host",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC),
			start: 0, end: 15,
		},
		{
			name:  "syslog later today is this year",
			line:  "Nov 22 23:59:59 host",
			want:  time.Date(2026, 11, 22, 23, 59, 59, 0, time.UTC),
			start: 0, end: 15,
		},
		{
			name:  "syslog less than a day ahead is this year",
			line:  "Nov 23 02:59:59 host",
			want:  time.Date(2026, 11, 23, 2, 59, 59, 0, time.UTC),
			start: 0, end: 15,
		},
		{
			name:  "syslog more than a day ahead is last year",
			line:  "Nov 23 03:00:01 host",
			want:  time.Date(2025, 11, 23, 3, 0, 1, 0, time.UTC),
			start: 0, end: 15,
		},
		{
			name:  "syslog year rollover",
			now:   time.Date(2027, 1, 1, 0, 0, 30, 0, time.UTC),
			line:  "Dec 31 23:59:58 host",
			want:  time.Date(2026, 12, 31, 23, 59, 58, 0, time.UTC),
			start: 0, end: 15,
		},
		{
			name:  "syslog Feb 29 read in a common year is from the leap year",
			now:   time.Date(2029, 1, 10, 0, 0, 0, 0, time.UTC),
			line:  "Feb 29 10:00:00 host",
			want:  time.Date(2028, 2, 29, 10, 0, 0, 0, time.UTC),
			start: 0, end: 15,
		},
		{
			name:  "syslog in brackets",
			line:  "[Nov 22 02:15:46] x",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC),
			start: 1, end: 16,
		},
		{
			name:  "syslog after priority",
			line:  "<38>Nov 22 02:15:46 host sshd[1]: x",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC),
			start: 4, end: 19,
		},
		{
			name:  "iso rsyslog",
			line:  "2026-11-22T02:15:46.123456+00:00 host sshd[123]: x",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 123456000, time.UTC),
			start: 0, end: 32,
		},
		{
			name:  "iso positive offset",
			line:  "2026-11-22T03:15:46+01:00 host",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC),
			start: 0, end: 25,
		},
		{
			name:  "iso negative offset without colon",
			line:  "2026-11-21T21:15:46-0500 host",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC),
			start: 0, end: 24,
		},
		{
			name:  "iso hour-only offset",
			line:  "2026-11-22T04:15:46+02 host",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC),
			start: 0, end: 22,
		},
		{
			name:  "iso Z",
			line:  "2026-11-22T02:15:46Z host",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC),
			start: 0, end: 20,
		},
		{
			name:  "iso milliseconds Z",
			line:  "2026-11-22T02:15:46.5Z",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 500000000, time.UTC),
			start: 0, end: 22,
		},
		{
			name:  "iso space no zone is in loc",
			line:  "2026-11-22 03:15:46 host",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC),
			start: 0, end: 19,
		},
		{
			name:  "iso comma fraction",
			line:  "2026-11-22 03:15:46,250 fail2ban.filter",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 250000000, time.UTC),
			start: 0, end: 23,
		},
		{
			name:  "iso fraction of up to six digits",
			line:  "2026-11-22T02:15:46.123456Z x",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 123456000, time.UTC),
			start: 0, end: 27,
		},
		{
			// As fail2ban: %f takes at most six digits, and the date must
			// end at a word boundary, so the fraction is left out.
			name:  "iso more than six fraction digits",
			line:  "2026-11-22T02:15:46.1234567891Z x",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC),
			start: 0, end: 19,
		},
		{
			name:  "syslog one-digit second",
			line:  "Nov 22 02:15:4",
			want:  time.Date(2026, 11, 22, 2, 15, 4, 0, time.UTC),
			start: 0, end: 14,
		},
		{
			name:  "apache",
			line:  `192.0.2.1 - - [22/Nov/2026:03:15:46 +0100] "GET / HTTP/1.1" 404`,
			want:  time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC),
			start: 15, end: 41,
		},
		{
			name:  "epoch",
			line:  "1795314946.500 x",
			want:  time.Date(2026, 11, 22, 2, 35, 46, 500000000, time.UTC),
			start: 0, end: 14,
		},
		{
			name:  "weekday and year",
			line:  "Sun Nov 22 02:15:46 2026 x",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC),
			start: 0, end: 24,
		},
		// A template matches, but the text is no date: it is cut out of
		// the line all the same, as fail2ban does.
		{name: "syslog bad hour", line: "Nov 22 24:15:46 host", start: 0, end: 15, noTime: true},
		{name: "syslog Feb 30", line: "Feb 30 02:15:46 host", start: 0, end: 15, noTime: true},
		{name: "iso Feb 29 common year", line: "2026-02-29T02:15:46Z", start: 0, end: 20, noTime: true},
		{name: "unknown zone name", line: "error Nov 22 02:15:46 x", start: 0, end: 21, noTime: true},
		{
			name:  "iso malformed zone is not consumed",
			line:  "2026-11-22T03:15:46+9 x",
			want:  time.Date(2026, 11, 22, 3, 15, 46, 0, time.UTC),
			start: 0, end: 19,
		},
		{
			name:  "iso after host prefix",
			line:  "host1 2026-11-22T02:15:46Z sshd",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC),
			start: 6, end: 26,
		},
		{
			name:  "rfc5424",
			line:  "<34>1 2026-11-22T02:15:46.003Z mymachine su - ID47 - x",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 3000000, time.UTC),
			start: 6, end: 30,
		},
		{
			name:  "leftmost wins",
			line:  "x [2026-11-22T02:15:46Z] Nov 20 01:00:00",
			want:  time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC),
			start: 3, end: 23,
		},
		{name: "no date", line: "host sshd[123]: Failed password for root from 192.0.2.1 port 22 ssh2"},
		{name: "empty", line: ""},
		{name: "syslog glued to word", line: "xNov 22 02:15:46 host"},
		{name: "syslog followed by digit", line: "Nov 22 02:15:461 host"},
		{name: "syslog bad day", line: "Nov 32 02:15:46 host"},
		{name: "syslog day zero", line: "Nov 00 02:15:46 host"},
		{name: "syslog bad minute", line: "Nov 22 23:60:46 host"},
		{name: "syslog bad month", line: "Noo 22 02:15:46 host"},
		{name: "syslog truncated", line: "Nov 22 02:15:"},
		{name: "iso bad month", line: "2026-13-22T02:15:46Z"},
		{name: "iso bad separator", line: "2026-11-22X02:15:46Z"},
		{name: "iso glued to digit", line: "12026-11-22T02:15:46Z"},
		{name: "iso followed by letter", line: "2026-11-22T02:15:46x"},
		{name: "iso truncated", line: "2026-11-22T02:15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := now
			if !tt.now.IsZero() {
				n = tt.now
			}
			loc := time.UTC
			if tt.name == "iso space no zone is in loc" || tt.name == "iso comma fraction" {
				loc = berlin
			}
			d := NewDetector(fixedNow(n), loc)
			m, ok := d.Find(tt.line)
			if tt.noTime {
				if !ok || m.HasTime || m.Start != tt.start || m.End != tt.end {
					t.Fatalf("Find(%q) = %+v, %v; want [%d:%d] without a time", tt.line, m, ok, tt.start, tt.end)
				}
				return
			}
			if tt.want.IsZero() {
				if ok {
					t.Fatalf("Find(%q) = %v [%d:%d] %q, want no match", tt.line, m.Time, m.Start, m.End, tt.line[m.Start:m.End])
				}
				return
			}
			if !ok {
				t.Fatalf("Find(%q): no match", tt.line)
			}
			if !m.Time.Equal(tt.want) || m.Start != tt.start || m.End != tt.end {
				t.Errorf("Find(%q) = %v [%d:%d], want %v [%d:%d]", tt.line, m.Time.UTC(), m.Start, m.End, tt.want, tt.start, tt.end)
			}
			if m.Time.Location() != loc {
				t.Errorf("location %v, want %v", m.Time.Location(), loc)
			}
		})
	}
}

// TestFindLocalZone checks that syslog times are taken in the Detector's
// location, daylight saving time included.
func TestFindLocalZone(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no zone database: %v", err)
	}
	d := NewDetector(fixedNow(time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)), loc)
	m, ok := d.Find("Jul 31 12:00:00 host x")
	if !ok {
		t.Fatal("no match")
	}
	if want := time.Date(2026, 7, 31, 10, 0, 0, 0, time.UTC); !m.Time.Equal(want) {
		t.Errorf("got %v, want %v", m.Time.UTC(), want)
	}
}

// TestFindRemembersFormat checks that alternating formats keep working and
// that the last matching template is tried first.
func TestFindRemembersFormat(t *testing.T) {
	d := NewDetector(fixedNow(time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)), time.UTC)
	lines := []string{
		"Nov 22 02:15:46 a",
		"2026-11-22T02:15:46Z a",
		"2026-11-22T02:15:47Z a",
		"Nov 22 02:15:48 a",
	}
	// The templates anchored at the start of the line come first: ISO 8601
	// (0) and syslog (1).
	wantLast := []int{1, 0, 0, 1}
	for i, l := range lines {
		if _, ok := d.Find(l); !ok {
			t.Fatalf("Find(%q): no match", l)
		}
		if d.last != wantLast[i] {
			t.Errorf("after %q: last = %d, want %d", l, d.last, wantLast[i])
		}
	}
}

func TestFindDefaults(t *testing.T) {
	d := NewDetector(nil, nil)
	m, ok := d.Find("2026-11-22T02:15:46Z x")
	if !ok || m.Time.Location() != time.Local {
		t.Fatalf("Find with defaults = %v, %v", m, ok)
	}
}

// TestFindMemo checks that a timestamp seen on the line before is resolved
// again when the clock has moved (the year it infers may change), and that
// lines with the same time resolve alike.
func TestFindMemo(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 30, 0, time.UTC)
	d := NewDetector(func() time.Time { return now }, time.UTC)
	find := func(line string) time.Time {
		t.Helper()
		var m Match
		if !d.FindInto(line, &m) || !m.HasTime {
			t.Fatalf("no time in %q", line)
		}
		return m.Time
	}
	steps := []struct {
		now  time.Time // zero: unchanged
		line string
		want time.Time
	}{
		{time.Time{}, "Dec 31 23:59:59 web1 sshd[1]: a", time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)},
		{time.Time{}, "Dec 31 23:59:59 web1 sshd[2]: b", time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)},
		// A month earlier, Dec 31 is in the future: last year's.
		{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), "Dec 31 23:59:59 web1 sshd[3]: c", time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC)},
		{time.Time{}, "Dec 30 23:59:59 web1 sshd[3]: c", time.Date(2025, 12, 30, 23, 59, 59, 0, time.UTC)},
		// Another template, the same instant.
		{time.Time{}, "2026-11-30 10:00:00 web1 sshd[4]: d", time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)},
		{time.Time{}, "2026-11-30 10:00:00 web1 sshd[4]: d", time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)},
	}
	for _, st := range steps {
		if !st.now.IsZero() {
			now = st.now
		}
		if got := find(st.line); !got.Equal(st.want) {
			t.Errorf("now %v, %q: %v, want %v", now, st.line, got, st.want)
		}
	}
}

func TestFindAllocs(t *testing.T) {
	d := NewDetector(nil, time.UTC)
	for _, line := range benchLines {
		allocs := testing.AllocsPerRun(100, func() { d.Find(line) })
		if allocs != 0 {
			t.Errorf("Find(%q): %v allocations, want 0", line, allocs)
		}
	}
}

var benchLines = []string{
	"Nov 22 02:15:46 web1 sshd[4123]: Failed password for invalid user admin from 203.0.113.7 port 52144 ssh2",
	"2026-11-22T02:15:46.123456+00:00 web1 sshd[4123]: Failed password for root from 203.0.113.7 port 52144 ssh2",
	"2026-11-22 02:15:46 web1 sshd[4123]: Accepted publickey for alice from 192.0.2.10 port 50522 ssh2",
	"web1 sshd[4123]: no timestamp here at all, from 198.51.100.4 port 22",
}

// BenchmarkFind measures Find per line for each common format.
func BenchmarkFind(b *testing.B) {
	names := []string{"syslog", "iso-rsyslog", "iso-space", "none"}
	for i, line := range benchLines {
		b.Run(names[i], func(b *testing.B) {
			d := NewDetector(nil, time.UTC)
			b.ReportAllocs()
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				d.Find(line)
			}
		})
	}
}
