package source

import (
	"strings"
	"time"
)

// Entry is a log line whose time its source knows (a journal entry, a
// syslog message), so that the reader need not find a date in the line.
type Entry struct {
	// Time is when the event was logged.
	Time time.Time
	// Line is the entry as a syslog-style line (see FormatLine).
	Line string
}

// FormatLine builds the syslog-style line that filters written for
// syslog files expect:
//
//	Mmm dd hh:mm:ss host program[pid]: message
//
// with t in its own location. An empty host is left out, and so is
// "program[pid]:" without a program or "[pid]" without a pid. Control
// characters other than tab are escaped (a newline as \n, a carriage
// return as \r, others as \xHH) so that a multi-line message stays one
// line and cannot forge another.
func FormatLine(t time.Time, host, program, pid, message string) string {
	var b strings.Builder
	b.Grow(len(time.Stamp) + len(host) + len(program) + len(pid) + len(message) + 6)
	b.WriteString(t.Format(time.Stamp))
	if host != "" {
		b.WriteByte(' ')
		writeEscaped(&b, host)
	}
	if program != "" {
		b.WriteByte(' ')
		writeEscaped(&b, program)
		if pid != "" {
			b.WriteByte('[')
			writeEscaped(&b, pid)
			b.WriteByte(']')
		}
		b.WriteByte(':')
	}
	b.WriteByte(' ')
	writeEscaped(&b, message)
	return b.String()
}

// writeEscaped writes s with its control characters escaped.
func writeEscaped(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	for {
		i := strings.IndexFunc(s, isControl)
		if i < 0 {
			b.WriteString(s)
			return
		}
		b.WriteString(s[:i])
		switch c := s[i]; c {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
		s = s[i+1:]
	}
}

// isControl reports the ASCII control characters that FormatLine escapes.
func isControl(r rune) bool {
	return (r < 0x20 && r != '\t') || r == 0x7f
}
