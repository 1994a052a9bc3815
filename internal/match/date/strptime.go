package date

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// fields are the parts of a timestamp a template found, as Python's
// strptime directives name them. The zero value is "nothing found".
type fields struct {
	year, month, day int
	hour, min, sec   int
	nsec             int
	yday             int // %j, 0 if absent
	weekP1           int // %U or %W plus one, 0 if absent
	weekdayP1        int // 1 = Monday ... 7 = Sunday, 0 if absent
	zone             int // offset east of UTC in seconds, if hasZone
	epochSec         int64
	epochNsec        int64
	hasYear          bool
	hasMonth         bool
	hasDay           bool
	hour12           bool // hour is %I (1-12), to combine with pm
	pm               bool
	weekStartsMonday bool
	hasZone          bool
	badZone          bool
	invalid          bool // a part does not parse (e.g. an unknown month name)
	isEpoch          bool
}

// setField stores the value of directive key (the name of a group of a
// date pattern: Y, y, m, b, B, d, H, I, M, S, f, p, a, A, w, j, U, W, z, Z).
func (f *fields) setField(key, val string) {
	switch key {
	case "y":
		n, ok := atoi(val)
		if !ok {
			f.invalid = true
			return
		}
		// As fail2ban: the year is always in this century.
		if n <= 2000 {
			n += 2000
		}
		f.year, f.hasYear = n, true
	case "Y":
		n, ok := atoi(val)
		f.year, f.hasYear, f.invalid = n, true, f.invalid || !ok
	case "m":
		n, ok := atoi(val)
		f.month, f.hasMonth, f.invalid = n, true, f.invalid || !ok
	case "b", "B":
		m, ok := monthName(val, key == "B")
		f.month, f.hasMonth, f.invalid = int(m), true, f.invalid || !ok
	case "d":
		n, ok := atoi(strings.TrimLeft(val, " "))
		f.day, f.hasDay, f.invalid = n, true, f.invalid || !ok
	case "H":
		n, ok := atoi(strings.TrimLeft(val, " "))
		f.hour, f.hour12, f.invalid = n, false, f.invalid || !ok
	case "I":
		n, ok := atoi(strings.TrimLeft(val, " "))
		f.hour, f.hour12, f.invalid = n, true, f.invalid || !ok
	case "M":
		n, ok := atoi(val)
		f.min, f.invalid = n, f.invalid || !ok
	case "S":
		n, ok := atoi(val)
		f.sec, f.invalid = n, f.invalid || !ok
	case "f":
		f.nsec = fractionNanos(val)
	case "p":
		f.pm = strings.EqualFold(val, "pm")
	case "a", "A":
		if d, ok := weekdayName(val, key == "A"); ok {
			f.weekdayP1 = d + 1
		}
	case "w":
		if n, ok := atoi(val); ok {
			f.weekdayP1 = (n+6)%7 + 1
		}
	case "j":
		if n, ok := atoi(val); ok {
			f.yday = n
		}
	case "U", "W":
		if n, ok := atoi(val); ok {
			f.weekP1, f.weekStartsMonday = n+1, key == "W"
		}
	case "z", "Z":
		off, ok := zoneOffset(val)
		f.zone, f.hasZone, f.badZone = off, true, f.badZone || !ok
	}
}

// atoi parses decimal digits.
func atoi(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// fractionNanos converts the digits of fractional seconds to nanoseconds
// (digits past the ninth are ignored).
func fractionNanos(s string) int {
	ns, scale := 0, 100000000
	for i := 0; i < len(s) && scale > 0; i++ {
		if !isDigit(s[i]) {
			break
		}
		ns += int(s[i]-'0') * scale
		scale /= 10
	}
	return ns
}

var monthNames = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}

var weekdayNames = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// monthName parses an English month name (full or abbreviated), in any
// case.
func monthName(s string, full bool) (time.Month, bool) {
	for i, n := range monthNames {
		if !full {
			n = n[:3]
		}
		if strings.EqualFold(s, n) {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

// weekdayName parses an English weekday name (0 = Monday).
func weekdayName(s string, full bool) (int, bool) {
	for i, n := range weekdayNames {
		if !full {
			n = n[:3]
		}
		if strings.EqualFold(s, n) {
			return i, true
		}
	}
	return 0, false
}

// resolve turns the fields into an instant with fail2ban's rules
// (reGroupDictStrptime): a missing year is this year, or last year if that
// puts the time more than a day ahead of now; a missing date is today, or
// yesterday if that puts the time ahead of now; a time without a zone is
// in the default zone (logtimezone) if there is one, else in d's location.
// Like fail2ban, it compares the naive date with the local wall clock even
// when the date had a zone.
func (d *Detector) resolve(f *fields) (time.Time, bool) {
	if f.isEpoch {
		return time.Unix(f.epochSec, f.epochNsec).In(d.loc), true
	}
	if f.invalid || f.badZone {
		return time.Time{}, false
	}
	if f.hasYear && f.hasMonth && f.hasDay && !f.hour12 {
		// The common case: a full date.
		if f.hour > 23 || f.min > 59 || f.sec > 60 || !validDate(f.year, time.Month(f.month), f.day) {
			return time.Time{}, false
		}
		switch {
		case f.hasZone:
			wall := (d.yearStart(f.year)+int64(yearDay(time.Month(f.month), f.day, f.year))-1)*86400 + int64(f.hour*3600+f.min*60+f.sec)
			return time.Unix(wall-int64(f.zone), int64(f.nsec)).In(d.loc), true
		case d.tz == nil:
			return time.Date(f.year, time.Month(f.month), f.day, f.hour, f.min, f.sec, f.nsec, d.loc), true
		}
	}
	// Naive (wall clock) times as seconds since the epoch of a zone-less
	// calendar, as Python's naive datetimes compare.
	haveNow := false
	wallNow := func() int64 {
		if !haveNow {
			d.setNow()
			haveNow = true
		}
		return d.nowWall
	}
	year, month, day := f.year, time.Month(f.month), f.day
	assumeYear := false
	if !f.hasYear {
		wallNow()
		year, assumeYear = d.civilY, true
	}
	if !f.hasMonth || !f.hasDay {
		if f.yday == 0 && f.weekP1 > 0 && f.weekdayP1 > 0 {
			f.yday = julianFromWeek(year, f.weekP1-1, f.weekdayP1-1, f.weekStartsMonday)
		}
		if f.yday != 0 {
			t := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, f.yday-1)
			year, month, day = t.Year(), t.Month(), t.Day()
			f.hasMonth, f.hasDay = true, true
		}
	}
	assumeToday := false
	if !f.hasMonth && !f.hasDay {
		wallNow()
		month, day, assumeToday = d.civilM, d.civilD, true
	} else if !f.hasMonth || !f.hasDay {
		return time.Time{}, false
	}
	hour := f.hour
	if f.hour12 {
		switch {
		case !f.pm && hour == 12:
			hour = 0
		case f.pm && hour != 12:
			hour += 12
		}
	}
	if hour > 23 || f.min > 59 || f.sec > 60 {
		return time.Time{}, false
	}
	if !validDate(year, month, day) {
		if !assumeYear || !validDate(year-1, month, day) {
			return time.Time{}, false
		}
		// Feb 29 read in a common year: last year's (fail2ban gives up).
		year--
	}
	// Python's datetime has no leap second and fail2ban fails on :60,
	// but a clock that writes :60 means the minute's end.
	zoned := f.hasZone
	offset := f.zone
	if !zoned && d.tz != nil {
		zoned, offset = true, *d.tz
	}
	if !zoned && !assumeToday && !assumeYear {
		// The common case: a full date in the local zone.
		return time.Date(year, month, day, hour, f.min, f.sec, f.nsec, d.loc), true
	}
	clock := int64(hour*3600 + f.min*60 + f.sec)
	var days int64
	if year == d.civilY && haveNow {
		days = d.yearDays + int64(yearDay(month, day, year)) - 1
	} else {
		days = civilDays(year, month, day)
	}
	wall := days*86400 + clock
	if zoned {
		wall -= int64(offset)
	}
	shifted := false
	if assumeToday && wall > wallNow() {
		wall -= 86400
		shifted = true
	}
	if assumeYear && wall > wallNow()+86400 {
		// As fail2ban: the same month and day (not those the zone may
		// have shifted to), last year.
		if !validDate(year-1, month, day) {
			return time.Time{}, false
		}
		secs := wall - civilDays(year, month, day)*86400
		year--
		wall = civilDays(year, month, day)*86400 + secs
	}
	if zoned {
		return time.Unix(wall, int64(f.nsec)).In(d.loc), true
	}
	if shifted {
		year, month, day = civilDate(wall)
	}
	return time.Date(year, month, day, hour, f.min, f.sec, f.nsec, d.loc), true
}

// setNow reads the clock and sets the wall clock time of now and its date;
// a clock read once per batch of lines gives the same time again, which
// costs nothing more.
func (d *Detector) setNow() {
	n := d.now()
	if n.Equal(d.lastNow) && !d.lastNow.IsZero() {
		return
	}
	d.lastNow = n
	u := n.Unix()
	if u < d.zoneFrom || u >= d.zoneTo {
		// The zone's offset until its next change (daylight saving
		// time), to read it once per period rather than per line.
		z := n.In(d.loc)
		_, off := z.Zone()
		start, end := z.ZoneBounds()
		d.zoneOff, d.zoneFrom, d.zoneTo = int64(off), -1<<62, 1<<62
		if !start.IsZero() {
			d.zoneFrom = start.Unix()
		}
		if !end.IsZero() {
			d.zoneTo = end.Unix()
		}
	}
	d.nowWall = u + d.zoneOff
	if d.nowWall >= d.civilFrom && d.nowWall < d.civilFrom+86400 {
		return
	}
	y, m, dd := civilDate(d.nowWall)
	d.civilFrom = civilDays(y, m, dd) * 86400
	d.civilY, d.civilM, d.civilD = y, m, dd
	d.yearDays = civilDays(y, 1, 1)
}

// yearStart returns the days from the epoch to January 1 of year y,
// remembering the last year asked for.
func (d *Detector) yearStart(y int) int64 {
	if y != d.ysYear || !d.ysSet {
		d.ysYear, d.ysDays, d.ysSet = y, civilDays(y, 1, 1), true
	}
	return d.ysDays
}

// cumDays are the days before each month in a common year.
var cumDays = [13]int{0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334}

// yearDay returns the day of the year of a date (1-based).
func yearDay(m time.Month, d, y int) int {
	n := cumDays[m] + d
	if m > time.February && daysIn(time.February, y) == 29 {
		n++
	}
	return n
}

// civilDays returns the days from 1970-01-01 to a date of the proleptic
// Gregorian calendar.
func civilDays(y int, m time.Month, d int) int64 {
	yy, mm := int64(y), int64(m)
	if mm <= 2 {
		yy--
	}
	era := yy / 400
	if yy < 0 && yy%400 != 0 {
		era--
	}
	yoe := yy - era*400
	mp := (mm + 9) % 12
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilDate returns the date of a wall clock time in seconds since the
// epoch.
func civilDate(wall int64) (int, time.Month, int) {
	z := wall / 86400
	if wall < 0 && wall%86400 != 0 {
		z--
	}
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), time.Month(m), int(d)
}

// validDate reports whether the date exists.
func validDate(y int, m time.Month, d int) bool {
	return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(m, y)
}

// julianFromWeek returns the day of the year of a week number and
// weekday, as Python's _calc_julian_from_U_or_W.
func julianFromWeek(year, week, weekday int, mondayFirst bool) int {
	first := int(time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Weekday()+6) % 7 // 0 = Monday
	if !mondayFirst {
		first = (first + 1) % 7
		weekday = (weekday + 1) % 7
	}
	if week == 0 {
		return 1 + weekday - first
	}
	daysToWeek := (7-first)%7 + 7*(week-1)
	return 1 + daysToWeek + weekday
}

// zoneOffset parses a zone as fail2ban's %z/%Z values and logtimezone:
// "Z", "UTC", "GMT", an abbreviation from fail2ban's table, an offset
// "+hh", "+hhmm", "+hh:mm", or an abbreviation followed by an offset
// ("CET+0100"). It returns seconds east of UTC.
func zoneOffset(s string) (int, bool) {
	switch s {
	case "Z", "UTC", "GMT":
		return 0, true
	}
	// ([A-Z](?:[A-Z]{2,4})?)?([+-][01]\d(?::?\d{2})?)?$
	i := 0
	for i < len(s) && s[i] >= 'A' && s[i] <= 'Z' {
		i++
	}
	abbr, rest := s[:i], s[i:]
	if len(abbr) == 2 || len(abbr) > 5 {
		return 0, false
	}
	base := 0
	if abbr != "" {
		m, ok := zoneAbbrs[abbr]
		if !ok {
			return 0, false
		}
		base = m * 60
	}
	if rest == "" {
		return base, true
	}
	if len(rest) < 3 || (rest[0] != '+' && rest[0] != '-') || (rest[1] != '0' && rest[1] != '1') || !isDigit(rest[2]) {
		return 0, false
	}
	hh := int(rest[1]-'0')*10 + int(rest[2]-'0')
	mm := 0
	switch tail := rest[3:]; {
	case tail == "":
	case len(tail) == 2 && isDigit(tail[0]) && isDigit(tail[1]):
		mm = int(tail[0]-'0')*10 + int(tail[1]-'0')
	case len(tail) == 3 && tail[0] == ':' && isDigit(tail[1]) && isDigit(tail[2]):
		mm = int(tail[1]-'0')*10 + int(tail[2]-'0')
	default:
		return 0, false
	}
	off := hh*3600 + mm*60
	if rest[0] == '-' {
		off = -off
	}
	return base + off, true
}

// ParseTimeZone parses a logtimezone value ("UTC", "UTC+0200", "-05",
// "CET", ...) into a fixed zone. Like fail2ban, abbreviations stand for a
// fixed offset: CET is always +01:00.
func ParseTimeZone(s string) (*time.Location, error) {
	off, ok := zoneOffset(s)
	if !ok {
		return nil, fmt.Errorf("unknown or unsupported time zone %q", s)
	}
	return time.FixedZone(s, off), nil
}

// zoneAbbrs maps the zone abbreviations fail2ban knows to their offset in
// minutes (fail2ban's TZ_STR, from the public list of abbreviations).
var zoneAbbrs = func() map[string]int {
	table := `
	-12 Y
	-11 X NUT SST
	-10 W CKT HAST HST TAHT TKT
	-9 V AKST GAMT GIT HADT HNY
	-8 U AKDT CIST HAY HNP PST PT
	-7 T HAP HNR MST PDT
	-6 S CST EAST GALT HAR HNC MDT
	-5 R CDT COT EASST ECT EST ET HAC HNE PET
	-4 Q AST BOT CLT COST EDT FKT GYT HAE HNA PYT
	-3 P ADT ART BRT CLST FKST GFT HAA PMST PYST SRT UYT WGT
	-2 O BRST FNT PMDT UYST WGST
	-1 N AZOT CVT EGT
	0 Z EGST GMT UTC WET WT
	1 A CET DFT WAT WEDT WEST
	2 B CAT CEDT CEST EET SAST WAST
	3 C EAT EEDT EEST IDT MSK
	4 D AMT AZT GET GST KUYT MSD MUT RET SAMT SCT
	5 E AMST AQTT AZST HMT MAWT MVT PKT TFT TJT TMT UZT YEKT
	6 F ALMT BIOT BTT IOT KGT NOVT OMST YEKST
	7 G CXT DAVT HOVT ICT KRAT NOVST OMSST THA WIB
	8 H ACT AWST BDT BNT CAST HKT IRKT KRAST MYT PHT SGT ULAT WITA WST
	9 I AWDT IRKST JST KST PWT TLT WDT WIT YAKT
	10 K AEST ChST PGT VLAT YAKST YAPT
	11 L AEDT LHDT MAGT NCT PONT SBT VLAST VUT
	12 M ANAST ANAT FJT GILT MAGST MHT NZST PETST PETT TVT WFT
	13 FJST NZDT
	11.5 NFT
	10.5 ACDT LHST
	9.5 ACST
	6.5 CCT MMT
	5.75 NPT
	5.5 SLT
	4.5 AFT IRDT
	3.5 IRST
	-2.5 HAT NDT
	-3.5 HNT NST NT
	-4.5 HLV VET
	-9.5 MART MIT`
	m := map[string]int{}
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		h, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			panic(err)
		}
		for _, a := range f[1:] {
			m[a] = int(h * 60)
		}
	}
	return m
}()
