package date

import (
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
		if m.Start < 0 || m.End > len(line) || m.Start >= m.End {
			t.Fatalf("Find(%q): bad span [%d:%d]", line, m.Start, m.End)
		}
		// The same text alone must parse to the same instant.
		m2, ok := d.Find(line[m.Start:m.End])
		if !ok || !m2.Time.Equal(m.Time) || m2.Start != 0 || m2.End != m.End-m.Start {
			t.Fatalf("Find(%q) = %v, but its text %q alone gives %v, %v", line, m, line[m.Start:m.End], m2, ok)
		}
	})
}
