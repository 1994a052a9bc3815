// Package utmp reads the login records of /var/run/utmp to tell who is
// logged in and from where.
//
// It reads glibc's struct utmp as laid out on 64-bit Linux (x86_64, arm64):
// 384-byte records in the machine's byte order, times as 32-bit seconds.
package utmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"
)

// DefaultPath is where the system keeps its utmp file.
const DefaultPath = "/var/run/utmp"

// RecordSize is the size of one utmp record.
const RecordSize = 384

// Record types (ut_type).
const (
	Empty        = 0
	RunLevel     = 1
	BootTime     = 2
	NewTime      = 3
	OldTime      = 4
	InitProcess  = 5
	LoginProcess = 6
	UserProcess  = 7 // a logged-in user
	DeadProcess  = 8
	Accounting   = 9
)

// Field offsets and sizes in a record.
const (
	offType    = 0   // int16, then 2 bytes of padding
	offPID     = 4   // int32
	offLine    = 8   // [32]byte
	offID      = 40  // [4]byte
	offUser    = 44  // [32]byte
	offHost    = 76  // [256]byte
	offExit    = 332 // 2 x int16
	offSession = 336 // int32
	offSec     = 340 // int32
	offUsec    = 344 // int32
	offAddr    = 348 // [4]int32, network byte order
	lenLine    = 32
	lenID      = 4
	lenUser    = 32
	lenHost    = 256
)

// Record is one utmp record.
type Record struct {
	Type    int16
	PID     int32
	Line    string // the terminal, without /dev/: "pts/0"
	ID      string
	User    string
	Host    string // the remote host as the login program wrote it
	Session int32
	Time    time.Time
	Addr    [16]byte // ut_addr_v6: an IPv4 address in the first 4 bytes, or an IPv6 address
}

// Session is a logged-in user.
type Session struct {
	User string
	Line string
	Host string
	// Addr is the remote address: from ut_addr_v6, or from Host when that
	// is an address. It is the zero Addr for local logins.
	Addr netip.Addr
	Time time.Time
	PID  int
}

// ErrShortRecord is returned for a record of fewer than RecordSize bytes.
var ErrShortRecord = errors.New("utmp record too short")

// UnmarshalBinary decodes one record from the first RecordSize bytes of b.
func (r *Record) UnmarshalBinary(b []byte) error {
	if len(b) < RecordSize {
		return ErrShortRecord
	}
	b = b[:RecordSize]
	ne := binary.NativeEndian
	r.Type = int16(ne.Uint16(b[offType:]))
	r.PID = int32(ne.Uint32(b[offPID:]))
	r.Line = cString(b[offLine : offLine+lenLine])
	r.ID = cString(b[offID : offID+lenID])
	r.User = cString(b[offUser : offUser+lenUser])
	r.Host = cString(b[offHost : offHost+lenHost])
	r.Session = int32(ne.Uint32(b[offSession:]))
	// 32-bit seconds, read unsigned so that they last until 2106.
	sec := int64(ne.Uint32(b[offSec:]))
	usec := int64(ne.Uint32(b[offUsec:]))
	if sec == 0 && usec == 0 {
		r.Time = time.Time{}
	} else {
		r.Time = time.Unix(sec, (usec%1_000_000)*1000)
	}
	copy(r.Addr[:], b[offAddr:offAddr+16])
	return nil
}

// MarshalBinary encodes the record; strings longer than their field are cut.
func (r Record) MarshalBinary() ([]byte, error) {
	b := make([]byte, RecordSize)
	ne := binary.NativeEndian
	ne.PutUint16(b[offType:], uint16(r.Type))
	ne.PutUint32(b[offPID:], uint32(r.PID))
	copy(b[offLine:offLine+lenLine], r.Line)
	copy(b[offID:offID+lenID], r.ID)
	copy(b[offUser:offUser+lenUser], r.User)
	copy(b[offHost:offHost+lenHost], r.Host)
	ne.PutUint32(b[offSession:], uint32(r.Session))
	if !r.Time.IsZero() {
		ne.PutUint32(b[offSec:], uint32(r.Time.Unix()))
		ne.PutUint32(b[offUsec:], uint32(r.Time.Nanosecond()/1000))
	}
	copy(b[offAddr:offAddr+16], r.Addr[:])
	return b, nil
}

// AddrBytes returns a's ut_addr_v6 form: an IPv4 address in the first four
// bytes, an IPv6 address in all sixteen.
func AddrBytes(a netip.Addr) [16]byte {
	var b [16]byte
	a = a.Unmap()
	if a.Is4() {
		v := a.As4()
		copy(b[:], v[:])
	} else if a.Is6() {
		b = a.As16()
	}
	return b
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// RemoteAddr returns the remote address of a record: ut_addr_v6 when it is
// set (IPv4 when only its first word is non-zero, as glibc's tools read it),
// otherwise Host when it holds an address ("203.0.113.5", "[2001:db8::1]",
// "203.0.113.5:0", "203.0.113.5 via mosh [1234]").
func (r Record) RemoteAddr() netip.Addr {
	var zero [12]byte
	switch {
	case r.Addr == [16]byte{}:
		return hostAddr(r.Host)
	case bytes.Equal(r.Addr[4:], zero[:]):
		return netip.AddrFrom4([4]byte(r.Addr[:4]))
	}
	return netip.AddrFrom16(r.Addr).Unmap()
}

func hostAddr(h string) netip.Addr {
	h, _, _ = strings.Cut(strings.TrimSpace(h), " ")
	if h == "" {
		return netip.Addr{}
	}
	if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return a.Unmap().WithZone("")
	}
	// "ADDR:DISPLAY" or "[ADDR]:PORT".
	if i := strings.LastIndexByte(h, ':'); i > 0 {
		if a, err := netip.ParseAddr(strings.Trim(h[:i], "[]")); err == nil {
			return a.Unmap().WithZone("")
		}
	}
	return netip.Addr{}
}

// Parse returns the sessions (USER_PROCESS records) in the contents of a
// utmp file. A partial record at the end, as a concurrent writer may leave,
// is ignored.
func Parse(data []byte) []Session {
	var out []Session
	for len(data) >= RecordSize {
		var r Record
		_ = r.UnmarshalBinary(data) // cannot fail: the length is checked
		data = data[RecordSize:]
		if r.Type != UserProcess || r.User == "" {
			continue
		}
		out = append(out, Session{
			User: r.User, Line: r.Line, Host: r.Host,
			Addr: r.RemoteAddr(), Time: r.Time, PID: int(r.PID),
		})
	}
	return out
}

// LoggedIn returns the sessions recorded in the utmp file at path (empty
// means DefaultPath).
func LoggedIn(path string) ([]Session, error) {
	if path == "" {
		path = DefaultPath
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading utmp: %w", err)
	}
	return Parse(data), nil
}
