package formula

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// tokKind classifies tokens.
type tokKind uint8

const (
	tokEOF  tokKind = iota
	tokNum          // a number literal
	tokName         // an identifier or keyword
	tokOp           // an operator or punctuation
)

// token is one lexical token.
type token struct {
	kind tokKind
	text string // as written
	col  int    // 1-based column in characters
	num  value  // the literal's value, for tokNum
}

// desc describes the token for messages.
func (t token) desc() string {
	if t.kind == tokEOF {
		return "end of formula"
	}
	return strconv.Quote(t.text)
}

// lexer splits a formula into tokens on demand.
type lexer struct {
	src    string
	pos    int // byte offset of the next token
	colPos int // byte offset whose column is col
	col    int // 1-based column of colPos
}

// column returns the 1-based character column of byte offset off, which
// never decreases between calls.
func (l *lexer) column(off int) int {
	l.col += utf8.RuneCountInString(l.src[l.colPos:off])
	l.colPos = off
	return l.col
}

// errAt builds an *Error for the text src[start:end].
func (l *lexer) errAt(start, end int, format string, args ...any) *Error {
	return &Error{Col: l.column(start), Token: l.src[start:end], Msg: fmt.Sprintf(format, args...)}
}

// operators, longest first where prefixes overlap.
var operators = []string{
	"**", "//", "<<", ">>", "<=", ">=", "==", "!=", ":=",
	"+", "-", "*", "/", "%", "<", ">", "&", "|", "^", "~",
	"(", ")", ",", ".", "=", "[", "]", "{", "}", ":", ";", "@", "!",
}

func isDigit(c byte) bool     { return '0' <= c && c <= '9' }
func isNameStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isNameChar(c byte) bool  { return isNameStart(c) || isDigit(c) }

// next returns the next token.
func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && strings.IndexByte(" \t\n\r\f\v", l.src[l.pos]) >= 0 {
		l.pos++
	}
	start := l.pos
	if start == len(l.src) {
		return token{kind: tokEOF, col: l.column(start)}, nil
	}
	c := l.src[start]
	switch {
	case isDigit(c) || c == '.' && start+1 < len(l.src) && isDigit(l.src[start+1]):
		return l.number()
	case isNameStart(c):
		end := start + 1
		for end < len(l.src) && isNameChar(l.src[end]) {
			end++
		}
		l.pos = end
		return token{kind: tokName, text: l.src[start:end], col: l.column(start)}, nil
	case c == '\'' || c == '"':
		return token{}, l.errAt(start, start+1, "%q: strings are not supported", l.src[start:start+1])
	case c == '#':
		return token{}, l.errAt(start, start+1, `"#": comments are not supported`)
	}
	for _, op := range operators {
		if strings.HasPrefix(l.src[start:], op) {
			l.pos = start + len(op)
			return token{kind: tokOp, text: op, col: l.column(start)}, nil
		}
	}
	r, size := utf8.DecodeRuneInString(l.src[start:])
	if r == utf8.RuneError && size == 1 {
		return token{}, l.errAt(start, start+size, "invalid UTF-8 byte %#x", c)
	}
	return token{}, l.errAt(start, start+size, "invalid character %q", r)
}

// digits scans digits accepted by ok, each optionally preceded by a single
// underscore, from l.pos; it returns how many digits it read. An underscore
// not followed by a digit ends the scan before it.
func (l *lexer) digits(ok func(byte) bool) int {
	n := 0
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if ok(c) {
			l.pos++
			n++
			continue
		}
		if c == '_' && n > 0 && l.pos+1 < len(l.src) && ok(l.src[l.pos+1]) {
			l.pos++
			continue
		}
		break
	}
	return n
}

// number scans a Python number literal.
func (l *lexer) number() (token, error) {
	start := l.pos
	src := l.src
	if src[start] == '0' && start+1 < len(src) {
		var base int
		var ok func(byte) bool
		switch src[start+1] {
		case 'x', 'X':
			base, ok = 16, func(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
		case 'o', 'O':
			base, ok = 8, func(c byte) bool { return '0' <= c && c <= '7' }
		case 'b', 'B':
			base, ok = 2, func(c byte) bool { return c == '0' || c == '1' }
		}
		if base != 0 {
			l.pos = start + 2
			if l.pos < len(src) && src[l.pos] == '_' && l.pos+1 < len(src) && ok(src[l.pos+1]) {
				l.pos++ // 0x_1F
			}
			if l.digits(ok) == 0 || l.pos < len(src) && (isNameChar(src[l.pos]) || src[l.pos] == '.') {
				return token{}, l.badNumber(start)
			}
			text := src[start:l.pos]
			z, _ := new(big.Int).SetString(strings.ReplaceAll(text[2:], "_", ""), base)
			return l.intToken(start, text, z)
		}
	}
	intDigits := l.digits(isDigit)
	isFloat := false
	if l.pos < len(src) && src[l.pos] == '.' {
		isFloat = true
		l.pos++
		if l.digits(isDigit) == 0 && intDigits == 0 {
			return token{}, l.badNumber(start)
		}
	}
	if l.pos < len(src) && (src[l.pos] == 'e' || src[l.pos] == 'E') {
		p := l.pos + 1
		if p < len(src) && (src[p] == '+' || src[p] == '-') {
			p++
		}
		if p < len(src) && isDigit(src[p]) {
			l.pos = p
			l.digits(isDigit)
			isFloat = true
		}
	}
	if l.pos < len(src) && (src[l.pos] == 'j' || src[l.pos] == 'J') {
		l.pos++
		return token{}, l.errAt(start, l.pos, "%q: complex numbers are not supported", src[start:l.pos])
	}
	if l.pos < len(src) && (isNameChar(src[l.pos]) || src[l.pos] == '.') {
		return token{}, l.badNumber(start)
	}
	text := src[start:l.pos]
	clean := strings.ReplaceAll(text, "_", "")
	if isFloat {
		f, err := strconv.ParseFloat(clean, 64)
		if err != nil && !isRangeErr(err) { // out of range: ±Inf or 0, as Python
			return token{}, l.badNumber(start)
		}
		return token{kind: tokNum, text: text, col: l.column(start), num: floatVal(f)}, nil
	}
	if len(clean) > 1 && clean[0] == '0' && strings.Trim(clean, "0") != "" {
		return token{}, l.errAt(start, l.pos, "%q: leading zeros in decimal integer literals are not permitted (use 0o for octal)", text)
	}
	z, _ := new(big.Int).SetString(clean, 10)
	return l.intToken(start, text, z)
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func (l *lexer) intToken(start int, text string, z *big.Int) (token, error) {
	v, err := mkInt(z)
	if err != nil {
		return token{}, l.errAt(start, l.pos, "%q: integer literal too large (more than %d bits)", text, MaxIntBits)
	}
	return token{kind: tokNum, text: text, col: l.column(start), num: v}, nil
}

// badNumber reports a malformed literal, extending it over trailing name
// characters so that the message shows what was written.
func (l *lexer) badNumber(start int) *Error {
	end := l.pos
	for end < len(l.src) && (isNameChar(l.src[end]) || l.src[end] == '.') {
		end++
	}
	if end == start {
		end = start + 1
	}
	return l.errAt(start, end, "%q: invalid number literal", l.src[start:end])
}
