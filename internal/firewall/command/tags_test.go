package command

import (
	"strings"
	"testing"
)

func TestNextTag(t *testing.T) {
	tests := []struct {
		s     string
		start int
		name  string
	}{
		{"x <ip> y", 2, "ip"},
		{"no tag", -1, ""},
		{"<a b> <c>", 6, "c"},
		{"<ipt_<type>/_chain_rule>", 5, "type"},
		{"<> <x", -1, ""},
		{"<<sender>>", 1, "sender"},
		{"a<F-USER>", 1, "F-USER"},
		{"<multi\nline>", 0, "multi\nline"}, // only spaces end a name, as in fail2ban
	}
	for _, tt := range tests {
		start, _, name := nextTag(tt.s, 0)
		if start != tt.start || name != tt.name {
			t.Errorf("nextTag(%q) = %d %q, want %d %q", tt.s, start, name, tt.start, tt.name)
		}
	}
}

func TestStatics(t *testing.T) {
	values := map[string]string{
		"name":                  "sshd",
		"chain":                 "INPUT",
		"iptables":              "iptables <lockingopt>",
		"iptables?family=inet6": "ip6tables <lockingopt>",
		"lockingopt":            "-w",
		"type":                  "multiport",
		"ipt_multiport/_rule":   "-p tcp -m multiport --dports <port>",
		"port":                  "ssh",
		"actionban":             "<iptables> -I f2b-<name> 1 -s <ip> -j <blocktype>",
		"blocktype":             "REJECT",
		"self":                  "a <self>",
		"ping":                  "<pong>",
		"pong":                  "<ping>",
		"matches":               "never from options",
		"grow":                  "<grow2><grow2>",
		"grow2":                 "x",
	}
	local := func(tag string) (string, bool) {
		switch tag {
		case "br":
			return "\n", true
		case "sp":
			return " ", true
		}
		return "", false
	}
	tests := []struct {
		in, cond, want, err string
	}{
		{in: "<actionban>", want: "iptables -w -I f2b-sshd 1 -s <ip> -j REJECT"},
		{in: "<actionban>", cond: "family=inet6", want: "ip6tables -w -I f2b-sshd 1 -s <ip> -j REJECT"},
		{in: "<ipt_<type>/_rule>", want: "-p tcp -m multiport --dports ssh"},
		{in: "a<br>b<sp>c", want: "a\nb c"},
		{in: "<unknown> <STDIN> <F-USER>", want: "<unknown> <STDIN> <F-USER>"},
		{in: "<matches>", want: "<matches>"},
		{in: "<grow>", want: "xx"},
		{in: "<self>", err: "refers to itself"},
		{in: "<ping>", err: "refers to itself"},
	}
	for _, tt := range tests {
		st := newStatics(values, local)
		got, err := st.expand(tt.in, tt.cond)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expand(%q) = %q, %v, want an error with %q", tt.in, got, err, tt.err)
			}
		case err != nil:
			t.Errorf("expand(%q): %v", tt.in, err)
		case got != tt.want:
			t.Errorf("expand(%q, %q) = %q, want %q", tt.in, tt.cond, got, tt.want)
		}
	}
}

// Each round of substitution peels one level of nested tags; fail2ban stops
// after 25 rounds, and so does gaol.
func TestStaticsRounds(t *testing.T) {
	st := newStatics(map[string]string{"t": "t"}, nil)
	nested := func(n int) string { return strings.Repeat("<", n) + "t" + strings.Repeat(">", n) }
	if got, err := st.expand(nested(20), ""); err != nil || got != "t" {
		t.Errorf("20 levels: %q, %v", got, err)
	}
	if got, err := st.expand(nested(30), ""); err == nil {
		t.Errorf("30 levels: %q, want an error", got)
	}
}

// FuzzStatics substitutes random options into random text: it must end,
// without panicking, and leave no option tag that it could resolve.
func FuzzStatics(f *testing.F) {
	f.Add("<a> <b?x> <<a>>", "x<b>", "<c>", "family=inet6")
	f.Add("<ipt_<a>/r>", "<a><a>", "b", "")
	f.Add("<a", "<", ">", "")
	f.Fuzz(func(t *testing.T, text, a, b, cond string) {
		st := newStatics(map[string]string{"a": a, "b": b, "b?" + cond: a + b, "c": "<a><b>"}, nil)
		got, err := st.expand(text, cond)
		if err != nil {
			return
		}
		for pos := 0; ; {
			start, end, name := nextTag(got, pos)
			if start < 0 {
				break
			}
			if _, ok, err := st.resolve(name, cond, map[string]bool{}); ok && err == nil {
				t.Fatalf("expand(%q) = %q still has <%s>", text, got, name)
			}
			pos = end
		}
	})
}
