package scan

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// now is the reference time of the tests: the logs are of 31 October and
// 1 November 2026.
var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// gzipCopy writes a gzip-compressed copy of src to dir/name.
func gzipCopy(t *testing.T, src, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// describe is a ban in one line, with times of day in UTC.
func describe(b Ban) string {
	var at []string
	for _, t := range b.BannedAt {
		at = append(at, t.UTC().Format("01-02T15:04:05"))
	}
	s := fmt.Sprintf("%s %s failures=%d seen=%s..%s bans=%s", b.Jail, b.Target(), b.Failures,
		b.FirstSeen.UTC().Format("01-02T15:04:05"), b.LastSeen.UTC().Format("01-02T15:04:05"), strings.Join(at, ","))
	if b.Reason != "" {
		s += " (" + b.Reason + ")"
	}
	return s
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	older := gzipCopy(t, "testdata/auth.log.1", dir, "auth.log.1.gz")
	current := "testdata/auth.log"
	sshd := []string{
		"sshd 203.0.113.5 failures=10 seen=11-01T10:02:00..11-01T10:25:12 bans=11-01T10:02:12,11-01T10:25:12",
		"sshd 192.0.2.10 failures=6 seen=11-01T10:00:00..11-01T10:00:50 bans=11-01T10:00:40",
		"sshd 2001:db8:1::/64 failures=5 seen=11-01T10:05:00..11-01T10:06:07 bans=11-01T10:06:07",
	}
	withOlder := []string{
		"sshd 192.0.2.10 failures=11 seen=10-31T23:50:00..11-01T10:00:50 bans=10-31T23:50:20,11-01T10:00:40",
		sshd[0], sshd[2],
	}
	tests := []struct {
		name      string
		files     []string
		stdin     string
		want      []string
		wantFiles []string
		lines     int
		failures  int
		ignored   int
	}{
		{"one log", []string{current}, "", sshd, []string{current}, 68, 37, 8},
		// auth.log* lists the newest first: the logs are replayed oldest
		// first, and the gzip one decompressed.
		{"rotated logs", []string{current, older}, "", withOlder, []string{older, current}, 75, 44, 8},
		{"standard input", []string{Stdin}, "testdata/auth.log", sshd, []string{Stdin}, 68, 37, 8},
		{"standard input after a file", []string{Stdin, older}, "testdata/auth.log", withOlder, []string{older, Stdin}, 75, 44, 8},
	}
	jails := defaultJails(t, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Now: now, Location: time.UTC, Workers: 2}
			if tt.stdin != "" {
				data, err := os.ReadFile(tt.stdin)
				if err != nil {
					t.Fatal(err)
				}
				opts.Stdin = bytes.NewReader(data)
			}
			var progress []Progress
			opts.Progress = func(p Progress) { progress = append(progress, p) }
			res, err := Run(context.Background(), jails, tt.files, opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range res.Bans {
				got = append(got, describe(b))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("bans:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			var files []string
			for _, f := range res.Files {
				files = append(files, f.Path)
			}
			if !slices.Equal(files, tt.wantFiles) {
				t.Errorf("files read in the order %q, want %q", files, tt.wantFiles)
			}
			if res.Lines != tt.lines || res.Failures != tt.failures || res.Ignored != tt.ignored {
				t.Errorf("lines %d, failures %d, ignored %d; want %d, %d, %d", res.Lines, res.Failures, res.Ignored, tt.lines, tt.failures, tt.ignored)
			}
			if len(progress) == 0 || !progress[len(progress)-1].Done || progress[len(progress)-1].Lines != tt.lines {
				t.Errorf("progress reports: %+v", progress)
			}
			if !slices.Equal(res.Jails, []string{"sshd"}) {
				t.Errorf("jails %q", res.Jails)
			}
		})
	}
}

func TestFileDetails(t *testing.T) {
	dir := t.TempDir()
	older := gzipCopy(t, "testdata/auth.log.1", dir, "auth.log.1.gz")
	res, err := Run(context.Background(), defaultJails(t, ""), []string{"testdata/auth.log", older}, Options{Now: now, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	want := []File{
		{Path: older, Compressed: "gzip", Lines: 7, Failures: 7,
			First: time.Date(2026, 10, 31, 23, 50, 0, 0, time.UTC), Last: time.Date(2026, 10, 31, 23, 55, 1, 0, time.UTC)},
		{Path: "testdata/auth.log", Lines: 68, Failures: 37,
			First: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), Last: time.Date(2026, 11, 1, 10, 56, 31, 0, time.UTC)},
	}
	if !slices.Equal(res.Files, want) {
		t.Errorf("files:\n%+v\nwant:\n%+v", res.Files, want)
	}
	if res.Addresses != 6 { // 127.0.0.1 is ignored
		t.Errorf("%d addresses with failures, want 6", res.Addresses)
	}
	b := res.Bans[0]
	if b.Jail != "sshd" || b.Target() != "192.0.2.10" || len(b.Matches) != 5 || !strings.Contains(b.Matches[0], "Oct 31 23:50:00") {
		t.Errorf("first ban's evidence: %q", b.Matches)
	}
	if !b.Until.Equal(time.Date(2026, 11, 1, 10, 10, 40, 0, time.UTC)) {
		t.Errorf("last ban of 192.0.2.10 until %v", b.Until)
	}
}

// writeConfig writes a jail.local in a new configuration directory.
func writeConfig(t *testing.T, jailLocal string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jail.local"), []byte(jailLocal), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPolicy checks that the jails' policies beyond maxretry apply as they
// would live.
func TestPolicy(t *testing.T) {
	tests := []struct {
		name, config string
		want         []string
	}{
		{
			"recidive counts the bans of the others",
			"[sshd]\nbantime = 1m\n[recidive]\nenabled = true\nmaxretry = 2\nfindtime = 1d\nbantime = 1w\n",
			[]string{
				"recidive 203.0.113.5 failures=10 seen=11-01T10:02:00..11-01T10:25:12 bans=11-01T10:25:12",
				"sshd 203.0.113.5 failures=10 seen=11-01T10:02:00..11-01T10:25:12 bans=11-01T10:02:12,11-01T10:25:12",
				"sshd 192.0.2.10 failures=6 seen=11-01T10:00:00..11-01T10:00:50 bans=11-01T10:00:40",
				"sshd 2001:db8:1::/64 failures=5 seen=11-01T10:05:00..11-01T10:06:07 bans=11-01T10:06:07",
			},
		},
		{
			"a long bantime bans once",
			"[sshd]\nbantime = 1h\n",
			[]string{
				"sshd 203.0.113.5 failures=10 seen=11-01T10:02:00..11-01T10:25:12 bans=11-01T10:02:12",
				"sshd 192.0.2.10 failures=6 seen=11-01T10:00:00..11-01T10:00:50 bans=11-01T10:00:40",
				"sshd 2001:db8:1::/64 failures=5 seen=11-01T10:05:00..11-01T10:06:07 bans=11-01T10:06:07",
			},
		},
		{
			"a slow window catches the slow attacker; /128s are too few",
			"[sshd]\nwindows = 5/1h\nbanprefix.ipv6 = 128\n",
			[]string{
				"sshd 203.0.113.5 failures=10 seen=11-01T10:02:00..11-01T10:25:12 bans=11-01T10:02:12,11-01T10:25:12",
				"sshd 192.0.2.10 failures=6 seen=11-01T10:00:00..11-01T10:00:50 bans=11-01T10:00:40",
				"sshd 192.0.2.20 failures=5 seen=11-01T10:08:00..11-01T10:56:00 bans=11-01T10:56:00",
			},
		},
		{
			"ignoreip",
			"[sshd]\nignoreip = 127.0.0.1/8 192.0.2.0/24\nmaxretry = 3\n",
			[]string{
				"sshd 203.0.113.5 failures=10 seen=11-01T10:02:00..11-01T10:25:12 bans=11-01T10:02:06,11-01T10:25:06",
				"sshd 2001:db8:1::/64 failures=5 seen=11-01T10:05:00..11-01T10:06:07 bans=11-01T10:05:14",
				"sshd 198.51.100.7 failures=3 seen=11-01T10:01:05..11-01T10:01:45 bans=11-01T10:01:45",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jails := defaultJails(t, writeConfig(t, tt.config))
			res, err := Run(context.Background(), jails, []string{"testdata/auth.log"}, Options{Now: now, Location: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range res.Bans {
				got = append(got, describe(b))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("bans:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestErrors(t *testing.T) {
	jails := defaultJails(t, "")
	tests := []struct {
		name  string
		jails []Jail
		files []string
		want  string
	}{
		{"missing log", jails, []string{"testdata/auth.log", "testdata/nope.log"}, "testdata/nope.log: no such file"},
		{"directory", jails, []string{"testdata"}, "testdata is a directory"},
		{"no log", jails, nil, "no log to scan"},
		{"stdin twice", jails, []string{Stdin, Stdin}, "only once"},
		{"no jail", nil, []string{"testdata/auth.log"}, "no jail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.jails, tt.files, Options{Now: now, Stdin: strings.NewReader("")})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	big := strings.Repeat("Nov  1 10:00:00 web1 sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2\n", 50000)
	_, err := Run(ctx, defaultJails(t, ""), []string{Stdin}, Options{Now: now, Stdin: strings.NewReader(big)})
	if err == nil {
		t.Fatal("a canceled scan succeeded")
	}
}

func TestBanJSON(t *testing.T) {
	res, err := Run(context.Background(), defaultJails(t, ""), []string{"testdata/auth.log"}, Options{Now: now, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"prefix":"192.0.2.10"`, `"prefix":"2001:db8:1::/64"`, `"failures":6`, `"banned_at":["2026-11-01T10:00:40Z"]`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("JSON lacks %s:\n%s", want, data)
		}
	}
	var back Result
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	for i := range back.Bans {
		if describe(back.Bans[i]) != describe(res.Bans[i]) || !slices.Equal(back.Bans[i].Matches, res.Bans[i].Matches) {
			t.Errorf("ban %d read back as %s, was %s", i, describe(back.Bans[i]), describe(res.Bans[i]))
		}
	}
	if err := json.Unmarshal([]byte(`{"prefix":"nope"}`), &Ban{}); err == nil {
		t.Error("a bad prefix was read")
	}
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1/32",
		"::ffff:192.0.2.1":     "192.0.2.1/32",
		"192.0.2.77/24":        "192.0.2.0/24",
		"::ffff:192.0.2.0/120": "192.0.2.0/24",
		"2001:db8::1/64":       "2001:db8::/64",
		"fe80::1%eth0":         "fe80::1/128",
	} {
		p, err := ParseTarget(in)
		if err != nil || p.String() != want {
			t.Errorf("ParseTarget(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, in := range []string{"", "nope", "192.0.2.1/33", "192.0.2.300"} {
		if _, err := ParseTarget(in); err == nil {
			t.Errorf("ParseTarget(%q) succeeded", in)
		}
	}
}

func TestChunkReader(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		size  int
		limit int
		want  []string
	}{
		{"empty", "", 8, 64, nil},
		{"one line without end", "abc", 8, 64, []string{"abc"}},
		{"lines", "a\nbb\nccc\n", 8, 64, []string{"a", "bb", "ccc"}},
		{"crlf", "a\r\nb\r\n", 8, 64, []string{"a", "b"}},
		{"empty lines", "\n\nx\n", 8, 64, []string{"", "", "x"}},
		{"longer than the buffer", "0123456789abcdef\nx\n", 4, 64, []string{"0123456789abcdef", "x"}},
		{"longer than the limit", "0123456789abcdef\nx\n", 4, 8, []string{"01234567", "89abcdef", "", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readLines(t, tt.in, tt.size, tt.limit)
			if !slices.Equal(got, tt.want) {
				t.Errorf("lines %q, want %q", got, tt.want)
			}
		})
	}
}

func readLines(t testing.TB, in string, size, limit int) []string {
	cr := newChunkReader(iotestHalf(strings.NewReader(in)), size)
	cr.limit = limit
	var got []string
	for {
		lines, err := cr.next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, lines...)
	}
}

// iotestHalf returns a reader that returns at most 3 bytes per read, to
// exercise short reads.
func iotestHalf(r io.Reader) io.Reader { return &shortReader{r} }

type shortReader struct{ r io.Reader }

func (s *shortReader) Read(p []byte) (int, error) {
	if len(p) > 3 {
		p = p[:3]
	}
	return s.r.Read(p)
}

// FuzzChunkReader checks that cutting a stream into lines loses and
// invents nothing.
func FuzzChunkReader(f *testing.F) {
	f.Add("a\nb\r\nc", 4, 8)
	f.Add("\n\n\n", 1, 1)
	f.Add(strings.Repeat("x", 100)+"\n", 7, 16)
	f.Fuzz(func(t *testing.T, in string, size, limit int) {
		size, limit = int(uint(size)%64)+1, int(uint(limit)%64)+1
		if limit < size {
			limit = size
		}
		got := readLines(t, in, size, limit)
		// Joining the lines gives the input back, up to line endings and
		// the cuts of long lines.
		var want []string
		if in != "" {
			want = strings.Split(strings.TrimSuffix(in, "\n"), "\n")
		}
		var wantJoined, gotJoined strings.Builder
		for _, l := range want {
			wantJoined.WriteString(strings.TrimSuffix(l, "\r"))
		}
		for _, l := range got {
			if len(l) > limit {
				t.Fatalf("line of %d bytes, limit %d", len(l), limit)
			}
			gotJoined.WriteString(l)
		}
		// A "\r" is dropped only at the end of a (possibly cut) line.
		if strings.ReplaceAll(gotJoined.String(), "\r", "") != strings.ReplaceAll(wantJoined.String(), "\r", "") {
			t.Fatalf("lines %q from %q", got, in)
		}
		if len(got) < len(want) {
			t.Fatalf("%d lines from %d", len(got), len(want))
		}
	})
}

// TestStatefulFilter: a filter that follows connections (<F-MLFID>) sees
// every line of a file in order, so failures logged without an address
// count for the address of their connection; connections do not carry
// over from one file to the next.
func TestStatefulFilter(t *testing.T) {
	// Searched by the workers, applied in order; and, with a datepattern
	// of its own, matched in order.
	for _, extra := range []string{"", "datepattern = {^LN-BEG}%%b %%d %%H:%%M:%%S\n"} {
		testStatefulFilter(t, extra)
	}
}

func testStatefulFilter(t *testing.T, extra string) {
	dir := writeConfig(t, "[sshd]\nenabled = false\n[conn]\nenabled = true\nlogpath = /dev/null\nmaxretry = 2\n")
	if err := os.MkdirAll(filepath.Join(dir, "filter.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	filter := "[Definition]\ncategory = test-conn\n" +
		"prefregex = ^\\s*<F-MLFID>srv\\[\\d+\\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$\n" +
		"failregex = ^<F-NOFAIL>connect</F-NOFAIL> from <HOST>$\n" +
		"            ^auth failed$\n" + extra
	if err := os.WriteFile(filepath.Join(dir, "filter.d", "conn.conf"), []byte(filter), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(logs, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := write("a.log", "Nov 1 10:00:00 srv[1]: connect from 192.0.2.7\n"+
		"Nov 1 10:00:01 srv[2]: connect from 198.51.100.8\n"+
		"Nov 1 10:00:02 srv[1]: auth failed\n"+
		"Nov 1 10:00:03 srv[2]: auth failed\n"+
		"Nov 1 10:00:04 srv[1]: auth failed\n")
	// The same pid in another file is another connection: no address.
	second := write("b.log", "Nov 1 10:00:05 srv[2]: auth failed\n")
	jails := defaultJails(t, dir)
	if got := searched(jails[0]); got != (extra == "") {
		t.Fatalf("searched = %v with %q", got, extra)
	}
	res, err := Run(context.Background(), jails, []string{first, second}, Options{Now: now, Location: time.UTC, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range res.Bans {
		got = append(got, describe(b)+" "+b.Category)
	}
	want := []string{"conn 192.0.2.7 failures=2 seen=11-01T10:00:02..11-01T10:00:04 bans=11-01T10:00:04 test-conn"}
	if !slices.Equal(got, want) || res.Failures != 3 {
		t.Errorf("bans %q (failures %d), want %q (3 failures)", got, res.Failures, want)
	}
}
