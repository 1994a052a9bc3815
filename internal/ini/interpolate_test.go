package ini

import (
	"testing"
	"testing/fstest"
)

func TestExpand(t *testing.T) {
	const conf = `[DEFAULT]
port = 0:65535
action_ = %(banaction)s[port="%(port)s", name=%(__name__)s]
banaction = nftables
pct = 100%%
[sshd]
port = ssh
action = %(action_)s
name = %(__name__)s
Mixed = %(PORT)s
literal = %%(port)s
other = %(lt_file/datepattern)s
otherdef = %(lt_file/port)s
dflt = %(default/port)s
pct2 = %(pct)s
[lt_file]
datepattern = {^LN-BEG}
`
	c, err := Parse("jail.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ section, key, want string }{
		{"sshd", "port", "ssh"},
		{"sshd", "action", `nftables[port="ssh", name=sshd]`},
		{"sshd", "name", "sshd"},
		{"sshd", "mixed", "ssh"},
		{"sshd", "literal", "%(port)s"},
		{"sshd", "other", "{^LN-BEG}"},
		{"sshd", "otherdef", "0:65535"},
		{"sshd", "dflt", "0:65535"},
		{"sshd", "pct2", "100%"},
		{"lt_file", "action_", `nftables[port="0:65535", name=lt_file]`},
		{"DEFAULT", "action_", `nftables[port="0:65535", name=DEFAULT]`},
	}
	for _, tt := range tests {
		v, ok := c.Lookup(tt.section, tt.key)
		if !ok {
			t.Errorf("[%s] %s: not found", tt.section, tt.key)
			continue
		}
		got, err := c.Expand(tt.section, v, nil)
		if err != nil {
			t.Errorf("[%s] %s: %v", tt.section, tt.key, err)
			continue
		}
		if got != tt.want {
			t.Errorf("[%s] %s = %q, want %q", tt.section, tt.key, got, tt.want)
		}
	}
}

func TestExpandVars(t *testing.T) {
	c, err := Parse("f.conf", []byte("[Definition]\nmode = normal\nre = x-%(mode)s\n"))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := c.Lookup("Definition", "re")
	got, err := c.Expand("Definition", v, Vars{"mode": {Key: "mode", Raw: "aggressive"}})
	if err != nil {
		t.Fatal(err)
	}
	if got != "x-aggressive" {
		t.Errorf("got %q", got)
	}
}

func TestExpandErrors(t *testing.T) {
	const conf = `[DEFAULT]
action_ = %(banaction)s[x]
[s]
undef = %(nope)s
loop1 = %(loop2)s
loop2 = a
   %(loop1)s
self = %(self)s
lone = 50%
bad = %(x)d
empty = %()s
action = %(action_)s
badsect = %(nosuch/x)s
`
	c, err := Parse("f.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ key, want string }{
		{"undef", `f.conf:4: undefined variable %(nope)s in [s]`},
		{"loop1", `f.conf:6: reference loop in [s]: %(loop1)s -> %(loop2)s -> %(loop1)s`},
		{"self", `f.conf:8: reference loop in [s]: %(self)s -> %(self)s`},
		{"lone", `f.conf:9: lone % in "%": write %% for a literal %`},
		{"bad", `f.conf:10: bad reference "%(x)d": write %(name)s, or %% for a literal %`},
		{"empty", `f.conf:11: bad reference "%()s": write %(name)s, or %% for a literal %`},
		{"action", `f.conf:2: undefined variable %(banaction)s in [s] (expanding "action" at f.conf:12)`},
		{"badsect", `f.conf:13: undefined variable %(nosuch/x)s in [s]`},
	}
	for _, tt := range tests {
		v, ok := c.Lookup("s", tt.key)
		if !ok {
			t.Fatalf("%s: not found", tt.key)
		}
		_, err := c.Expand("s", v, nil)
		if err == nil {
			t.Errorf("%s: no error", tt.key)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tt.key, err, tt.want)
		}
	}
}

func TestExpandLines(t *testing.T) {
	c, err := Parse("f.conf", []byte(`[Definition]
common = c1
         c2
failregex = ^a$

            %(common)s
            ^b$ %(common)s
`))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := c.Lookup("Definition", "failregex")
	lines, err := c.ExpandLines("Definition", v, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Line{
		{"^a$", Location{"f.conf", 4}},
		{"", Location{"f.conf", 5}},
		{"c1", Location{"f.conf", 2}}, // a whole-line reference keeps the lines' own places
		{"c2", Location{"f.conf", 3}},
		{"^b$ c1", Location{"f.conf", 7}}, // any other reference takes the referencing line's
		{"c2", Location{"f.conf", 7}},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %v, want %v", lines, want)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d: got %v, want %v", i, lines[i], want[i])
		}
	}
}

// TestKnown checks fail2ban's %(known/name)s: the value before the file that
// overrides it.
func TestKnown(t *testing.T) {
	fsys := fstest.MapFS{
		"filter.d/x.conf":      {Data: []byte("[Definition]\nfailregex = ^one$\nother = o1\n")},
		"filter.d/x.local":     {Data: []byte("[Definition]\nfailregex = %(known/failregex)s\n  ^two$\n")},
		"filter.d/x.d/a.local": {Data: []byte("[Definition]\nfailregex = %(known/failregex)s\n  ^three$ %(known/other)s\n")},
	}
	c, err := Load(fsys, "filter.d/x")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := c.Lookup("Definition", "failregex")
	got, err := c.Expand("Definition", v, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "^one$\n^two$\n^three$ o1"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
