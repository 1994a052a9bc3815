package command

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// A ban's values reach an action's shell text in one of two ways.
//
// Values gaol computes itself (the address, the family, numbers, times) are
// written into the text when they consist only of safe characters, so that
// logged commands read as in fail2ban.
//
// Values that come from log lines (the matched lines, <F-*> groups, the
// failure ID) or from the network (the host name of an address), and any
// value with another character, are never written into the text. Each is
// put in an environment variable of the shell (GAOL_MATCHES, GAOL_F_USER,
// ...) and the tag is replaced by a reference to the variable, quoted for
// where it stands in the script:
//
//	unquoted, $(...), `...`    "${GAOL_X}"
//	"...", unquoted here-doc  ${GAOL_X}
//	'...'                     '"${GAOL_X}"'
//
// The shell expands a variable once and does not read its value as shell
// text, so no value can run a command, whatever its quotes, `$(...)`,
// backquotes, semicolons or newlines (fail2ban's CVE-2021-32749 was a
// crafted log line that did). Where a reference would not be expanded or
// would be evaluated as code (a quoted here-document, an arithmetic
// expansion), the command fails rather than run with the value. Commands
// that evaluate variables themselves (eval, sh -c "$x", [[ $x -eq 1 ]] in
// bash) stay the action author's responsibility, as in fail2ban.

// safeValue reports whether a computed value may be written into the text.
func safeValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == ':' || c == '/' || c == ',' || c == '+' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// maxEnvValue bounds a value passed in the environment: the kernel refuses
// to run a program with an environment string longer than 128 KiB.
const maxEnvValue = 64 << 10

// dynValue is the value of a ban's tag.
type dynValue struct {
	value string
	// trusted values are computed by gaol; others come from outside.
	trusted bool
}

// script is a command ready to run: its text and the variables it refers
// to.
type script struct {
	text string
	env  map[string]string // name -> value
}

// context is where in a shell script a position lies.
type context int

const (
	ctxUnquoted      context = iota // top level, $( ), ` `
	ctxDouble                       // " "
	ctxSingle                       // ' '
	ctxParam                        // ${ }: quoting of the enclosing context
	ctxArith                        // $(( ))
	ctxComment                      // # to the end of the line
	ctxHeredoc                      // body of a here-document with an unquoted delimiter
	ctxHeredocQuoted                // body of a here-document with a quoted delimiter
)

type frame struct {
	ctx      context
	end      byte // ')' for $( ), '`' for ` `, 0 at top level
	depth    int  // open parentheses inside $( ) or $(( ))
	inDouble bool // ctxParam inside double quotes
	doc      heredoc
	bol      bool // ctxHeredoc*: at the beginning of a line
}

type heredoc struct {
	delim    string
	stripTab bool
	quoted   bool
}

// substituteDynamic replaces the ban's tags in a command whose options are
// already substituted. lookup returns a tag's value and whether the tag is
// one of the ban's; other tags are left as they are.
func substituteDynamic(text string, lookup func(tag string) (dynValue, bool)) (script, error) {
	sc := &scanner{src: text, lookup: lookup, env: make(map[string]string), names: make(map[string]string)}
	if err := sc.run(); err != nil {
		return script{}, err
	}
	return script{text: sc.out.String(), env: sc.env}, nil
}

type scanner struct {
	src     string
	out     strings.Builder
	stack   []frame
	pending []heredoc // here-documents whose bodies start at the next newline
	lookup  func(string) (dynValue, bool)
	env     map[string]string
	names   map[string]string // tag -> variable name
}

func (sc *scanner) top() *frame { return &sc.stack[len(sc.stack)-1] }

func (sc *scanner) push(f frame) { sc.stack = append(sc.stack, f) }

func (sc *scanner) pop() {
	if len(sc.stack) > 1 {
		sc.stack = sc.stack[:len(sc.stack)-1]
	}
}

// wordStart reports whether the output so far ends where a shell word may
// begin, for '#' comments.
func (sc *scanner) wordStart() bool {
	s := sc.out.String()
	if s == "" {
		return true
	}
	switch s[len(s)-1] {
	case ' ', '\t', '\n', ';', '&', '|', '(', ')':
		return true
	}
	return false
}

func (sc *scanner) run() error {
	sc.stack = []frame{{ctx: ctxUnquoted}}
	s := sc.src
	for i := 0; i < len(s); {
		if f := sc.top(); f.bol {
			f.bol = false
			if n := sc.endHeredoc(i); n > 0 {
				i += n
				continue
			}
		}
		if s[i] == '<' {
			if n, err := sc.tag(i); err != nil {
				return err
			} else if n > 0 {
				i += n
				continue
			}
		}
		i += sc.step(i)
	}
	return nil
}

// tag substitutes the ban's tag at s[i:], if there is one, and returns the
// bytes it took.
func (sc *scanner) tag(i int) (int, error) {
	start, end, name := nextTag(sc.src, i)
	if start != i {
		return 0, nil
	}
	v, ok := sc.lookup(name)
	if !ok {
		return 0, nil
	}
	if v.trusted && safeValue(v.value) {
		sc.out.WriteString(v.value)
		return end - start, nil
	}
	ref, err := sc.reference(name, v.value)
	if err != nil {
		return 0, err
	}
	sc.out.WriteString(ref)
	return end - start, nil
}

// reference puts a value in the environment and returns how the script
// refers to it where the scanner stands.
func (sc *scanner) reference(tag, value string) (string, error) {
	for _, fr := range sc.stack {
		if fr.ctx == ctxArith {
			// Also inside ${...} or $(...) within $((...)): bash
			// evaluates the expanded text, array subscripts and all.
			return "", fmt.Errorf("tag <%s> stands in an arithmetic expansion, where its value would be evaluated: refusing to run the command", tag)
		}
	}
	f := sc.top()
	ctx := f.ctx
	if ctx == ctxParam {
		ctx = ctxUnquoted
		if f.inDouble {
			ctx = ctxDouble
		}
	}
	var format string
	switch ctx {
	case ctxUnquoted:
		format = `"${%s}"`
	case ctxDouble, ctxHeredoc:
		format = `${%s}`
	case ctxSingle:
		format = `'"${%s}"'`
	case ctxComment:
		return "", nil
	default: // ctxHeredocQuoted
		return "", fmt.Errorf("tag <%s> stands in a here-document with a quoted delimiter, where its value cannot be passed safely: refusing to run the command", tag)
	}
	name := sc.varName(tag)
	sc.env[name] = envValue(value)
	return fmt.Sprintf(format, name), nil
}

// varName returns the environment variable of a tag: GAOL_ and the tag in
// capitals with other characters as '_', made unique.
func (sc *scanner) varName(tag string) string {
	if n, ok := sc.names[tag]; ok {
		return n
	}
	var b strings.Builder
	b.WriteString("GAOL_")
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			c = '_'
		}
		b.WriteByte(c)
	}
	name := b.String()
	for n := 2; ; n++ {
		if _, taken := sc.env[name]; !taken {
			break
		}
		name = fmt.Sprintf("%s_%d", b.String(), n)
	}
	sc.names[tag] = name
	return name
}

// envValue makes a value fit in the environment: without NUL bytes and cut
// to maxEnvValue bytes at a character boundary.
func envValue(v string) string {
	v = strings.ReplaceAll(v, "\x00", "")
	if len(v) <= maxEnvValue {
		return v
	}
	v = v[:maxEnvValue]
	for !utf8.ValidString(v) && len(v) > maxEnvValue-utf8.UTFMax {
		v = v[:len(v)-1]
	}
	return v
}

// step copies the shell text at s[i:] that makes one move of the scanner
// and returns its length.
func (sc *scanner) step(i int) int {
	s := sc.src
	f := sc.top()
	c := s[i]
	at := func(p string) bool { return strings.HasPrefix(s[i:], p) }
	copyN := func(n int) int {
		n = min(n, len(s)-i)
		sc.out.WriteString(s[i : i+n])
		return n
	}
	switch f.ctx {
	case ctxSingle:
		if c == '\'' {
			sc.pop()
		}
		return copyN(1)
	case ctxComment:
		if c == '\n' {
			sc.pop()
			return sc.step(i) // the enclosing context sees the newline
		}
		return copyN(1)
	case ctxHeredoc, ctxHeredocQuoted:
		if c == '\n' {
			f.bol = true
			return copyN(1)
		}
		if f.ctx == ctxHeredoc {
			// The body is expanded like a double-quoted string.
			if n := sc.expansion(i, true); n > 0 {
				return n
			}
			if c == '\\' {
				return copyN(2)
			}
		}
		return copyN(1)
	case ctxDouble:
		switch {
		case c == '\\':
			return copyN(2)
		case c == '"':
			sc.pop()
			return copyN(1)
		}
		if n := sc.expansion(i, true); n > 0 {
			return n
		}
		return copyN(1)
	case ctxParam:
		switch {
		case c == '\\':
			return copyN(2)
		case c == '}':
			sc.pop()
			return copyN(1)
		case c == '"':
			sc.push(frame{ctx: ctxDouble})
			return copyN(1)
		case c == '\'' && !f.inDouble:
			sc.push(frame{ctx: ctxSingle})
			return copyN(1)
		}
		if n := sc.expansion(i, f.inDouble); n > 0 {
			return n
		}
		return copyN(1)
	case ctxArith:
		switch {
		case c == '(':
			f.depth++
		case c == ')' && f.depth > 0:
			f.depth--
		case at("))"):
			sc.pop()
			return copyN(2)
		}
		if n := sc.expansion(i, false); n > 0 {
			return n
		}
		return copyN(1)
	}
	// ctxUnquoted: the top level, $( ) or ` `.
	switch {
	case c == '\\':
		return copyN(2)
	case c == '\'':
		sc.push(frame{ctx: ctxSingle})
		return copyN(1)
	case c == '"':
		sc.push(frame{ctx: ctxDouble})
		return copyN(1)
	case c == '`' && f.end == '`':
		sc.pop()
		return copyN(1)
	case c == ')' && f.end == ')' && f.depth == 0:
		sc.pop()
		return copyN(1)
	case c == '(':
		f.depth++
		return copyN(1)
	case c == ')':
		f.depth = max(f.depth-1, 0)
		return copyN(1)
	case c == '#' && sc.wordStart():
		sc.push(frame{ctx: ctxComment})
		return copyN(1)
	case c == '\n':
		n := copyN(1)
		sc.startHeredoc()
		return n
	case at("<<") && !at("<<<"):
		return sc.heredocOperator(i)
	}
	if n := sc.expansion(i, false); n > 0 {
		return n
	}
	return copyN(1)
}

// endHeredoc copies the line at s[i:] and leaves the here-document if the
// line is its delimiter, and returns the bytes copied, or 0.
func (sc *scanner) endHeredoc(i int) int {
	f := sc.top()
	rest := sc.src[i:]
	line, _, _ := strings.Cut(rest, "\n")
	if f.doc.stripTab {
		line = strings.TrimLeft(line, "\t")
	}
	if line != f.doc.delim {
		return 0
	}
	n := min(strings.IndexByte(rest+"\n", '\n')+1, len(rest))
	sc.out.WriteString(rest[:n])
	sc.pop()
	sc.startHeredoc()
	return n
}

// expansion enters $(( )), $( ), ${ } or ` ` at s[i:] and returns the bytes
// it copied, or 0.
func (sc *scanner) expansion(i int, inDouble bool) int {
	s := sc.src[i:]
	switch {
	case strings.HasPrefix(s, "$(("):
		sc.push(frame{ctx: ctxArith})
		sc.out.WriteString("$((")
		return 3
	case strings.HasPrefix(s, "$("):
		sc.push(frame{ctx: ctxUnquoted, end: ')'})
		sc.out.WriteString("$(")
		return 2
	case strings.HasPrefix(s, "${"):
		sc.push(frame{ctx: ctxParam, inDouble: inDouble})
		sc.out.WriteString("${")
		return 2
	case s[0] == '`':
		sc.push(frame{ctx: ctxUnquoted, end: '`'})
		sc.out.WriteString("`")
		return 1
	}
	return 0
}

// heredocOperator copies "<<" or "<<-" and the delimiter word after it, and
// records the here-document, whose body starts at the next newline.
func (sc *scanner) heredocOperator(i int) int {
	s := sc.src
	j := i + 2
	doc := heredoc{}
	if j < len(s) && s[j] == '-' {
		doc.stripTab = true
		j++
	}
	for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	var delim strings.Builder
	var quote byte
word:
	for ; j < len(s); j++ {
		c := s[j]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			delim.WriteByte(c)
		case c == '\'' || c == '"':
			quote, doc.quoted = c, true
		case c == '\\' && j+1 < len(s):
			doc.quoted = true
			j++
			delim.WriteByte(s[j])
		case strings.IndexByte(" \t\n;&|<>()", c) >= 0:
			break word
		default:
			delim.WriteByte(c)
		}
	}
	doc.delim = delim.String()
	if doc.delim != "" {
		sc.pending = append(sc.pending, doc)
	}
	sc.out.WriteString(s[i:j])
	return j - i
}

// startHeredoc enters the body of the next pending here-document, if any.
func (sc *scanner) startHeredoc() {
	if len(sc.pending) == 0 {
		return
	}
	doc := sc.pending[0]
	sc.pending = sc.pending[1:]
	ctx := ctxHeredoc
	if doc.quoted {
		ctx = ctxHeredocQuoted
	}
	sc.push(frame{ctx: ctx, doc: doc, bol: true})
}
