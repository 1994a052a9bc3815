package formula

import (
	"fmt"
	"strconv"
)

// node is a compiled expression.
type node interface {
	eval(env *env) (value, error)
	format(b []byte) []byte // appends the canonical source
	prec() int              // precedence level, for parentheses
}

// env holds the variables of one evaluation.
type env struct {
	time, count, factor value
}

// varID names a variable.
type varID uint8

const (
	varTime varID = iota
	varCount
	varFactor
)

// opError places an operation's error at its token.
func opError(col int, sym string, err error) *Error {
	return &Error{Col: col, Token: sym, Msg: strconv.Quote(sym) + ": " + err.Error()}
}

// formatChild appends n, in parentheses if it binds more loosely than min.
func formatChild(b []byte, n node, min int) []byte {
	if n.prec() < min {
		b = append(b, '(')
		b = n.format(b)
		return append(b, ')')
	}
	return n.format(b)
}

// litNode is a number, True, False, math.pi or math.e.
type litNode struct {
	text string
	v    value
}

func (n *litNode) eval(*env) (value, error) { return n.v, nil }
func (n *litNode) format(b []byte) []byte   { return append(b, n.text...) }
func (n *litNode) prec() int                { return precAtom }

// varNode is ban.Time, ban.Count, banFactor or banTime.
type varNode struct {
	name string
	id   varID
}

func (n *varNode) eval(e *env) (value, error) {
	switch n.id {
	case varTime:
		return e.time, nil
	case varCount:
		return e.count, nil
	}
	return e.factor, nil
}
func (n *varNode) format(b []byte) []byte { return append(b, n.name...) }
func (n *varNode) prec() int              { return precAtom }

// unaryNode is -x, +x or ~x.
type unaryNode struct {
	sym string
	col int
	x   node
}

func (n *unaryNode) eval(e *env) (value, error) {
	x, err := n.x.eval(e)
	if err != nil {
		return value{}, err
	}
	v, err := unary(n.sym, x)
	if err != nil {
		return value{}, opError(n.col, n.sym, err)
	}
	return v, nil
}

func (n *unaryNode) format(b []byte) []byte {
	return formatChild(append(b, n.sym...), n.x, precUnary)
}
func (n *unaryNode) prec() int { return precUnary }

// binNode is an arithmetic, shift or bitwise operation.
type binNode struct {
	op    binOp
	sym   string
	col   int
	level int
	l, r  node
}

func (n *binNode) eval(e *env) (value, error) {
	l, err := n.l.eval(e)
	if err != nil {
		return value{}, err
	}
	r, err := n.r.eval(e)
	if err != nil {
		return value{}, err
	}
	v, err := n.op.apply(n.sym, l, r)
	if err != nil {
		return value{}, opError(n.col, n.sym, err)
	}
	return v, nil
}

func (n *binNode) format(b []byte) []byte {
	lmin, rmin := n.level, n.level+1 // left-associative
	if n.op == opPow {
		lmin, rmin = precAtom, precUnary // primary ** factor
	}
	b = formatChild(b, n.l, lmin)
	b = append(b, ' ')
	b = append(b, n.sym...)
	b = append(b, ' ')
	return formatChild(b, n.r, rmin)
}
func (n *binNode) prec() int { return n.level }

// cmpNode is a comparison chain: first ops[0] rest[0] ops[1] rest[1] ...
type cmpNode struct {
	first node
	ops   []string
	cols  []int
	rest  []node
}

func (n *cmpNode) eval(e *env) (value, error) {
	l, err := n.first.eval(e)
	if err != nil {
		return value{}, err
	}
	for i, op := range n.ops {
		r, err := n.rest[i].eval(e)
		if err != nil {
			return value{}, err
		}
		c, ok := compare(l, r)
		var t bool
		switch op {
		case "<":
			t = ok && c < 0
		case "<=":
			t = ok && c <= 0
		case ">":
			t = ok && c > 0
		case ">=":
			t = ok && c >= 0
		case "==":
			t = ok && c == 0
		default: // !=
			t = !ok || c != 0
		}
		if !t {
			return boolVal(false), nil
		}
		l = r
	}
	return boolVal(true), nil
}

func (n *cmpNode) format(b []byte) []byte {
	b = formatChild(b, n.first, precBitOr)
	for i, op := range n.ops {
		b = append(b, ' ')
		b = append(b, op...)
		b = append(b, ' ')
		b = formatChild(b, n.rest[i], precBitOr)
	}
	return b
}
func (n *cmpNode) prec() int { return precCmp }

// notNode is "not x".
type notNode struct{ x node }

func (n *notNode) eval(e *env) (value, error) {
	x, err := n.x.eval(e)
	if err != nil {
		return value{}, err
	}
	return boolVal(!x.truthy()), nil
}
func (n *notNode) format(b []byte) []byte { return formatChild(append(b, "not "...), n.x, precNot) }
func (n *notNode) prec() int              { return precNot }

// logicNode is "l and r" or "l or r"; it returns an operand, evaluating r
// only when needed.
type logicNode struct {
	or   bool
	l, r node
}

func (n *logicNode) eval(e *env) (value, error) {
	l, err := n.l.eval(e)
	if err != nil {
		return value{}, err
	}
	if l.truthy() == n.or {
		return l, nil
	}
	return n.r.eval(e)
}

func (n *logicNode) format(b []byte) []byte {
	p, word := n.prec(), " and "
	if n.or {
		word = " or "
	}
	b = formatChild(b, n.l, p)
	b = append(b, word...)
	return formatChild(b, n.r, p+1)
}

func (n *logicNode) prec() int {
	if n.or {
		return precOr
	}
	return precAnd
}

// condNode is "body if test else orelse"; only one branch is evaluated.
type condNode struct {
	body, test, orelse node
}

func (n *condNode) eval(e *env) (value, error) {
	t, err := n.test.eval(e)
	if err != nil {
		return value{}, err
	}
	if t.truthy() {
		return n.body.eval(e)
	}
	return n.orelse.eval(e)
}

func (n *condNode) format(b []byte) []byte {
	b = formatChild(b, n.body, precOr)
	b = append(b, " if "...)
	b = formatChild(b, n.test, precOr)
	b = append(b, " else "...)
	return formatChild(b, n.orelse, precCond)
}
func (n *condNode) prec() int { return precCond }

// callNode calls a whitelisted function.
type callNode struct {
	fn   *function
	name string
	col  int
	args []node
}

func (n *callNode) eval(e *env) (value, error) {
	args := make([]value, len(n.args))
	for i, a := range n.args {
		v, err := a.eval(e)
		if err != nil {
			return value{}, err
		}
		args[i] = v
	}
	v, err := n.fn.call(args)
	if err != nil {
		return value{}, &Error{Col: n.col, Token: n.name, Msg: fmt.Sprintf("%s(): %s", n.name, err)}
	}
	return v, nil
}

func (n *callNode) format(b []byte) []byte {
	b = append(b, n.name...)
	b = append(b, '(')
	b = joinArgs(b, n.args)
	return append(b, ')')
}
func (n *callNode) prec() int { return precAtom }
