package date

import (
	"strings"
	"testing"
	"time"
)

func FuzzFind(f *testing.F) {
	for _, l := range benchLines {
		f.Add(l)
	}
	for _, l := range []string{
		"Nov  2 02:15:46.1234567890123 x",
		"Feb 29 00:00:60",
		"[2026-02-28T23:59:60.999999999-23:59]",
		"0000-01-01 00:00:00Z",
		"9999-12-31T23:59:59+23:59",
		"Dec 31 23:59:59",
		"Jan  1 00:00:00",
		"[22/Nov/2026:02:15:46 +0100]",
		"1795314946.123 x",
		"@4000000042fef3b00c2d1e54 x",
		"error Nov 22 02:15:46 x",
	} {
		f.Add(l)
	}
	now := time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line string) {
		d := NewDetector(fixedNow(now), time.FixedZone("X", -7*3600))
		m, ok := d.Find(line)
		if !ok {
			return
		}
		if m.Start < 0 || m.End > len(line) || m.Start > m.End {
			t.Fatalf("Find(%q): bad span [%d:%d]", line, m.Start, m.End)
		}
	})
}

// fastPatterns are the patterns with hand-written templates.
var fastPatterns = []string{isoPattern, syslogPattern, apachePattern}

// FuzzFastTemplates checks that the hand-written templates find what the
// expressions they stand for find.
func FuzzFastTemplates(f *testing.F) {
	for _, l := range benchLines {
		f.Add(l)
	}
	for _, pc := range patternCases {
		for _, pl := range pc.lines {
			f.Add(pl.line)
		}
	}
	for _, l := range []string{
		"2005-08-14T03:15:46  +01:00x", "2005-08-14T03:15:46+9 x", "Sun Jan 23 21:59:59.011 2005 x",
		"Jan 31 10:00:00", "Jan 3 1:2:3", "x [14/Aug/2005:11:00:00 UTC] y", "14-aug-2005 11:00:00.123 +01",
		"2005/08/14 11:00:00.1234567 Z", "2005.08.14  1:00:00", " Jan  3  1:02:03 2005x",
		"[1124013600.123] x", "x audit(1124013600.123:45): y", "12345678901.1234567", "--1124013600x",
	} {
		f.Add(l)
	}
	now := time.Date(2005, 8, 14, 10, 0, 0, 0, time.UTC)
	type pair struct{ fast, slow template }
	var pairs []pair
	for _, p := range fastPatterns {
		for _, pat := range []string{p, "{^LN-BEG}" + p} {
			fast := fastTemplate(pat, now)
			built, err := patternRegex(pat, now)
			if err != nil {
				f.Fatal(err)
			}
			slow, err := newRegexTemplate(built, kindPattern)
			if err != nil {
				f.Fatal(err)
			}
			if fast == nil || fast.name() != slow.name() || fast.flags() != slow.flags() {
				f.Fatalf("%q: hand-written template %v does not stand for %q", pat, fast, slow.name())
			}
			pairs = append(pairs, pair{fast, slow})
		}
	}
	for _, lineBegin := range []bool{false, true} {
		slow, err := newEpochTemplate(lineBegin, false, "", now)
		if err != nil {
			f.Fatal(err)
		}
		fast := newFastEpoch(lineBegin)
		if fast.name() != slow.name() || fast.flags() != slow.flags() {
			f.Fatalf("epoch template %q %d does not stand for %q %d", fast.name(), fast.flags(), slow.name(), slow.flags())
		}
		pairs = append(pairs, pair{fast, slow})
	}
	f.Fuzz(func(t *testing.T, line string) {
		if len(line) > 300 || strings.ContainsAny(line, "ſK\u212a") {
			return // non-ASCII case folding is the expressions' only
		}
		d, err := New(Options{Now: fixedNow(now), Location: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pairs {
			var fh, sh hit
			fok := p.fast.search(d, line, 0, len(line), &fh)
			sok := p.slow.search(d, line, 0, len(line), &sh)
			if fok != sok {
				t.Fatalf("%s on %q: hand-written %v, expression %v", p.slow.name(), line, fok, sok)
			}
			if !fok {
				continue
			}
			if fh.start0 != sh.start0 || fh.start != sh.start || fh.end != sh.end {
				t.Fatalf("%s on %q: hand-written [%d %d:%d], expression [%d %d:%d]", p.slow.name(), line, fh.start0, fh.start, fh.end, sh.start0, sh.start, sh.end)
			}
			ft, fok := d.resolve(&fh.f)
			st, sok := d.resolve(&sh.f)
			if fok != sok || !ft.Equal(st) {
				t.Fatalf("%s on %q: hand-written %v %v, expression %v %v", p.slow.name(), line, ft, fok, st, sok)
			}
		}
	})
}

// FuzzPattern checks that any datepattern either fails to compile or
// finds sane spans.
func FuzzPattern(f *testing.F) {
	for _, pc := range patternCases {
		f.Add(pc.pattern, pc.lines[0].line)
	}
	now := time.Date(2005, 8, 14, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, pattern, line string) {
		if len(pattern) > 200 || len(line) > 300 {
			return
		}
		d, err := New(Options{Pattern: pattern, Now: fixedNow(now), Location: time.UTC})
		if err != nil {
			return
		}
		for range 2 {
			m, ok := d.Find(line)
			if !ok {
				return
			}
			if m.Start < 0 || m.End > len(line) || m.Start > m.End {
				t.Fatalf("pattern %q on %q: bad span [%d:%d]", pattern, line, m.Start, m.End)
			}
		}
	})
}
