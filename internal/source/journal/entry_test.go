package journal

import (
	"bufio"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEntryLine(t *testing.T) {
	const at = `"__REALTIME_TIMESTAMP":"1700000000123456"` // Nov 14 22:13:20 UTC
	tests := []struct {
		name, json, want string
	}{
		{"full", `{` + at + `,"_HOSTNAME":"h","SYSLOG_IDENTIFIER":"sshd","_COMM":"sshd-session","_PID":"7","MESSAGE":"hi"}`,
			"Nov 14 22:13:20 h sshd[7]: hi"},
		{"syslog pid first", `{` + at + `,"_HOSTNAME":"h","SYSLOG_IDENTIFIER":"x","SYSLOG_PID":"8","_PID":"7","MESSAGE":"hi"}`,
			"Nov 14 22:13:20 h x[8]: hi"},
		{"comm without identifier", `{` + at + `,"_COMM":"cron","MESSAGE":"hi"}`,
			"Nov 14 22:13:20 cron: hi"},
		{"bytes", `{` + at + `,"MESSAGE":[104,105,10,255]}`,
			"Nov 14 22:13:20 hi\\n\xff"},
		{"several values", `{` + at + `,"MESSAGE":["a",[98,10],null,"c"]}`,
			"Nov 14 22:13:20 a b\\n c"},
		{"null", `{` + at + `,"_HOSTNAME":"h","MESSAGE":null}`,
			"Nov 14 22:13:20 h "},
		{"source time", `{` + at + `,"_SOURCE_REALTIME_TIMESTAMP":"1600000000000000","MESSAGE":"m"}`,
			"Sep 13 12:26:40 m"},
		{"bad source time", `{` + at + `,"_SOURCE_REALTIME_TIMESTAMP":"x","MESSAGE":"m"}`,
			"Nov 14 22:13:20 m"},
		{"kernel", `{` + at + `,"__MONOTONIC_TIMESTAMP":"5000001","SYSLOG_IDENTIFIER":"kernel","MESSAGE":"m"}`,
			"Nov 14 22:13:20 kernel: [    5.000001] m"},
		{"control characters", `{` + at + `,"MESSAGE":"a\r\u0001\tb"}`,
			"Nov 14 22:13:20 a\\r\\x01\tb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := decodeEntry([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			got := e.entry(time.UTC, 1<<10)
			if got.Line != tt.want {
				t.Errorf("got %q, want %q", got.Line, tt.want)
			}
		})
	}
}

func TestEntryTimeAndCut(t *testing.T) {
	e, err := decodeEntry([]byte(`{"__REALTIME_TIMESTAMP":"1700000000123456","MESSAGE":"` + strings.Repeat("x", 100) + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	got := e.entry(time.FixedZone("X", 3600), 20)
	if want := time.UnixMicro(1700000000123456); !got.Time.Equal(want) {
		t.Errorf("time %v, want %v", got.Time, want)
	}
	if got.Line != "Nov 14 23:13:20 xxxx" {
		t.Errorf("line %q", got.Line)
	}
}

func TestDecodeEntryErrors(t *testing.T) {
	for _, in := range []string{
		`not json`,
		`{"MESSAGE":[1,256]}`,
		`{"MESSAGE":[1,"a"]}`,
		`{"MESSAGE":{"a":1}}`,
		`{"MESSAGE":true}`,
	} {
		if _, err := decodeEntry([]byte(in)); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

func TestParseMatch(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "", want: nil},
		{in: "_SYSTEMD_UNIT=sshd.service + _COMM=sshd", want: []string{"_SYSTEMD_UNIT=sshd.service", "+", "_COMM=sshd"}},
		{in: "_SYSTEMD_UNIT=a.service\n\n_COMM=b", want: []string{"_SYSTEMD_UNIT=a.service", "+", "_COMM=b"}},
		{in: `MESSAGE="two words" 'SYSLOG_IDENTIFIER=it'\''s'`, want: []string{"MESSAGE=two words", "SYSLOG_IDENTIFIER=it's"}},
		{in: `MESSAGE=a\ b "MESSAGE=q\"x"`, want: []string{"MESSAGE=a b", `MESSAGE=q"x`}},
		{in: "/usr/sbin/sshd", want: []string{"/usr/sbin/sshd"}},
		{in: "+ _COMM=a", bad: true},
		{in: "_COMM=a +", bad: true},
		{in: "_COMM=a + + _COMM=b", bad: true},
		{in: "--all", bad: true},
		{in: "comm=a", bad: true},
		{in: "_COMM", bad: true},
		{in: "1X=a", bad: true},
		{in: `_COMM="a`, bad: true},
		{in: `_COMM='a`, bad: true},
	}
	for _, tt := range tests {
		got, err := ParseMatch(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseMatch(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseMatch(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestReadLine(t *testing.T) {
	in := "short\n" + strings.Repeat("a", 100) + "\n" + strings.Repeat("b", 10) + "\nlast"
	br := bufio.NewReaderSize(strings.NewReader(in), 16)
	var got []string
	for {
		line, err := readLine(br, 50)
		if errors.Is(err, errTooLong) {
			got = append(got, "<long>")
			continue
		}
		if err != nil {
			break
		}
		got = append(got, string(line))
	}
	want := []string{"short", "<long>", strings.Repeat("b", 10), "last"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add([]byte(`{"__REALTIME_TIMESTAMP":"1","MESSAGE":[104,105],"_HOSTNAME":"h","SYSLOG_IDENTIFIER":"kernel"}`))
	f.Add([]byte(`{"MESSAGE":["a",[98,10],null]}`))
	f.Add([]byte(`{"MESSAGE":null,"_SOURCE_REALTIME_TIMESTAMP":"-1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		got := e.entry(time.UTC, 200)
		if len(got.Line) > 200 {
			t.Fatalf("line of %d bytes", len(got.Line))
		}
		if strings.ContainsAny(got.Line, "\n\r") {
			t.Fatalf("line break in %q", got.Line)
		}
	})
}

func FuzzParseMatch(f *testing.F) {
	f.Add("_SYSTEMD_UNIT=sshd.service + _COMM=sshd\n_COMM='a b'")
	f.Add(`"MESSAGE=\"x" \ `)
	f.Fuzz(func(t *testing.T, s string) {
		terms, err := ParseMatch(s)
		if err != nil {
			return
		}
		for _, term := range terms {
			if strings.HasPrefix(term, "-") {
				t.Fatalf("option %q passed as a match", term)
			}
		}
	})
}
