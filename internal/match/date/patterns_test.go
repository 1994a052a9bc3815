package date

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// patternCase is a datepattern and lines with what fail2ban's date
// detector found in them (the cut text's byte offsets, -1 if nothing; the
// time as seconds, "" if none, "now" for an empty match).
type patternCase struct {
	pattern string
	lines   []patternLine
}

type patternLine struct {
	line       string
	start, end int
	time       string
}

// The cases were run through fail2ban 1.0.2's DateDetector (clock at
// 2005-08-14T10:00:00Z, zone CET/CEST), one detector per pattern.
var patternCases = []patternCase{
	{"{^LN-BEG}", []patternLine{
		{"Aug 14 11:58:59 host x", 0, 15, "1124013539.000000"},
		{"x Aug 14 11:58:59", -1, -1, ""},
		{"[2005-08-14 11:00:00] x", 1, 20, "1124010000.000000"},
		{"  2005-08-14 11:00:00 x", 2, 21, "1124010000.000000"},
	}},
	{"^%Y-%m-%d %H:%M:%S", []patternLine{
		{"2005-08-14 11:00:00 x", 0, 19, "1124010000.000000"},
		{" 2005-08-14 11:00:00 x", -1, -1, ""},
	}},
	{"EPOCH", []patternLine{
		{"1124013599 x", 0, 10, "1124013599.000000"},
		{"[1124013599.123] x", 1, 15, "1124013599.123000"},
		{"x audit(1124013599.123:45): y", 8, 22, "1124013599.123000"},
		{"x 1124013599 y", -1, -1, ""},
	}},
	{"LEPOCH", []patternLine{
		{"1124013599123 x", 0, 13, "1124013599.123000"},
		{"1124013599123456 x", 0, 16, "1124013599.123456"},
		{"1124013599.123 x", 0, 10, "1124013599.000000"},
	}},
	{"{^LN-BEG}EPOCH", []patternLine{
		{"1124013599 x", 0, 10, "1124013599.000000"},
		{"x 1124013599", -1, -1, ""},
	}},
	{"TAI64N", []patternLine{
		{"@4000000042fef3b00c2d1e54 x", 0, 25, "1124004784.000000"},
		{"x @4000000042fef3b00c2d1e54 y", 2, 27, "1124004784.000000"},
	}},
	{"{^LN-BEG}TAI64N", []patternLine{
		{"@4000000042fef3b00c2d1e54 x", 0, 25, "1124004784.000000"},
		{"x @4000000042fef3b00c2d1e54", -1, -1, ""},
	}},
	{"^[^\\[]*\\[({DATE})", []patternLine{
		{"1.2.3.4 - - [14/Aug/2005:11:00:00 +0200] GET", 13, 39, "1124010000.000000"},
		{"x [2005-08-14 11:00:00] y", 3, 22, "1124010000.000000"},
		{"x [Aug 14 11:00:00] y", 3, 18, "1124010000.000000"},
	}},
	{"{NONE}", []patternLine{
		{"no date 2005-08-14 11:00:00", 0, 0, "now"},
	}},
	{"%d/%b/%Y:%H:%M:%S %z", []patternLine{
		{"x [14/Aug/2005:11:00:00 -0500] y", 3, 29, "1124035200.000000"},
		{"14/AUG/2005:11:00:00 +01:00", 0, 27, "1124013600.000000"},
	}},
	{"^%b %d, %ExY %I:%M:%S %p", []patternLine{
		{"Aug 14, 2005 11:00:00 PM x", 0, 24, "1124053200.000000"},
		{"Aug 14, 2005 12:30:00 AM x", 0, 24, "1123972200.000000"},
		{"aug 14, 2005 1:02:03 pm", 0, 23, "1124017323.000000"},
	}},
	{"%y%m%d %H:%M:%S", []patternLine{
		{"050814 11:00:00 x", 0, 15, "1124010000.000000"},
		{"990814 11:00:00 x", 0, 15, "4090381200.000000"},
	}},
	{"%j %Y %H:%M", []patternLine{
		{"226 2005 11:00 x", 0, 14, "1124010000.000000"},
	}},
	{"^L %d/%m/%Y - %H:%M:%S", []patternLine{
		{"L 14/08/2005 - 11:00:00: x", 0, 23, "1124010000.000000"},
	}},
	{"^<W>{DATE}", []patternLine{
		{"<W>2005-08-14 11:00:00.818 1 => x", 0, 26, "1124010000.000000"},
	}},
	{"%ExY-%Exm-%Exd %ExH:%ExM:%ExS %Exz", []patternLine{
		{"2005-08-14 11:00:00 CEST+0100 x", 0, 29, "1124006400.000000"},
		{"2005-08-14 11:00:00 UTC x", 0, 23, "1124017200.000000"},
		{"2005-08-14 11:00:00 PDT x", 0, 23, "1124042400.000000"},
		{"2005-08-14 11:00:00 XYZ x", 0, 23, ""},
	}},
	{"%H:%M:%S", []patternLine{
		{"11:00:00 x", 0, 8, "1124010000.000000"},
		{"x 23:59:59", 2, 10, "1123970399.000000"},
	}},
	{"%a %b %d %H:%M:%S %Y", []patternLine{
		{"Sun Aug 14 11:00:00 2005 x", 0, 24, "1124010000.000000"},
	}},
	{"%d.%m.%Y %k:%M", []patternLine{
		{"14.08.2005  9:05 x", 0, 16, "1124003100.000000"},
	}},
	{"^%m/%d/%Y %l:%M:%S %p", []patternLine{
		{"08/14/2005  9:05:00 PM x", 0, 22, "1124046300.000000"},
	}},
	{"{UNB}%Y%m%d%H%M%S", []patternLine{
		{"x20050814110000y", 1, 15, "1124010000.000000"},
	}},
	{"(?i)^%Y-%m-%dT%H:%M:%S", []patternLine{
		{"2005-08-14t11:00:00 x", 0, 19, "1124010000.000000"},
	}},
	{"^%Y-%m-%d %H:%M:%S\n{^LN-BEG}", []patternLine{
		{"2005-08-14 11:00:00 x", 0, 19, "1124010000.000000"},
		{"Aug 14 11:00:00 y", 0, 15, "1124010000.000000"},
		{"2005-08-14 11:00:01 z", 0, 19, "1124010001.000000"},
	}},
	{"{^LN-BEG}%ExY(?P<_sep>[-/.])%m(?P=_sep)%d[T ]%H:%M:%S(?:[.,]%f)?(?:\\s*%z)?\n^[^\\[]*\\[({DATE})\n{^LN-BEG}", []patternLine{
		{"2005/08/14 11:00:00 [error] x", 0, 19, "1124010000.000000"},
		{"1.2.3.4 - - [14/Aug/2005:11:00:00 +0100] y", 13, 39, "1124013600.000000"},
		{"2005-08-14T11:00:00.123+0100 z", 0, 28, "1124013600.000000"},
	}},
	{"{DEFAULT}", []patternLine{
		{"Aug 14 11:00:00 x", 0, 15, "1124010000.000000"},
		{"x 2005-08-14 11:00:00", 2, 21, "1124010000.000000"},
	}},
	{"%Y-%m-%d %H:%M:%S**", []patternLine{
		{"2005-08-14 11:00:00x", 0, 19, "1124010000.000000"},
	}},
	{"**%Y-%m-%d %H:%M:%S", []patternLine{
		{"x2005-08-14 11:00:00 y", 1, 20, "1124010000.000000"},
	}},
}

// summer is the test zone in August (CEST).
var summer = time.FixedZone("CEST", 2*3600)

func TestPatterns(t *testing.T) {
	now := time.Unix(1124013600, 0)
	for _, pc := range patternCases {
		d, err := New(Options{Pattern: pc.pattern, Now: fixedNow(now), Location: summer})
		if err != nil {
			t.Errorf("pattern %q: %v", pc.pattern, err)
			continue
		}
		for _, pl := range pc.lines {
			m, ok := d.Find(pl.line)
			where := fmt.Sprintf("pattern %q, line %q", pc.pattern, pl.line)
			if pl.start < 0 {
				if ok {
					t.Errorf("%s: found %+v, fail2ban finds nothing", where, m)
				}
				continue
			}
			if !ok || m.Start != pl.start || m.End != pl.end {
				t.Errorf("%s: found %+v, %v; fail2ban [%d:%d]", where, m, ok, pl.start, pl.end)
				continue
			}
			switch pl.time {
			case "":
				if m.HasTime {
					t.Errorf("%s: time %v, fail2ban has none", where, m.Time)
				}
			case "now":
				if !m.HasTime || !m.Time.Equal(now) {
					t.Errorf("%s: time %v, want now", where, m.Time)
				}
			default:
				want := parseSeconds(t, pl.time)
				got := m.Time
				if want.Nanosecond() == 0 {
					// fail2ban drops the fraction of strptime patterns.
					got = got.Truncate(time.Second)
				}
				if !m.HasTime || !got.Equal(want) {
					t.Errorf("%s: time %v, fail2ban %v", where, m.Time.UTC(), want.UTC())
				}
			}
		}
	}
}

func parseSeconds(t *testing.T, s string) time.Time {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1000)
}

func TestPatternErrors(t *testing.T) {
	for _, p := range []string{"%Q", "%", "100% %H", "%Ex", "(%H", "{^LN-BEG}\n{^LN-BEG}%H:%M:%S\n%H:%M:%S\n%H:%M:%S"} {
		if _, err := New(Options{Pattern: p}); err == nil {
			t.Errorf("New(%q) succeeded, want an error", p)
		}
	}
	if _, err := New(Options{TimeZone: "Mars/Olympus"}); err == nil {
		t.Error("unknown logtimezone accepted")
	}
}

func TestLogTimeZone(t *testing.T) {
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		tz, line string
		want     time.Time
	}{
		{"UTC+0200", "2026-11-22 04:15:46 x", time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC)},
		{"-05", "Nov 21 21:15:46 x", time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC)},
		{"CET", "2026-11-22 03:15:46 x", time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC)},
		// A zone in the text wins over logtimezone.
		{"UTC+0200", "2026-11-22T02:15:46Z x", time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC)},
	}
	for _, tt := range tests {
		d, err := New(Options{Now: fixedNow(now), Location: berlin, TimeZone: tt.tz})
		if err != nil {
			t.Fatal(err)
		}
		m, ok := d.Find(tt.line)
		if !ok || !m.Time.Equal(tt.want) {
			t.Errorf("logtimezone %s, %q: %v, want %v", tt.tz, tt.line, m.Time.UTC(), tt.want)
		}
	}
	for _, tt := range []struct {
		s   string
		off int
	}{{"UTC", 0}, {"Z", 0}, {"GMT+01", 3600}, {"+0530", 19800}, {"-03:30", -12600}, {"CEST", 7200}, {"NPT", 20700}} {
		loc, err := ParseTimeZone(tt.s)
		if err != nil {
			t.Errorf("ParseTimeZone(%q): %v", tt.s, err)
			continue
		}
		if _, off := time.Date(2026, 1, 1, 0, 0, 0, 0, loc).Zone(); off != tt.off {
			t.Errorf("ParseTimeZone(%q): offset %d, want %d", tt.s, off, tt.off)
		}
	}
}

func TestRequiresClock(t *testing.T) {
	for _, tt := range []struct {
		pattern string
		want    bool
	}{
		{"%H:%M:%S", true},
		{`%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S`, true},
		{"(?:%H:%M)?", false},
		{"%H:%M|%Y", false},
		{`[%H:%M]`, false},
		{"%ExH%ExM", false},
		{"%%H:%M", false},
		{"EPOCH", false},
	} {
		if got := requiresClock(tt.pattern); got != tt.want {
			t.Errorf("requiresClock(%q) = %v, want %v", tt.pattern, got, tt.want)
		}
	}
}

func TestStrptimeFields(t *testing.T) {
	now := time.Date(2005, 8, 14, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		pattern, line string
		want          time.Time
	}{
		{"%y-%m-%d %I:%M %p", "05-08-14 12:00 AM", time.Date(2005, 8, 14, 0, 0, 0, 0, time.UTC)},
		{"%y-%m-%d %I:%M %p", "05-08-14 12:00 PM", time.Date(2005, 8, 14, 12, 0, 0, 0, time.UTC)},
		{"%Y %j %H:%M", "2005 001 10:00", time.Date(2005, 1, 1, 10, 0, 0, 0, time.UTC)},
		{"%Y %U %w %H:%M", "2005 32 1 10:00", time.Date(2005, 8, 8, 10, 0, 0, 0, time.UTC)},
		{"%Y %W %a %H:%M", "2005 32 Mon 10:00", time.Date(2005, 8, 8, 10, 0, 0, 0, time.UTC)},
		{"%B %d %Y %H:%M", "August 14 2005 09:00", time.Date(2005, 8, 14, 9, 0, 0, 0, time.UTC)},
		// Only a time: today, or yesterday if that would be ahead.
		{"^%H:%M:%S", "09:00:00", time.Date(2005, 8, 14, 9, 0, 0, 0, time.UTC)},
		{"^%H:%M:%S", "11:00:00", time.Date(2005, 8, 13, 11, 0, 0, 0, time.UTC)},
		{"^%d %H:%M", "13 09:00", time.Time{}}, // a day without a month is no date
	}
	for _, tt := range tests {
		d, err := New(Options{Pattern: tt.pattern, Now: fixedNow(now), Location: time.UTC})
		if err != nil {
			t.Fatalf("%q: %v", tt.pattern, err)
		}
		m, ok := d.Find(tt.line)
		if tt.want.IsZero() {
			if ok && m.HasTime {
				t.Errorf("%q on %q: %v, want no time", tt.pattern, tt.line, m.Time)
			}
			continue
		}
		if !ok || !m.HasTime || !m.Time.Equal(tt.want) {
			t.Errorf("%q on %q: %v (%v), want %v", tt.pattern, tt.line, m.Time, ok, tt.want)
		}
	}
}

// TestNone checks {NONE}: the time is the last one found if it is recent,
// else now.
func TestNone(t *testing.T) {
	now := time.Date(2005, 8, 14, 10, 0, 0, 0, time.UTC)
	d, err := New(Options{Pattern: "{NONE}", Now: fixedNow(now), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := d.Find("2005-08-14 09:59:30 x")
	if !ok || m.Start != 0 || m.End != 0 || !m.Time.Equal(now) {
		t.Errorf("{NONE}: %+v, %v", m, ok)
	}
	if !strings.Contains(defaultPatterns[0], "%ExY") {
		t.Error("the first default template is not ISO 8601")
	}
}
