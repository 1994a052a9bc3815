package utmp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 4, 10, 2, 0, 0, time.UTC)

func encode(t testing.TB, recs ...Record) []byte {
	t.Helper()
	var out []byte
	for _, r := range recs {
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// TestLayout writes a record field by field with encoding/binary at glibc's
// offsets, independently of MarshalBinary, and reads it back.
func TestLayout(t *testing.T) {
	b := make([]byte, RecordSize)
	ne := binary.NativeEndian
	ne.PutUint16(b[0:], UserProcess)
	ne.PutUint32(b[4:], 4242)
	copy(b[8:40], "pts/0")
	copy(b[40:44], "ts/0")
	copy(b[44:76], "alice")
	copy(b[76:332], "203.0.113.5")
	ne.PutUint32(b[336:], 99)
	ne.PutUint32(b[340:], uint32(t0.Unix()))
	ne.PutUint32(b[344:], 123456)
	copy(b[348:352], []byte{203, 0, 113, 5})

	var r Record
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	want := Record{Type: UserProcess, PID: 4242, Line: "pts/0", ID: "ts/0", User: "alice", Host: "203.0.113.5",
		Session: 99, Time: t0.Add(123456 * time.Microsecond), Addr: AddrBytes(netip.MustParseAddr("203.0.113.5"))}
	if !r.Time.Equal(want.Time) {
		t.Errorf("time %v, want %v", r.Time, want.Time)
	}
	r.Time, want.Time = time.Time{}, time.Time{}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got  %+v\nwant %+v", r, want)
	}
	again, _ := want.MarshalBinary()
	ne.PutUint32(b[340:], 0)
	ne.PutUint32(b[344:], 0)
	if string(again) != string(b) {
		t.Error("MarshalBinary differs from the hand-made record")
	}
	if err := r.UnmarshalBinary(b[:RecordSize-1]); !errors.Is(err, ErrShortRecord) {
		t.Errorf("short record: %v", err)
	}
}

func TestParse(t *testing.T) {
	full := func(s string, n int) string {
		for len(s) < n {
			s += "x"
		}
		return s
	}
	recs := []Record{
		{Type: BootTime, Line: "~", User: "reboot", Time: t0.Add(-time.Hour)},
		{Type: LoginProcess, PID: 10, Line: "tty1", User: "LOGIN"},
		{Type: UserProcess, PID: 11, Line: "tty1", User: "root", Time: t0},
		{Type: UserProcess, PID: 12, Line: "pts/0", User: "alice", Host: "203.0.113.5", Time: t0,
			Addr: AddrBytes(netip.MustParseAddr("203.0.113.5"))},
		{Type: UserProcess, PID: 13, Line: "pts/1", User: "bob", Host: "2001:db8::5", Time: t0,
			Addr: AddrBytes(netip.MustParseAddr("2001:db8::5"))},
		// Address only in ut_host.
		{Type: UserProcess, PID: 14, Line: "pts/2", User: "carol", Host: "198.51.100.9", Time: t0},
		{Type: UserProcess, PID: 15, Line: "pts/3", User: "dave", Host: "[2001:db8::9]:22", Time: t0},
		{Type: UserProcess, PID: 16, Line: "pts/4", User: "erin", Host: "192.0.2.4 via mosh [1234]", Time: t0},
		{Type: UserProcess, PID: 17, Line: "pts/5", User: "frank", Host: "gw.example.org", Time: t0},
		{Type: UserProcess, PID: 18, Line: "pts/6", User: "grace", Host: ":0", Time: t0},
		{Type: UserProcess, PID: 19, Line: "pts/7", User: "heidi", Host: "fe80::1%eth0", Time: t0},
		// The address field wins over the host name.
		{Type: UserProcess, PID: 20, Line: "pts/8", User: "ivan", Host: "host.example.org", Time: t0,
			Addr: AddrBytes(netip.MustParseAddr("::ffff:203.0.113.20"))},
		// Fields filled to the last byte, without NUL.
		{Type: UserProcess, PID: 21, Line: full("pts/", 32), User: full("u", 32), Host: full("h", 256), Time: t0},
		{Type: DeadProcess, PID: 22, Line: "pts/9", User: "judy", Host: "203.0.113.22",
			Addr: AddrBytes(netip.MustParseAddr("203.0.113.22"))},
		{Type: UserProcess, PID: 23, Line: "pts/10"}, // no user
	}
	data := encode(t, recs...)
	data = append(data, make([]byte, 100)...) // a partial record at the end
	got := Parse(data)
	a := netip.MustParseAddr
	want := []Session{
		{User: "root", Line: "tty1", Time: t0, PID: 11},
		{User: "alice", Line: "pts/0", Host: "203.0.113.5", Addr: a("203.0.113.5"), Time: t0, PID: 12},
		{User: "bob", Line: "pts/1", Host: "2001:db8::5", Addr: a("2001:db8::5"), Time: t0, PID: 13},
		{User: "carol", Line: "pts/2", Host: "198.51.100.9", Addr: a("198.51.100.9"), Time: t0, PID: 14},
		{User: "dave", Line: "pts/3", Host: "[2001:db8::9]:22", Addr: a("2001:db8::9"), Time: t0, PID: 15},
		{User: "erin", Line: "pts/4", Host: "192.0.2.4 via mosh [1234]", Addr: a("192.0.2.4"), Time: t0, PID: 16},
		{User: "frank", Line: "pts/5", Host: "gw.example.org", Time: t0, PID: 17},
		{User: "grace", Line: "pts/6", Host: ":0", Time: t0, PID: 18},
		{User: "heidi", Line: "pts/7", Host: "fe80::1%eth0", Addr: a("fe80::1"), Time: t0, PID: 19},
		{User: "ivan", Line: "pts/8", Host: "host.example.org", Addr: a("203.0.113.20"), Time: t0, PID: 20},
		{User: full("u", 32), Line: full("pts/", 32), Host: full("h", 256), Time: t0, PID: 21},
	}
	if len(got) != len(want) {
		t.Fatalf("%d sessions, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) {
			t.Errorf("session %d: time %v, want %v", i, got[i].Time, want[i].Time)
		}
		got[i].Time, want[i].Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("session %d:\n got  %+v\n want %+v", i, got[i], want[i])
		}
	}
}

func TestTimeAfter2038(t *testing.T) {
	when := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	var r Record
	if err := r.UnmarshalBinary(encode(t, Record{Type: UserProcess, User: "x", Time: when})); err != nil {
		t.Fatal(err)
	}
	if !r.Time.Equal(when) {
		t.Errorf("time %v, want %v", r.Time, when)
	}
}

func TestLoggedIn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "utmp")
	if err := os.WriteFile(path, encode(t,
		Record{Type: UserProcess, Line: "pts/0", User: "alice", Host: "203.0.113.5", Time: t0},
	), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoggedIn(path)
	if err != nil || len(s) != 1 || s[0].Addr != netip.MustParseAddr("203.0.113.5") {
		t.Errorf("LoggedIn = %+v, %v", s, err)
	}
	if _, err := LoggedIn(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestRealUtmp reads the system's utmp, when there is one, without
// expectations on what it holds.
func TestRealUtmp(t *testing.T) {
	if _, err := os.Stat(DefaultPath); err != nil {
		t.Skipf("no %s here", DefaultPath)
	}
	sessions, err := LoggedIn("")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		t.Logf("%s on %s from %q (%v) since %v", s.User, s.Line, s.Host, s.Addr, s.Time)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(encode(f, Record{Type: UserProcess, Line: "pts/0", User: "alice", Host: "203.0.113.5", Time: t0}))
	f.Add(encode(f, Record{Type: UserProcess, User: "bob", Host: "[2001:db8::1]:0",
		Addr: AddrBytes(netip.MustParseAddr("2001:db8::1"))}))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sessions := Parse(data)
		if len(sessions) > len(data)/RecordSize {
			t.Fatalf("%d sessions from %d bytes", len(sessions), len(data))
		}
		for _, s := range sessions {
			if s.User == "" || len(s.User) > 32 || len(s.Line) > 32 || len(s.Host) > 256 {
				t.Fatalf("bad session %+v", s)
			}
			if s.Addr.IsValid() && (s.Addr.Is4In6() || s.Addr.Zone() != "") {
				t.Fatalf("address %v not clean", s.Addr)
			}
		}
		// Records survive a round trip.
		for len(data) >= RecordSize {
			var r, r2 Record
			if err := r.UnmarshalBinary(data); err != nil {
				t.Fatal(err)
			}
			b, _ := r.MarshalBinary()
			if err := r2.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(r, r2) {
				t.Fatalf("round trip: %+v != %+v", r, r2)
			}
			data = data[RecordSize:]
		}
	})
}
