package command

import (
	"maps"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// values is a lookup of test tags: "ip" and "n" are computed by gaol, the
// others come from log lines.
func values(m map[string]string) func(string) (dynValue, bool) {
	return func(tag string) (dynValue, bool) {
		v, ok := m[tag]
		return dynValue{value: v, trusted: tag == "ip" || tag == "n"}, ok
	}
}

func TestSubstituteDynamic(t *testing.T) {
	vals := map[string]string{"ip": "192.0.2.1", "n": "5", "matches": "line $(x)", "F-USER": "root", "ip-host": "h"}
	tests := []struct {
		name, in, want string
		env            []string // variables expected
	}{
		{"trusted inline", `ban <ip> after <n>`, `ban 192.0.2.1 after 5`, nil},
		{"unquoted", `echo <matches>`, `echo "${GAOL_MATCHES}"`, []string{"GAOL_MATCHES"}},
		{"double", `echo "user <F-USER> on <ip>"`, `echo "user ${GAOL_F_USER} on 192.0.2.1"`, []string{"GAOL_F_USER"}},
		{"single", `echo 'user <F-USER>'`, `echo 'user '"${GAOL_F_USER}"''`, []string{"GAOL_F_USER"}},
		{"command substitution", `x=$(printf %s <matches>)`, `x=$(printf %s "${GAOL_MATCHES}")`, []string{"GAOL_MATCHES"}},
		{"in double quotes", `x="$(printf %s "<matches>")"`, `x="$(printf %s "${GAOL_MATCHES}")"`, []string{"GAOL_MATCHES"}},
		{"backquotes", "x=`echo <matches>`", "x=`echo \"${GAOL_MATCHES}\"`", []string{"GAOL_MATCHES"}},
		{"parameter", `echo ${u:-<F-USER>} "${u:-<F-USER>}"`, `echo ${u:-"${GAOL_F_USER}"} "${u:-${GAOL_F_USER}}"`, []string{"GAOL_F_USER"}},
		{"heredoc", "cat <<EOF\nuser <F-USER>\nEOF\necho <F-USER>", "cat <<EOF\nuser ${GAOL_F_USER}\nEOF\necho \"${GAOL_F_USER}\"", []string{"GAOL_F_USER"}},
		{"heredoc parameter", "cat <<EOF\n${x:-<F-USER>}\nEOF", "cat <<EOF\n${x:-${GAOL_F_USER}}\nEOF", []string{"GAOL_F_USER"}},
		{"heredoc dash", "cat <<-EOF\n\t'<F-USER>'\n\tEOF\necho '<F-USER>'", "cat <<-EOF\n\t'${GAOL_F_USER}'\n\tEOF\necho ''\"${GAOL_F_USER}\"''", []string{"GAOL_F_USER"}},
		{"comment", "echo <ip> # <matches>\necho <F-USER>", "echo 192.0.2.1 # \necho \"${GAOL_F_USER}\"", []string{"GAOL_F_USER"}},
		{"escaped quote", `echo \"<F-USER>\"`, `echo \""${GAOL_F_USER}"\"`, []string{"GAOL_F_USER"}},
		{"unknown tags stay", `echo <STDIN> <other>`, `echo <STDIN> <other>`, nil},
		{"host name", `echo <ip-host>`, `echo "${GAOL_IP_HOST}"`, []string{"GAOL_IP_HOST"}},
		{"arithmetic trusted", `echo $((<n> + 1))`, `echo $((5 + 1))`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := substituteDynamic(tt.in, values(vals))
			if err != nil {
				t.Fatal(err)
			}
			if sc.text != tt.want {
				t.Errorf("text\n%s\nwant\n%s", sc.text, tt.want)
			}
			got := make(map[string]bool)
			for n := range sc.env {
				got[n] = true
			}
			if len(got) != len(tt.env) {
				t.Errorf("env %v, want %v", sc.env, tt.env)
			}
			for _, n := range tt.env {
				if !got[n] {
					t.Errorf("env lacks %s: %v", n, sc.env)
				}
			}
		})
	}
}

func TestSubstituteDynamicRefuses(t *testing.T) {
	vals := values(map[string]string{"matches": "1+1", "ip": "192.0.2.1"})
	for _, in := range []string{
		`echo $((<matches> + 1))`,
		`echo $((${x:-<matches>} + 1))`,
		`echo $(( $(printf %s "<matches>") + 1))`,
		"cat <<'EOF'\n<matches>\nEOF",
		"cat <<\"EOF\"\n<matches>\nEOF",
		"cat <<\\EOF\n<matches>\nEOF",
	} {
		if sc, err := substituteDynamic(in, vals); err == nil {
			t.Errorf("%q: substituted as %q, want an error", in, sc.text)
		}
	}
	// Computed values are fine there.
	if sc, err := substituteDynamic("cat <<'EOF'\n<ip>\nEOF", vals); err != nil || !strings.Contains(sc.text, "192.0.2.1") {
		t.Errorf("computed value in a quoted here-document: %q, %v", sc.text, err)
	}
}

func TestVarNames(t *testing.T) {
	vals := values(map[string]string{"F-A-B": "1", "F-A_B": "2", "matches": "3"})
	sc, err := substituteDynamic(`echo <F-A-B> <F-A_B> <matches> <F-A-B>`, vals)
	if err != nil {
		t.Fatal(err)
	}
	want := `echo "${GAOL_F_A_B}" "${GAOL_F_A_B_2}" "${GAOL_MATCHES}" "${GAOL_F_A_B}"`
	if sc.text != want {
		t.Errorf("text %s, want %s", sc.text, want)
	}
	if sc.env["GAOL_F_A_B"] != "1" || sc.env["GAOL_F_A_B_2"] != "2" {
		t.Errorf("env %v", sc.env)
	}
}

func TestEnvValue(t *testing.T) {
	if got := envValue("a\x00b"); got != "ab" {
		t.Errorf("envValue kept a NUL: %q", got)
	}
	long := strings.Repeat("é", maxEnvValue)
	got := envValue(long)
	if len(got) > maxEnvValue || !utf8.ValidString(got) {
		t.Errorf("envValue of %d bytes: %d bytes, valid UTF-8 %v", len(long), len(got), utf8.ValidString(got))
	}
}

// contexts are scripts that print one untrusted value back, from every
// place in a script where a value may stand.
var contexts = []struct {
	script string
	// split: the value is split into words (an unquoted ${...});
	// trim: command substitution drops trailing newlines; noNL: the
	// script drops newlines.
	split, trim, noNL bool
}{
	{script: `printf '%s' <F-USER>`},
	{script: `printf '%s' "<F-USER>"`},
	{script: `printf '%s' '<F-USER>'`},
	{script: `printf '%s' "$(printf '%s' "<F-USER>")"`, trim: true},
	{script: `printf '%s' "$(printf '%s' <F-USER>)"`, trim: true},
	{script: "printf '%s' \"`printf '%s' <F-USER>`\"", trim: true},
	{script: `printf '%s' "${nothing:-<F-USER>}"`},
	{script: `printf '%s' ${nothing:-<F-USER>}`, split: true},
	{script: "x=$(cat <<EOF\n<F-USER>\nEOF\n)\nprintf '%s' \"$x\"", trim: true},
	{script: "cat <<EOF | tr -d '\\n'\n<F-USER>\nEOF", noNL: true},
}

// runContext runs a context with a value and returns its output.
func runContext(t testing.TB, ctx, value string) string {
	t.Helper()
	sc, err := substituteDynamic(ctx, values(map[string]string{"F-USER": value}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(value, "touch") && strings.Contains(sc.text, value) {
		t.Fatalf("the value is in the script text: %q", sc.text)
	}
	cmd := exec.Command("/bin/sh", "-c", sc.text)
	for n, v := range maps.All(sc.env) {
		cmd.Env = append(cmd.Env, n+"="+v)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%q with %q: %v", sc.text, value, err)
	}
	return string(out)
}

// printed returns what a context should print of a value.
func printed(i int, v string) string {
	switch c := contexts[i]; {
	case c.noNL:
		return strings.ReplaceAll(v, "\n", "")
	case c.trim:
		return strings.TrimRight(v, "\n")
	}
	return v
}

// TestContextsRoundTrip is fail2ban's CVE-2021-32749 in every context: a
// log line's value with quotes, command substitutions, backquotes,
// semicolons and newlines is printed back as it is and runs nothing.
func TestContextsRoundTrip(t *testing.T) {
	values := []string{
		"root",
		"$(touch CANARY)",
		"`touch CANARY`",
		"'; touch CANARY; '",
		`"; touch CANARY; "`,
		"x\ntouch CANARY",
		"EOF\ntouch CANARY\nEOF",
		`\"; touch CANARY #`,
		"${IFS}*",
		"a  b\tc",
		"-n",
	}
	dir := t.TempDir()
	t.Chdir(dir)
	for i, ctx := range contexts {
		for _, v := range values {
			got := runContext(t, ctx.script, v)
			if !ctx.split && got != printed(i, v) {
				t.Errorf("%q with %q printed %q", ctx.script, v, got)
			}
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) > 0 {
		t.Fatalf("a value ran a command: %v", m)
	}
}

// FuzzContexts checks that every context prints any value back unchanged
// (and so runs nothing).
func FuzzContexts(f *testing.F) {
	for _, s := range []string{"root", "$(id)", "`id`", "'\"", "a\nEOF\nb", "\\", "${x}", "%s%n"} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsRune(v, 0) || !utf8.ValidString(v) || len(v) > 1000 {
			return
		}
		t.Chdir(dir)
		v = "x" + v + "x"
		for i, ctx := range contexts {
			if ctx.split {
				continue
			}
			if got := runContext(t, ctx.script, v); got != printed(i, v) {
				t.Errorf("%q printed %q, want %q", ctx.script, got, printed(i, v))
			}
		}
	})
}

// FuzzSubstituteDynamic feeds random scripts: the scanner must not panic,
// and an untrusted value must never appear in the text.
func FuzzSubstituteDynamic(f *testing.F) {
	for _, c := range contexts {
		f.Add(c.script)
	}
	for _, s := range []string{"cat <<'EOF'\n<F-USER>\nEOF", "echo $((<F-USER>))", "a # <F-USER>\n<F-USER>", "<<", "$(", "${", "`", `"`, "'"} {
		f.Add(s)
	}
	const secret = "SECRET$(touch X)"
	f.Fuzz(func(t *testing.T, text string) {
		if strings.Contains(text, secret) {
			return
		}
		sc, err := substituteDynamic(text, values(map[string]string{"F-USER": secret, "ip": "192.0.2.1"}))
		if err != nil {
			return
		}
		if strings.Contains(sc.text, secret) {
			t.Fatalf("value in the text: %q", sc.text)
		}
	})
}
