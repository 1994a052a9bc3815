package syslog

import (
	"bytes"
	"net/netip"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/gaol-project/gaol/internal/source"
)

// Message is one syslog message received.
type Message struct {
	// Entry has the message's time (from its header, else when it was
	// received) and its line, as a syslog daemon would have written it
	// to a file: source.FormatLine(time, Host, Program, PID, text).
	source.Entry
	// Sender is the address the message came from.
	Sender netip.Addr
	// Host is the HOSTNAME of the header, or the sender's address when
	// the header has none.
	Host string
	// Program is the TAG (RFC 3164) or APP-NAME (RFC 5424); "" if none.
	Program string
	// PID is the process id of the tag or PROCID; "" if none.
	PID string
	// Facility and Severity are those of the PRI part (user.notice when
	// the message has none).
	Facility, Severity uint8
	// Format is the form the message was read in.
	Format Format
}

// Format is the form of a syslog message.
type Format uint8

// The forms of syslog messages.
const (
	// Raw is a message without a valid PRI part: all of it is the text.
	Raw Format = iota
	// RFC3164 is the BSD syslog form: <PRI>TIMESTAMP HOSTNAME TAG: MSG.
	RFC3164
	// RFC5424 is the syslog protocol: <PRI>1 TIMESTAMP HOSTNAME APP-NAME
	// PROCID MSGID STRUCTURED-DATA MSG.
	RFC5424
)

// String names the format.
func (f Format) String() string {
	switch f {
	case RFC3164:
		return "RFC 3164"
	case RFC5424:
		return "RFC 5424"
	default:
		return "raw"
	}
}

// parser turns frames into Messages. It is not safe for concurrent use:
// each reading goroutine has its own.
type parser struct {
	loc     *time.Location
	now     func() time.Time
	maxLine int
	rfc5424 gosyslog.Machine
}

func newParser(loc *time.Location, now func() time.Time, maxLine int) *parser {
	return &parser{loc: loc, now: now, maxLine: maxLine, rfc5424: rfc5424.NewMachine()}
}

// defaultPRI is user.notice, RFC 3164's default for a message without PRI.
const defaultPRI = 13

// parse reads one message (without its framing) from sender. It never
// fails: what cannot be read as RFC 5424 or RFC 3164 is a Raw message.
func (p *parser) parse(b []byte, sender netip.Addr) Message {
	b = bytes.TrimRight(b, "\r\n\x00")
	m := Message{Sender: sender}
	pri, rest, ok := parsePRI(b)
	if !ok {
		m.setPRI(defaultPRI)
		m.Time = p.now()
		return p.finish(m, b)
	}
	m.setPRI(pri)
	if isRFC5424(rest) {
		if text, ok := p.parse5424(&m, b); ok {
			m.Format = RFC5424
			return p.finish(m, text)
		}
		m = Message{Sender: sender}
		m.setPRI(pri)
	}
	m.Format = RFC3164
	return p.finish(m, p.parse3164(&m, rest))
}

// finish fills in the defaults and makes the line.
func (p *parser) finish(m Message, text []byte) Message {
	if m.Time.IsZero() {
		m.Time = p.now()
	}
	if m.Host == "" && m.Sender.IsValid() {
		m.Host = m.Sender.String()
	}
	line := source.FormatLine(m.Time.In(p.loc), m.Host, m.Program, m.PID, string(text))
	if len(line) > p.maxLine {
		line = line[:p.maxLine]
	}
	m.Line = line
	return m
}

func (m *Message) setPRI(pri int) {
	m.Facility, m.Severity = uint8(pri/8), uint8(pri%8)
}

// parsePRI reads "<PRI>" at the start of b: 1 to 3 digits, at most 191,
// no leading zero but for "<0>".
func parsePRI(b []byte) (pri int, rest []byte, ok bool) {
	if len(b) < 3 || b[0] != '<' {
		return 0, b, false
	}
	end := bytes.IndexByte(b[1:min(len(b), 5)], '>')
	if end < 1 {
		return 0, b, false
	}
	digits := b[1 : 1+end]
	if len(digits) > 1 && digits[0] == '0' {
		return 0, b, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, b, false
		}
		pri = pri*10 + int(c-'0')
	}
	if pri > 191 {
		return 0, b, false
	}
	return pri, b[2+end:], true
}

// isRFC5424 reports whether what follows the PRI is a VERSION and a
// space, as in RFC 5424 ("1 ").
func isRFC5424(rest []byte) bool {
	i := 0
	for i < len(rest) && i < 3 && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	return i > 0 && rest[0] != '0' && i < len(rest) && rest[i] == ' '
}

// parse5424 reads an RFC 5424 message with go-syslog into m and returns
// its MSG.
func (p *parser) parse5424(m *Message, b []byte) ([]byte, bool) {
	parsed, err := p.rfc5424.Parse(b)
	if err != nil || parsed == nil {
		return nil, false
	}
	sm, ok := parsed.(*rfc5424.SyslogMessage)
	if !ok {
		return nil, false
	}
	if sm.Timestamp != nil {
		m.Time = *sm.Timestamp
	}
	if sm.Hostname != nil {
		m.Host = *sm.Hostname
	}
	if sm.Appname != nil {
		m.Program = *sm.Appname
	}
	if sm.ProcID != nil {
		m.PID = *sm.ProcID
	}
	var text []byte
	if sm.Message != nil {
		text = bytes.TrimPrefix([]byte(*sm.Message), []byte("\xef\xbb\xbf")) // the UTF-8 BOM
	}
	return text, true
}

// parse3164 reads what follows the PRI of a BSD syslog message into m and
// returns its text. It is lenient, as receivers are: the timestamp may be
// "Mmm dd hh:mm:ss" (with fractions of a second) or RFC 3339, or missing;
// the hostname may be missing; the tag may be "program[pid]:",
// "program:" or missing.
func (p *parser) parse3164(m *Message, b []byte) []byte {
	b = trimSpaces(b)
	t, rest, ok := p.parseStamp(b)
	if !ok {
		t, rest, ok = parseRFC3339(b)
	}
	if ok {
		m.Time = t
		b = trimSpaces(rest)
		// A HOSTNAME follows the timestamp, unless the next word is
		// already the tag.
		if w := word(b); len(w) > 0 && len(w) < len(b) && !isTag(w) {
			m.Host = string(w)
			b = trimSpaces(b[len(w):])
		}
	}
	program, pid, text, ok := parseTag(b)
	if !ok {
		return b
	}
	m.Program, m.PID = program, pid
	return text
}

// word is b up to its first space.
func word(b []byte) []byte {
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i]
	}
	return b
}

// trimSpaces drops leading spaces.
func trimSpaces(b []byte) []byte {
	return bytes.TrimLeft(b, " ")
}

// isTag reports whether a word is a tag ("prog:" or "prog[pid]..."),
// not a hostname.
func isTag(w []byte) bool {
	return w[len(w)-1] == ':' || bytes.IndexByte(w, '[') >= 0
}

// maxTag is the longest program name taken from a tag.
const maxTag = 64

// parseTag reads "program[pid]: text" or "program: text".
func parseTag(b []byte) (program, pid string, text []byte, ok bool) {
	i := 0
	for i < len(b) && i <= maxTag && b[i] > ' ' && b[i] != ':' && b[i] != '[' && b[i] < 0x7f {
		i++
	}
	if i == 0 || i > maxTag || i == len(b) {
		return "", "", nil, false
	}
	program, rest := string(b[:i]), b[i:]
	if rest[0] == '[' {
		end := bytes.IndexByte(rest, ']')
		if end < 2 || end > 21 {
			return "", "", nil, false
		}
		pid, rest = string(rest[1:end]), rest[end+1:]
		if bytes.ContainsAny([]byte(pid), " []") {
			return "", "", nil, false
		}
	}
	if len(rest) == 0 || rest[0] != ':' {
		return "", "", nil, false
	}
	rest = rest[1:]
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	return program, pid, rest, true
}

// months are the month abbreviations of time.Stamp.
var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseStamp reads "Mmm dd hh:mm:ss" (day space-padded or not, optional
// fractions of a second), a time in p.loc whose year is the one that puts
// it nearest to now.
func (p *parser) parseStamp(b []byte) (time.Time, []byte, bool) {
	if len(b) < 14 || b[3] != ' ' {
		return time.Time{}, b, false
	}
	month := 0
	for i, name := range months {
		if string(b[:3]) == name {
			month = i + 1
		}
	}
	if month == 0 {
		return time.Time{}, b, false
	}
	i := 4
	if b[i] == ' ' {
		i++
	}
	day, i, ok := digits(b, i, 1, 2)
	if !ok || day < 1 || day > 31 || i >= len(b) || b[i] != ' ' {
		return time.Time{}, b, false
	}
	hms, i, ok := clock(b, i+1)
	if !ok {
		return time.Time{}, b, false
	}
	nsec, i := fraction(b, i)
	if i < len(b) && b[i] != ' ' {
		return time.Time{}, b, false
	}
	now := p.now().In(p.loc)
	var best time.Time
	for y := now.Year() - 1; y <= now.Year()+1; y++ {
		t := time.Date(y, time.Month(month), day, hms[0], hms[1], hms[2], nsec, p.loc)
		if best.IsZero() || t.Sub(now).Abs() < best.Sub(now).Abs() {
			best = t
		}
	}
	return best, b[i:], true
}

// parseRFC3339 reads an RFC 3339 timestamp (with fractions of a second or
// without) at the start of b.
func parseRFC3339(b []byte) (time.Time, []byte, bool) {
	w := word(b)
	if len(w) < 20 || len(w) > 40 || w[4] != '-' || w[10] != 'T' {
		return time.Time{}, b, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(w))
	if err != nil {
		return time.Time{}, b, false
	}
	return t, b[len(w):], true
}

// digits reads from min to max decimal digits at b[i:].
func digits(b []byte, i, minN, maxN int) (n, end int, ok bool) {
	end = i
	for end < len(b) && end-i < maxN && b[end] >= '0' && b[end] <= '9' {
		n = n*10 + int(b[end]-'0')
		end++
	}
	return n, end, end-i >= minN
}

// clock reads "hh:mm:ss" at b[i:].
func clock(b []byte, i int) (hms [3]int, end int, ok bool) {
	limits := [3]int{23, 59, 60}
	for k := range hms {
		if k > 0 {
			if i >= len(b) || b[i] != ':' {
				return hms, i, false
			}
			i++
		}
		hms[k], end, ok = digits(b, i, 2, 2)
		if !ok || hms[k] > limits[k] {
			return hms, i, false
		}
		i = end
	}
	return hms, i, true
}

// fraction reads ".ddd" (up to nanoseconds; more digits are ignored) at
// b[i:] and returns it in nanoseconds.
func fraction(b []byte, i int) (nsec, end int) {
	if i >= len(b) || b[i] != '.' {
		return 0, i
	}
	end = i + 1
	scale := 100_000_000
	for end < len(b) && b[end] >= '0' && b[end] <= '9' {
		nsec += int(b[end]-'0') * scale
		scale /= 10
		end++
	}
	if end == i+1 {
		return 0, i
	}
	return nsec, end
}
