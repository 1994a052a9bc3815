// Package formula evaluates fail2ban's bantime.formula: a small, safe
// evaluator for the subset of Python expressions that fail2ban's
// bantime.increment formulas use. It never executes general code: a formula
// can only compute a number from a fixed set of variables, operators and
// whitelisted functions, and every evaluation is bounded in time and memory.
//
// # API
//
//	e, err := formula.Compile("ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor")
//	secs, err := e.Eval(formula.Vars{Time: 600, Count: 3, Factor: 1}) // 4800
//	e.String() // "ban.Time * (1 << (ban.Count if ban.Count < 20 else 20)) * banFactor"
//
// Compile reports syntax errors and anything outside the subset as an
// *Error naming the offending token and its 1-based column (in characters).
// Eval reports Python's run-time errors (division by zero, math domain
// errors, ...) the same way, and also fails when the result is NaN,
// infinite or negative; the result is a ban duration in seconds.
//
// fail2ban wraps the formula: it uses max(ban.Time, formula), then caps it
// with bantime.maxtime and adds a random part of bantime.rndtime, and it only
// evaluates the formula for an address banned before (ban.Count > 0). Those
// steps belong to the caller.
//
// # Grammar
//
// From lowest to highest precedence, as in Python:
//
//	expr       = disjunct [ "if" disjunct "else" expr ]      (conditional, lazy)
//	disjunct   = conjunct { "or" conjunct }                   (returns an operand, lazy)
//	conjunct   = inversion { "and" inversion }                (returns an operand, lazy)
//	inversion  = "not" inversion | comparison
//	comparison = bitor { ("<"|"<="|">"|">="|"=="|"!=") bitor } (chained: a<b<c is a<b and b<c)
//	bitor      = bitxor { "|" bitxor }
//	bitxor     = bitand { "^" bitand }
//	bitand     = shift { "&" shift }
//	shift      = sum { ("<<"|">>") sum }
//	sum        = term { ("+"|"-") term }
//	term       = factor { ("*"|"/"|"//"|"%") factor }
//	factor     = ("-"|"+"|"~") factor | power
//	power      = primary [ "**" factor ]                      (right-associative; -2**2 is -4)
//	primary    = number | variable | constant | call | "(" expr ")"
//	call       = function "(" [ expr { "," expr } [","] ] ")"
//
// Numbers are Python literals: 42, 1_000, 0x1F, 0o17, 0b101, 1.5, .5, 1.,
// 1e3, 2.5E-3. True and False are the ints 1 and 0 (type bool).
//
// Variables: ban.Time (the jail's bantime in seconds), ban.Count (how often
// the address was banned before), banFactor (bantime.factor) and banTime (an
// alias of ban.Time). Constants: math.pi, math.e.
//
// Functions: float, int, abs, min, max (two or more arguments), round (one or
// two arguments), math.exp, math.log (one or two arguments), math.log2,
// math.log10, math.sqrt, math.pow, math.floor, math.ceil.
//
// Anything else (other names, attribute chains, strings, lambda,
// comprehensions, subscripts, tuples, keyword arguments, assignment, the in
// and is operators, complex numbers) is a compile error.
//
// # Semantics
//
// Values are Python's bool, int and float with Python's rules: / always
// yields a float; // and % floor (the remainder takes the divisor's sign);
// int ** non-negative int stays an int, int ** negative int is a float;
// << >> & | ^ ~ need ints (a float operand is an evaluation error, as in
// Python); comparisons between ints and floats are exact; and/or return an
// operand; float arithmetic may overflow to infinity as in Python, but
// ** and math functions report overflow as errors.
//
// Where gaol differs from Python: a negative number raised to a fractional
// power is an error (Python makes a complex number); a number written
// directly against a name, as in "1if", is an error; math functions come
// from Go's math package and may differ from the C library Python uses in
// the last bit.
//
// Ints are arbitrary precision, as in Python, up to MaxIntBits bits; a larger
// int is an evaluation error. This bounds the work of every operation (for
// example 2**10**10 fails at once), and as formulas contain no loops, every
// evaluation is bounded by the size of the source, itself limited to
// MaxSourceLen bytes and MaxDepth levels of nesting.
//
// A whole-number Time or Factor is bound as a Python int, other values as a
// float, matching fail2ban, where bantime "600" or "10m" and factor "1" are
// ints; ban.Count is an int.
package formula

import (
	"fmt"
	"math"
	"strconv"
)

// Limits that bound compilation and evaluation.
const (
	// MaxSourceLen is the longest formula, in bytes, that Compile accepts.
	MaxSourceLen = 4096
	// MaxDepth is the deepest nesting (parentheses, unary operators,
	// right-associative ** and conditionals) that Compile accepts.
	MaxDepth = 64
	// MaxIntBits is the largest magnitude, in bits, of an int during
	// evaluation (and of an int literal).
	MaxIntBits = 4096
)

// Error is a compile or evaluation error. Col is the 1-based column, in
// characters, of the offending token, or 0 when the error concerns the
// whole formula (such as a negative result).
type Error struct {
	Col   int    // 1-based column of Token, 0 if none
	Token string // the offending token as written; "" at end of input or for the whole formula
	Msg   string // what is wrong; it quotes Token
}

// Error formats the error as "column N: message", or just the message
// when Col is 0.
func (e *Error) Error() string {
	if e.Col == 0 {
		return e.Msg
	}
	return fmt.Sprintf("column %d: %s", e.Col, e.Msg)
}

// Vars are the values a formula sees.
type Vars struct {
	Time   float64 // ban.Time and banTime: the jail's bantime, in seconds
	Count  int     // ban.Count: how often the address was banned before
	Factor float64 // banFactor: bantime.factor
}

// Expr is a compiled formula. It is immutable and safe for concurrent use.
type Expr struct {
	root node
}

// Compile parses src, a Python expression in the subset described in the
// package documentation. Errors are of type *Error.
func Compile(src string) (*Expr, error) {
	if len(src) > MaxSourceLen {
		return nil, &Error{Col: 1, Msg: fmt.Sprintf("formula too long (%d bytes, at most %d)", len(src), MaxSourceLen)}
	}
	root, err := parse(src)
	if err != nil {
		return nil, err
	}
	return &Expr{root: root}, nil
}

// Eval computes the formula for vars and returns a duration in seconds.
// Errors are of type *Error.
func (e *Expr) Eval(vars Vars) (float64, error) {
	v, err := e.root.eval(vars.env())
	if err != nil {
		return 0, err
	}
	f, err := v.toFloat()
	if err != nil {
		return 0, &Error{Msg: fmt.Sprintf("result %s", err)}
	}
	switch {
	case math.IsNaN(f):
		return 0, &Error{Msg: "result is not a number (NaN)"}
	case math.IsInf(f, 0):
		return 0, &Error{Msg: fmt.Sprintf("result is infinite (%v)", f)}
	case f < 0:
		return 0, &Error{Msg: "result is negative (" + strconv.FormatFloat(f, 'g', -1, 64) + ")"}
	}
	if f == 0 {
		f = 0 // not -0
	}
	return f, nil
}

// String returns the formula in a canonical form: tokens separated by
// single spaces and only the parentheses that precedence requires. Compiling
// it gives an equivalent Expr.
func (e *Expr) String() string {
	var b []byte
	return string(e.root.format(b))
}

// env binds the variables for one evaluation.
func (v Vars) env() *env {
	return &env{
		time:   numberValue(v.Time),
		count:  int64Val(int64(v.Count)),
		factor: numberValue(v.Factor),
	}
}

// numberValue binds a float variable: whole numbers become ints, as
// fail2ban's own values are.
func numberValue(f float64) value {
	if f == math.Trunc(f) && !math.IsInf(f, 0) {
		if z, err := floatToInt(f); err == nil {
			return intVal(z)
		}
	}
	return floatVal(f)
}
