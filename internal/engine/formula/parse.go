package formula

import (
	"fmt"
	"math"
	"strings"
)

// Precedence levels, lowest first, used by the parser's checks and by
// String to place parentheses.
const (
	precCond = iota + 1
	precOr
	precAnd
	precNot
	precCmp
	precBitOr
	precBitXor
	precBitAnd
	precShift
	precSum
	precTerm
	precUnary
	precPower
	precAtom
)

// parser is a recursive-descent parser with one token of lookahead.
type parser struct {
	lx    lexer
	tok   token
	depth int
	args  int // how many argument lists enclose the current token
}

func parse(src string) (node, error) {
	p := &parser{lx: lexer{src: src, col: 1}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, &Error{Col: 1, Msg: "empty formula"}
	}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.unexpected(false)
	}
	return n, nil
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// is reports whether the current token is the operator or name s.
func (p *parser) is(s string) bool {
	return (p.tok.kind == tokOp || p.tok.kind == tokName) && p.tok.text == s
}

// errTok builds an error at the current token.
func (p *parser) errTok(format string, args ...any) *Error {
	return &Error{Col: p.tok.col, Token: p.tok.text, Msg: fmt.Sprintf(format, args...)}
}

// keywordMsgs explains Python keywords and operators outside the subset.
var keywordMsgs = map[string]string{
	"lambda": "lambda expressions are not supported",
	"for":    "comprehensions are not supported",
	"async":  "comprehensions are not supported",
	"in":     "the in operator is not supported",
	"is":     "the is operator is not supported",
	"None":   "None is not supported",
	"await":  "await is not supported",
	"yield":  "yield is not supported",
	"=":      "assignment is not supported (use == to compare)",
	":=":     "assignment expressions are not supported",
	"[":      "lists and subscripts are not supported",
	"{":      "sets and dicts are not supported",
	",":      "tuples are not supported",
	":":      "slices, lambdas and dicts are not supported",
	";":      "only one expression is allowed",
	"@":      "matrix multiplication and decorators are not supported",
}

// operandMsgs are the keywordMsgs that apply where an operand is expected.
var operandMsgs = map[string]bool{"lambda": true, "None": true, "await": true, "yield": true, "[": true, "{": true}

// unexpected reports the current token as out of place; operand tells
// whether an operand was expected there.
func (p *parser) unexpected(operand bool) *Error {
	if p.tok.kind == tokEOF {
		return p.errTok("unexpected end of formula")
	}
	if msg, ok := keywordMsgs[p.tok.text]; ok && (!operand || operandMsgs[p.tok.text]) {
		return p.errTok("%s: %s", p.tok.desc(), msg)
	}
	return p.errTok("unexpected %s", p.tok.desc())
}

// expect consumes the operator s or fails.
func (p *parser) expect(s string) error {
	if !p.is(s) {
		if p.tok.kind == tokEOF {
			return p.errTok("unexpected end of formula, expected %q", s)
		}
		if _, ok := keywordMsgs[p.tok.text]; ok {
			return p.unexpected(false)
		}
		return p.errTok("expected %q, found %s", s, p.tok.desc())
	}
	return p.advance()
}

// enter counts one level of nesting at the current token.
func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errTok("%s: expression nested too deeply (more than %d levels)", p.tok.desc(), MaxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// expr = disjunct [ "if" disjunct "else" expr ]
func (p *parser) expr() (node, error) {
	body, err := p.or()
	if err != nil {
		return nil, err
	}
	if !p.is("if") {
		return body, nil
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	test, err := p.or()
	if err != nil {
		return nil, err
	}
	if !p.is("else") {
		return nil, p.expect("else")
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	orelse, err := p.expr()
	if err != nil {
		return nil, err
	}
	return &condNode{body: body, test: test, orelse: orelse}, nil
}

// or and and are left-associative chains of their operands.
func (p *parser) or() (node, error)  { return p.logical("or", p.and) }
func (p *parser) and() (node, error) { return p.logical("and", p.not) }

func (p *parser) logical(word string, operand func() (node, error)) (node, error) {
	l, err := operand()
	if err != nil {
		return nil, err
	}
	for p.is(word) {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := operand()
		if err != nil {
			return nil, err
		}
		l = &logicNode{or: word == "or", l: l, r: r}
	}
	return l, nil
}

// not = "not" not | comparison
func (p *parser) not() (node, error) {
	if !p.is("not") {
		return p.comparison()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.not()
	if err != nil {
		return nil, err
	}
	return &notNode{x: x}, nil
}

var cmpOps = map[string]bool{"<": true, "<=": true, ">": true, ">=": true, "==": true, "!=": true}

// comparison = bitor { cmpop bitor }
func (p *parser) comparison() (node, error) {
	first, err := p.binary(precBitOr)
	if err != nil {
		return nil, err
	}
	var c *cmpNode
	for {
		switch {
		case p.tok.kind == tokOp && cmpOps[p.tok.text]:
		case p.is("not"):
			return nil, p.errTok(`"not": the not in operator is not supported`)
		default:
			if c == nil {
				return first, nil
			}
			return c, nil
		}
		if c == nil {
			c = &cmpNode{first: first}
		}
		c.ops = append(c.ops, p.tok.text)
		c.cols = append(c.cols, p.tok.col)
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.binary(precBitOr)
		if err != nil {
			return nil, err
		}
		c.rest = append(c.rest, r)
	}
}

// binary parses the left-associative binary operators of precedence prec
// (from | to * / // %) and above.
func (p *parser) binary(prec int) (node, error) {
	if prec > precTerm {
		return p.factor()
	}
	l, err := p.binary(prec + 1)
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tokOp {
		b, ok := binOps[p.tok.text]
		if !ok || b.prec != prec {
			break
		}
		n := &binNode{op: b.op, sym: p.tok.text, col: p.tok.col, level: prec, l: l}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if n.r, err = p.binary(prec + 1); err != nil {
			return nil, err
		}
		l = n
	}
	return l, nil
}

// factor = ("-"|"+"|"~") factor | power
func (p *parser) factor() (node, error) {
	if p.tok.kind != tokOp || (p.tok.text != "-" && p.tok.text != "+" && p.tok.text != "~") {
		return p.power()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	n := &unaryNode{sym: p.tok.text, col: p.tok.col}
	if err := p.advance(); err != nil {
		return nil, err
	}
	var err error
	if n.x, err = p.factor(); err != nil {
		return nil, err
	}
	return n, nil
}

// power = primary [ "**" factor ]
func (p *parser) power() (node, error) {
	base, err := p.primary()
	if err != nil {
		return nil, err
	}
	if !p.is("**") {
		return base, nil
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	n := &binNode{op: opPow, sym: "**", col: p.tok.col, level: precPower, l: base}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if n.r, err = p.factor(); err != nil {
		return nil, err
	}
	return n, nil
}

// primary parses an atom and rejects what Python would accept after it.
func (p *parser) primary() (node, error) {
	n, err := p.atom()
	if err != nil {
		return nil, err
	}
	switch {
	case p.is("("):
		return nil, p.errTok(`"(": only float, int, abs, min, max, round and math functions can be called`)
	case p.is("."):
		return nil, p.errTok(`".": attribute access is only supported in ban.Time, ban.Count, math.pi, math.e and math functions`)
	case p.is("["):
		return nil, p.errTok(`"[": subscripts are not supported`)
	}
	return n, nil
}

// Names a formula may use.
var (
	banAttrs = map[string]varID{"Time": varTime, "Count": varCount}
	varNames = map[string]varID{"banFactor": varFactor, "banTime": varTime}
	mathCons = map[string]float64{"pi": math.Pi, "e": math.E}
)

// allowedNames lists the names for messages.
const allowedNames = "ban.Time, ban.Count, banFactor, banTime, True, False, math.pi, math.e, " +
	"float, int, abs, min, max, round, math.exp, math.log, math.log2, math.log10, math.sqrt, math.pow, math.floor, math.ceil"

// atom = number | name | "(" expr ")"
func (p *parser) atom() (node, error) {
	t := p.tok
	switch t.kind {
	case tokNum:
		return &litNode{text: t.text, v: t.num}, p.advance()
	case tokName:
		return p.name()
	case tokOp:
		if t.text != "(" {
			break
		}
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.is(")") {
			return nil, &Error{Col: t.col, Token: "()", Msg: `"()": tuples are not supported`}
		}
		n, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.is(",") {
			return nil, p.unexpected(false)
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return n, nil
	}
	return nil, p.unexpected(true)
}

// name resolves an identifier, with its attribute and call if any.
func (p *parser) name() (node, error) {
	t := p.tok
	switch t.text {
	case "True", "False":
		return &litNode{text: t.text, v: boolVal(t.text == "True")}, p.advance()
	case "ban", "math":
		if err := p.advance(); err != nil {
			return nil, err
		}
		if !p.is(".") {
			if t.text == "ban" {
				return nil, &Error{Col: t.col, Token: t.text, Msg: `"ban": use ban.Time or ban.Count`}
			}
			return nil, &Error{Col: t.col, Token: t.text, Msg: `"math": use math.pi, math.e or a math function`}
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		attr := p.tok
		full := t.text + "." + attr.text
		if attr.kind != tokName {
			return nil, p.errTok("expected an attribute name after %q, found %s", t.text+".", attr.desc())
		}
		if t.text == "ban" {
			id, ok := banAttrs[attr.text]
			if !ok {
				return nil, &Error{Col: t.col, Token: full, Msg: fmt.Sprintf("%q: unknown attribute (use ban.Time or ban.Count)", full)}
			}
			return &varNode{name: full, id: id}, p.advance()
		}
		if f, ok := mathCons[attr.text]; ok {
			return &litNode{text: full, v: floatVal(f)}, p.advance()
		}
		fn, ok := functions[full]
		if !ok {
			return nil, &Error{Col: t.col, Token: full, Msg: fmt.Sprintf("%q is not supported (allowed: %s)", full, allowedNames)}
		}
		return p.call(fn, full, t.col)
	}
	if id, ok := varNames[t.text]; ok {
		return &varNode{name: t.text, id: id}, p.advance()
	}
	if fn, ok := functions[t.text]; ok {
		return p.call(fn, t.text, t.col)
	}
	if _, ok := keywordMsgs[t.text]; ok {
		return nil, p.unexpected(true)
	}
	if pythonKeywords[t.text] {
		return nil, p.errTok("unexpected %s", t.desc())
	}
	if rest := strings.TrimLeft(p.lx.src[p.lx.pos:], " \t\n\r\f\v"); strings.HasPrefix(rest, "=") && !strings.HasPrefix(rest, "==") {
		if p.args > 0 {
			return nil, p.errTok("%q: keyword arguments are not supported", t.text+"=")
		}
		return nil, p.errTok("%q: assignment is not supported (use == to compare)", t.text+"=")
	}
	return nil, p.errTok("unknown name %q (allowed: %s)", t.text, allowedNames)
}

// pythonKeywords are reserved words not otherwise explained.
var pythonKeywords = map[string]bool{
	"and": true, "as": true, "assert": true, "break": true, "class": true, "continue": true,
	"def": true, "del": true, "elif": true, "else": true, "except": true, "finally": true,
	"from": true, "global": true, "if": true, "import": true, "nonlocal": true, "not": true,
	"or": true, "pass": true, "raise": true, "return": true, "try": true, "while": true, "with": true,
}

// call parses the argument list of fn; the current token is the name
// (or, for math functions, the attribute) just before "(".
func (p *parser) call(fn *function, name string, col int) (node, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	if !p.is("(") {
		return nil, &Error{Col: col, Token: name, Msg: fmt.Sprintf("%q is a function and must be called, as in %s(x)", name, name)}
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	n := &callNode{fn: fn, name: name, col: col}
	p.args++
	defer func() { p.args-- }()
	for !p.is(")") {
		arg, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.is("=") {
			return nil, p.errTok(`"=": keyword arguments are not supported`)
		}
		n.args = append(n.args, arg)
		if p.is(",") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			continue
		}
		if !p.is(")") {
			return nil, p.expect(")")
		}
	}
	if len(n.args) < fn.min || fn.max >= 0 && len(n.args) > fn.max {
		return nil, &Error{Col: col, Token: name, Msg: fmt.Sprintf("%s() takes %s (%d given)", name, fn.arity(), len(n.args))}
	}
	return n, p.advance()
}

// arity describes how many arguments a function takes.
func (f *function) arity() string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return fmt.Sprintf("%d arguments", n)
	}
	switch {
	case f.max < 0:
		return "at least " + plural(f.min)
	case f.min == f.max:
		return "exactly " + plural(f.min)
	case f.min == 0:
		return "at most " + plural(f.max)
	}
	return fmt.Sprintf("%d or %s", f.min, plural(f.max))
}

// joinArgs formats call arguments.
func joinArgs(b []byte, args []node) []byte {
	for i, a := range args {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = a.format(b)
	}
	return b
}
