package date

import "time"

// syslogTemplate parses the BSD syslog timestamp "Mmm dd hh:mm:ss" (day
// space-padded or zero-padded, optional fractional seconds), which carries
// no year.
type syslogTemplate struct{}

func (syslogTemplate) first(c byte) bool {
	switch c | 0x20 { // ASCII lower case
	case 'j', 'f', 'm', 'a', 's', 'o', 'n', 'd':
		return true
	}
	return false
}

func (syslogTemplate) parse(d *Detector, s string, i int) (time.Time, int, bool) {
	// Shortest form: "Mmm d hh:mm:ss" (14 bytes).
	if len(s)-i < 14 {
		return time.Time{}, 0, false
	}
	mon, ok := month(s[i], s[i+1], s[i+2])
	if !ok || s[i+3] != ' ' {
		return time.Time{}, 0, false
	}
	var day int
	j := i + 4
	switch {
	case s[j] == ' ' && isDigit(s[j+1]) && s[j+2] == ' ': // "Nov  2"
		day = int(s[j+1] - '0')
		j += 3
	case isDigit(s[j]) && isDigit(s[j+1]) && s[j+2] == ' ': // "Nov 22", "Nov 02"
		day = int(s[j]-'0')*10 + int(s[j+1]-'0')
		j += 3
	case isDigit(s[j]) && s[j+1] == ' ': // "Nov 2"
		day = int(s[j] - '0')
		j += 2
	default:
		return time.Time{}, 0, false
	}
	if day < 1 || day > 31 || len(s)-j < 8 {
		return time.Time{}, 0, false
	}
	h, m, sec, ok := clock(s, j)
	if !ok {
		return time.Time{}, 0, false
	}
	j += 8
	ns := 0
	if j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
		ns, j = fraction(s, j+1)
	}
	if j < len(s) && isWord(s[j]) {
		return time.Time{}, 0, false
	}
	t, ok := d.inferYear(mon, day, h, m, sec, ns)
	return t, j, ok
}

// inferYear builds a time from a timestamp without a year the way fail2ban
// does: the current year, unless that is more than a day in the future
// (log written last year, say on Dec 31 and read on Jan 1), then the year
// before. A Feb 29 that does not exist this year is taken from last year.
func (d *Detector) inferYear(mon time.Month, day, h, m, sec, ns int) (time.Time, bool) {
	now := d.now()
	year := now.In(d.loc).Year()
	if day > daysIn(mon, year) {
		year--
		if day > daysIn(mon, year) {
			return time.Time{}, false
		}
	}
	t := time.Date(year, mon, day, h, m, sec, ns, d.loc)
	if t.Sub(now) > 24*time.Hour {
		year--
		if day > daysIn(mon, year) {
			return time.Time{}, false
		}
		t = time.Date(year, mon, day, h, m, sec, ns, d.loc)
	}
	return t, true
}

// month parses an English three-letter month abbreviation, in any case.
func month(a, b, c byte) (time.Month, bool) {
	k := uint32(a|0x20)<<16 | uint32(b|0x20)<<8 | uint32(c|0x20)
	switch k {
	case 'j'<<16 | 'a'<<8 | 'n':
		return time.January, true
	case 'f'<<16 | 'e'<<8 | 'b':
		return time.February, true
	case 'm'<<16 | 'a'<<8 | 'r':
		return time.March, true
	case 'a'<<16 | 'p'<<8 | 'r':
		return time.April, true
	case 'm'<<16 | 'a'<<8 | 'y':
		return time.May, true
	case 'j'<<16 | 'u'<<8 | 'n':
		return time.June, true
	case 'j'<<16 | 'u'<<8 | 'l':
		return time.July, true
	case 'a'<<16 | 'u'<<8 | 'g':
		return time.August, true
	case 's'<<16 | 'e'<<8 | 'p':
		return time.September, true
	case 'o'<<16 | 'c'<<8 | 't':
		return time.October, true
	case 'n'<<16 | 'o'<<8 | 'v':
		return time.November, true
	case 'd'<<16 | 'e'<<8 | 'c':
		return time.December, true
	}
	return 0, false
}
