package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gaol-project/gaol/internal/source"
)

// rawEntry is the part of a journal entry in journalctl's JSON output
// that makes a line.
type rawEntry struct {
	Cursor          string `json:"__CURSOR"`
	Realtime        string `json:"__REALTIME_TIMESTAMP"`
	Monotonic       string `json:"__MONOTONIC_TIMESTAMP"`
	SourceRealtime  field  `json:"_SOURCE_REALTIME_TIMESTAMP"`
	SourceMonotonic field  `json:"_SOURCE_MONOTONIC_TIMESTAMP"`
	Hostname        field  `json:"_HOSTNAME"`
	Identifier      field  `json:"SYSLOG_IDENTIFIER"`
	Comm            field  `json:"_COMM"`
	SyslogPID       field  `json:"SYSLOG_PID"`
	PID             field  `json:"_PID"`
	Message         field  `json:"MESSAGE"`
}

// decodeEntry decodes one line of `journalctl -o json`.
func decodeEntry(line []byte) (*rawEntry, error) {
	var e rawEntry
	if err := json.Unmarshal(line, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// entry makes the syslog-style line of e, its time in loc, cut at
// maxLine bytes.
func (e *rawEntry) entry(loc *time.Location, maxLine int) source.Entry {
	t, ok := microseconds(e.SourceRealtime.first())
	if !ok {
		t, ok = microseconds(e.Realtime)
	}
	when := time.Now() // an entry always has a time; this is a fallback
	if ok {
		when = time.UnixMicro(t)
	}
	when = when.In(loc)
	program := e.Identifier.first()
	if program == "" {
		program = e.Comm.first()
	}
	pid := e.SyslogPID.first()
	if pid == "" {
		pid = e.PID.first()
	}
	msg := e.Message.joined()
	if program == "kernel" {
		mono, ok := microseconds(e.SourceMonotonic.first())
		if !ok {
			mono, ok = microseconds(e.Monotonic)
		}
		if ok {
			msg = fmt.Sprintf("[%5d.%06d] %s", mono/1e6, mono%1e6, msg)
		}
	}
	line := source.FormatLine(when, e.Hostname.first(), program, pid, msg)
	if len(line) > maxLine {
		line = line[:maxLine]
	}
	return source.Entry{Time: when, Line: line}
}

// microseconds parses a journal timestamp: decimal microseconds.
func microseconds(s string) (int64, bool) {
	us, err := strconv.ParseInt(s, 10, 64)
	return us, err == nil && us >= 0
}

// field is the value of a journal field in journalctl's JSON output: a
// string; an array of bytes (numbers) for data that is not printable
// UTF-8; an array of such values when the field occurs more than once in
// the entry; or null for data left out.
type field [][]byte

// UnmarshalJSON decodes every form of a field's value.
func (f *field) UnmarshalJSON(b []byte) error {
	*f = nil
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	if b[0] != '[' {
		v, err := fieldValue(b)
		if err != nil {
			return err
		}
		*f = field{v}
		return nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(b, &elems); err != nil {
		return err
	}
	if len(elems) > 0 && isNumber(elems[0]) {
		v, err := fieldValue(b) // one binary value
		if err != nil {
			return err
		}
		*f = field{v}
		return nil
	}
	for _, el := range elems {
		v, err := fieldValue(el)
		if err != nil {
			return err
		}
		if v != nil {
			*f = append(*f, v)
		}
	}
	return nil
}

// fieldValue decodes one value: a string, an array of bytes, or null.
func fieldValue(b []byte) ([]byte, error) {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		return nil, nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	case b[0] == '[':
		var nums []int
		if err := json.Unmarshal(b, &nums); err != nil {
			return nil, fmt.Errorf("journal field: %w", err)
		}
		v := make([]byte, len(nums))
		for i, n := range nums {
			if n < 0 || n > 255 {
				return nil, fmt.Errorf("journal field: byte %d out of range", n)
			}
			v[i] = byte(n)
		}
		return v, nil
	default:
		return nil, errors.New("journal field: neither string, bytes nor null")
	}
}

// isNumber reports whether a JSON value is a number.
func isNumber(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9'))
}

// first is the field's first value, or "".
func (f field) first() string {
	if len(f) == 0 {
		return ""
	}
	return string(f[0])
}

// joined is the field's values joined by spaces.
func (f field) joined() string {
	if len(f) == 1 {
		return string(f[0])
	}
	return string(bytes.Join(f, []byte(" ")))
}
