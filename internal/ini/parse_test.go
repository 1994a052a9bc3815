package ini

import (
	"fmt"
	"strings"
	"testing"
)

// dump renders every section and value of c, with locations, for
// comparison in tests.
func dump(c *Config) string {
	var b strings.Builder
	for _, name := range append([]string{DefaultSection}, c.Sections()...) {
		if name == DefaultSection && len(c.Keys(name)) == 0 {
			continue
		}
		loc, _ := c.SectionLoc(name)
		fmt.Fprintf(&b, "[%s] @%d\n", name, loc.Line)
		for _, k := range c.Keys(name) {
			v, _ := c.LookupOwn(name, k)
			fmt.Fprintf(&b, "%s=%q @%d\n", k, v.Raw, v.Loc.Line)
		}
	}
	return b.String()
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "delimiters and case",
			in: "[Sect]\n" +
				"Key = value\n" +
				"other: v=w\n" +
				"colon = a:b\n" +
				"empty =\n",
			want: "[Sect] @1\n" +
				"key=\"value\" @2\n" +
				"other=\"v=w\" @3\n" +
				"colon=\"a:b\" @4\n" +
				"empty=\"\" @5\n",
		},
		{
			name: "comments",
			in: "# top\n" +
				"; also top\n" +
				"[s] ; header comment\n" +
				"a = 1 ; inline\n" +
				"b = 2;not a comment\n" +
				"c = 3 # not a comment either\n" +
				"  # indented comment\n" +
				"d = x\t;tab before\n",
			want: "[s] @3\n" +
				"a=\"1\" @4\n" +
				"b=\"2;not a comment\" @5\n" +
				"c=\"3 # not a comment either\" @6\n" +
				"d=\"x\" @8\n",
		},
		{
			name: "continuation lines",
			in: "[s]\n" +
				"failregex = first\n" +
				"            second\n" +
				"# a comment does not end the value\n" +
				"\tthird\n" +
				"\n" +
				"    after a blank line\n" +
				"\n" +
				"\n" +
				"next = 1\n",
			want: "[s] @1\n" +
				"failregex=\"first\\nsecond\\nthird\\n\\nafter a blank line\" @2\n" +
				"next=\"1\" @10\n",
		},
		{
			name: "value starting on the next line",
			in: "[s]\n" +
				"logpath =\n" +
				"  /var/log/a\n" +
				"  /var/log/b\n",
			want: "[s] @1\n" +
				"logpath=\"\\n/var/log/a\\n/var/log/b\" @2\n",
		},
		{
			name: "continuation is relative to the key's indentation",
			in: "[s]\n" +
				"  a = 1\n" +
				"  b = 2\n" +
				"    more\n",
			want: "[s] @1\n" +
				"a=\"1\" @2\n" +
				"b=\"2\\nmore\" @3\n",
		},
		{
			name: "DEFAULT twice and conditional sections",
			in: "[DEFAULT]\n" +
				"a = 1\n" +
				"[Init]\n" +
				"x = 1\n" +
				"[DEFAULT]\n" +
				"b = 2\n" +
				"[Init?family=inet6]\n" +
				"x = 2\n",
			want: "[DEFAULT] @1\n" +
				"a=\"1\" @2\n" +
				"b=\"2\" @6\n" +
				"[Init] @3\n" +
				"x=\"1\" @4\n" +
				"x?family=inet6=\"2\" @8\n",
		},
		{
			name: "CRLF, BOM and trailing text after a header",
			in:   "\uFEFF[s] # Python ignores this\r\na = 1\r\n  b\r\n",
			want: "[s] @1\n" +
				"a=\"1\\nb\" @2\n",
		},
		{
			name: "section names are case-sensitive",
			in:   "[s]\na=1\n[S]\na=2\n",
			want: "[s] @1\na=\"1\" @2\n[S] @3\na=\"2\" @4\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("f.conf", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := dump(c); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestParseLineLocations(t *testing.T) {
	c, err := Parse("f.conf", []byte("[s]\nv = a\n# c\n  b\n\n  c\n"))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := c.Lookup("s", "v")
	var got []string
	for _, ln := range v.Lines() {
		got = append(got, fmt.Sprintf("%s=%q", ln.Loc, ln.Text))
	}
	want := `f.conf:2="a" f.conf:4="b" f.conf:5="" f.conf:6="c"`
	if strings.Join(got, " ") != want {
		t.Errorf("got %s, want %s", strings.Join(got, " "), want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no section", "# c\na = 1\n", `f.conf:2: "a = 1" before any [section] header`},
		{"no delimiter", "[s]\na = 1\nbogus\n", `f.conf:3: expected "key = value", "[section]" or a comment, got "bogus"`},
		{"unterminated header", "[s]\n[sshd\n", `f.conf:2: unterminated section header "[sshd"`},
		{"empty header", "[]\n", `f.conf:1: empty section name`},
		{"empty key", "[s]\n = 1\n", `f.conf:2: missing key before "="`},
		{"duplicate section", "[s]\n[t]\n[s]\n", `f.conf:3: duplicate section [s] (first at line 1)`},
		{"duplicate key", "[s]\na = 1\nA: 2\n", `f.conf:3: duplicate key "a" in [s] (first at line 2)`},
		{"duplicate key in DEFAULT", "[DEFAULT]\na = 1\n[DEFAULT]\na = 2\n", `f.conf:4: duplicate key "a" in [DEFAULT] (first at line 2)`},
		{"indented line after header", "[s]\n  bogus\n", `f.conf:2: expected "key = value", "[section]" or a comment, got "bogus"`},
		{"invalid utf-8", "[s]\na = \xff\n", `f.conf:2: invalid UTF-8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.conf", []byte(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestLocationString(t *testing.T) {
	if got := (Location{"a.conf", 3}).String(); got != "a.conf:3" {
		t.Errorf("got %q", got)
	}
	if got := (Location{"a.conf", 0}).String(); got != "a.conf" {
		t.Errorf("got %q", got)
	}
}
