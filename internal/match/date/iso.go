package date

import "time"

// isoTemplate parses ISO 8601 / RFC 3339 timestamps:
// "YYYY-MM-DDThh:mm:ss" or "YYYY-MM-DD hh:mm:ss", optionally followed by
// fractional seconds ("." or "," and digits) and a zone ("Z", "+hh:mm",
// "+hhmm", "+hh"). Without a zone the time is in the Detector's location.
type isoTemplate struct{}

func (isoTemplate) first(c byte) bool { return isDigit(c) }

func (isoTemplate) parse(d *Detector, s string, i int) (time.Time, int, bool) {
	// "YYYY-MM-DDThh:mm:ss" is 19 bytes.
	if len(s)-i < 19 {
		return time.Time{}, 0, false
	}
	y1, ok1 := digits2(s, i)
	y2, ok2 := digits2(s, i+2)
	if !ok1 || !ok2 || s[i+4] != '-' || s[i+7] != '-' {
		return time.Time{}, 0, false
	}
	mon, okM := digits2(s, i+5)
	day, okD := digits2(s, i+8)
	if !okM || !okD || mon < 1 || mon > 12 {
		return time.Time{}, 0, false
	}
	year := y1*100 + y2
	if day < 1 || day > daysIn(time.Month(mon), year) {
		return time.Time{}, 0, false
	}
	if sep := s[i+10]; sep != 'T' && sep != ' ' && sep != 't' {
		return time.Time{}, 0, false
	}
	h, m, sec, ok := clock(s, i+11)
	if !ok {
		return time.Time{}, 0, false
	}
	j := i + 19
	ns := 0
	if j+1 < len(s) && (s[j] == '.' || s[j] == ',') && isDigit(s[j+1]) {
		ns, j = fraction(s, j+1)
	}
	offset, hasZone, j := zone(s, j)
	if j < len(s) && isWord(s[j]) {
		return time.Time{}, 0, false
	}
	if !hasZone {
		return time.Date(year, time.Month(mon), day, h, m, sec, ns, d.loc), j, true
	}
	t := time.Date(year, time.Month(mon), day, h, m, sec, ns, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second).In(d.loc), j, true
}

// zone parses an optional zone designator at s[i:]: "Z", "+hh", "+hhmm" or
// "+hh:mm" (or with "-"). It returns the offset east of UTC in seconds and
// the offset just after the designator; a malformed designator is not
// consumed.
func zone(s string, i int) (offset int, ok bool, end int) {
	if i >= len(s) {
		return 0, false, i
	}
	switch s[i] {
	case 'Z', 'z':
		return 0, true, i + 1
	case '+', '-':
	default:
		return 0, false, i
	}
	hh, okH := digits2(s, i+1)
	if !okH || hh > 23 {
		return 0, false, i
	}
	end = i + 3
	mm := 0
	switch {
	case end+2 < len(s) && s[end] == ':' && isDigit(s[end+1]) && isDigit(s[end+2]):
		mm, _ = digits2(s, end+1)
		end += 3
	case end+1 < len(s) && isDigit(s[end]) && isDigit(s[end+1]):
		mm, _ = digits2(s, end)
		end += 2
	}
	if mm > 59 {
		return 0, false, i
	}
	offset = (hh*60 + mm) * 60
	if s[i] == '-' {
		offset = -offset
	}
	return offset, true, end
}
