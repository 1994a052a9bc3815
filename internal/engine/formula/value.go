package formula

import (
	"errors"
	"fmt"
	"math"
	"math/big"
)

// kind is a Python numeric type.
type kind uint8

const (
	kindBool kind = iota
	kindInt
	kindFloat
)

// value is a Python bool, int or float. The *big.Int of an int is never
// modified once the value exists, so values can be shared freely.
type value struct {
	kind kind
	b    bool     // kindBool
	i    *big.Int // kindInt
	f    float64  // kindFloat
}

var (
	bigZero = big.NewInt(0)
	bigOne  = big.NewInt(1)
)

var (
	errIntTooLarge   = fmt.Errorf("integer too large (more than %d bits)", MaxIntBits)
	errIntToFloat    = errors.New("int too large to convert to float")
	errDomain        = errors.New("math domain error")
	errRange         = errors.New("math range error")
	errFloatOverflow = errors.New("numerical result out of range")
)

func boolVal(b bool) value       { return value{kind: kindBool, b: b} }
func intVal(z *big.Int) value    { return value{kind: kindInt, i: z} }
func floatVal(f float64) value   { return value{kind: kindFloat, f: f} }
func int64Val(n int64) value     { return intVal(big.NewInt(n)) }
func (v value) isInt() bool      { return v.kind != kindFloat } // bool or int
func (v value) isFloat() bool    { return v.kind == kindFloat }
func (v value) isBoolKind() bool { return v.kind == kindBool }

// mkInt checks that z is within MaxIntBits.
func mkInt(z *big.Int) (value, error) {
	if z.BitLen() > MaxIntBits {
		return value{}, errIntTooLarge
	}
	return intVal(z), nil
}

// typeName is Python's name of v's type, for error messages.
func (v value) typeName() string {
	switch v.kind {
	case kindBool:
		return "bool"
	case kindInt:
		return "int"
	}
	return "float"
}

// bigInt returns an int or bool as a big.Int that must not be modified.
func (v value) bigInt() *big.Int {
	if v.kind == kindBool {
		if v.b {
			return bigOne
		}
		return bigZero
	}
	return v.i
}

// truthy is Python's truth value.
func (v value) truthy() bool {
	switch v.kind {
	case kindBool:
		return v.b
	case kindInt:
		return v.i.Sign() != 0
	}
	return v.f != 0
}

// toFloat converts like Python's float().
func (v value) toFloat() (float64, error) {
	switch v.kind {
	case kindBool:
		if v.b {
			return 1, nil
		}
		return 0, nil
	case kindInt:
		return intToFloat(v.i)
	}
	return v.f, nil
}

// intToFloat rounds z to the nearest float64, half to even, like Python.
func intToFloat(z *big.Int) (float64, error) {
	if z.IsInt64() {
		if n := z.Int64(); n >= -1<<53 && n <= 1<<53 {
			return float64(n), nil
		}
	}
	f, _ := new(big.Float).SetInt(z).Float64()
	if math.IsInf(f, 0) {
		return 0, errIntToFloat
	}
	return f, nil
}

// floatToInt truncates f towards zero, like Python's int().
func floatToInt(f float64) (*big.Int, error) {
	switch {
	case math.IsNaN(f):
		return nil, errors.New("cannot convert float NaN to integer")
	case math.IsInf(f, 0):
		return nil, errors.New("cannot convert float infinity to integer")
	}
	z, _ := new(big.Float).SetFloat64(math.Trunc(f)).Int(nil)
	return z, nil
}

// floatPair converts two operands to floats.
func floatPair(a, b value) (float64, float64, error) {
	x, err := a.toFloat()
	if err != nil {
		return 0, 0, err
	}
	y, err := b.toFloat()
	if err != nil {
		return 0, 0, err
	}
	return x, y, nil
}

// compare orders a and b exactly, as Python does. ok is false when the
// values are unordered (a NaN is involved).
func compare(a, b value) (c int, ok bool) {
	if a.isInt() && b.isInt() {
		return a.bigInt().Cmp(b.bigInt()), true
	}
	if a.isFloat() && b.isFloat() {
		switch {
		case math.IsNaN(a.f) || math.IsNaN(b.f):
			return 0, false
		case a.f < b.f:
			return -1, true
		case a.f > b.f:
			return 1, true
		}
		return 0, true
	}
	// One int, one float: compare exactly.
	if a.isFloat() {
		c, ok := compare(b, a)
		return -c, ok
	}
	f := b.f
	switch {
	case math.IsNaN(f):
		return 0, false
	case math.IsInf(f, 1):
		return -1, true
	case math.IsInf(f, -1):
		return 1, true
	}
	x := new(big.Float).SetInt(a.bigInt())
	return x.Cmp(new(big.Float).SetFloat64(f)), true
}

// binOp is a binary arithmetic or bitwise operator.
type binOp uint8

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
	opFloorDiv
	opMod
	opPow
	opLsh
	opRsh
	opAnd
	opOr
	opXor
)

// binOps maps a token to its operator, precedence level and spelling.
var binOps = map[string]struct {
	op   binOp
	prec int
}{
	"|":  {opOr, precBitOr},
	"^":  {opXor, precBitXor},
	"&":  {opAnd, precBitAnd},
	"<<": {opLsh, precShift},
	">>": {opRsh, precShift},
	"+":  {opAdd, precSum},
	"-":  {opSub, precSum},
	"*":  {opMul, precTerm},
	"/":  {opDiv, precTerm},
	"//": {opFloorDiv, precTerm},
	"%":  {opMod, precTerm},
	"**": {opPow, precPower},
}

// apply computes a op b with Python's semantics; sym is the operator as
// written, for messages.
func (op binOp) apply(sym string, a, b value) (value, error) {
	switch op {
	case opAdd, opSub, opMul:
		if a.isInt() && b.isInt() {
			x, y, z := a.bigInt(), b.bigInt(), new(big.Int)
			switch op {
			case opAdd:
				z.Add(x, y)
			case opSub:
				z.Sub(x, y)
			default:
				z.Mul(x, y)
			}
			return mkInt(z)
		}
		x, y, err := floatPair(a, b)
		if err != nil {
			return value{}, err
		}
		switch op {
		case opAdd:
			return floatVal(x + y), nil
		case opSub:
			return floatVal(x - y), nil
		}
		return floatVal(x * y), nil
	case opDiv:
		return trueDiv(a, b)
	case opFloorDiv, opMod:
		return floorDivMod(op, a, b)
	case opPow:
		return power(a, b)
	}
	// Shifts and bitwise operators need ints.
	if !a.isInt() || !b.isInt() {
		return value{}, fmt.Errorf("unsupported operand type(s) for %s: '%s' and '%s'", sym, a.typeName(), b.typeName())
	}
	x, y := a.bigInt(), b.bigInt()
	switch op {
	case opLsh, opRsh:
		return shift(op, x, y)
	}
	z := new(big.Int)
	switch op {
	case opAnd:
		z.And(x, y)
	case opOr:
		z.Or(x, y)
	default:
		z.Xor(x, y)
	}
	if a.isBoolKind() && b.isBoolKind() {
		return boolVal(z.Sign() != 0), nil
	}
	return mkInt(z)
}

func trueDiv(a, b value) (value, error) {
	if a.isInt() && b.isInt() {
		x, y := a.bigInt(), b.bigInt()
		if y.Sign() == 0 {
			return value{}, errors.New("division by zero")
		}
		f, _ := new(big.Rat).SetFrac(x, y).Float64()
		if math.IsInf(f, 0) {
			return value{}, errors.New("integer division result too large for a float")
		}
		return floatVal(f), nil
	}
	x, y, err := floatPair(a, b)
	if err != nil {
		return value{}, err
	}
	if y == 0 {
		return value{}, errors.New("float division by zero")
	}
	return floatVal(x / y), nil
}

// floorDivMod computes a // b or a % b: the quotient is floored and the
// remainder has the sign of b.
func floorDivMod(op binOp, a, b value) (value, error) {
	if a.isInt() && b.isInt() {
		x, y := a.bigInt(), b.bigInt()
		if y.Sign() == 0 {
			if op == opMod {
				return value{}, errors.New("integer modulo by zero")
			}
			return value{}, errors.New("integer division or modulo by zero")
		}
		q, m := new(big.Int).QuoRem(x, y, new(big.Int))
		if m.Sign() != 0 && m.Sign() != y.Sign() {
			q.Sub(q, bigOne)
			m.Add(m, y)
		}
		if op == opMod {
			return mkInt(m)
		}
		return mkInt(q)
	}
	x, y, err := floatPair(a, b)
	if err != nil {
		return value{}, err
	}
	if y == 0 {
		if op == opMod {
			return value{}, errors.New("float modulo by zero")
		}
		return value{}, errors.New("float floor division by zero")
	}
	div, mod := floatDivMod(x, y)
	if op == opMod {
		return floatVal(mod), nil
	}
	return floatVal(div), nil
}

// floatDivMod is Python's divmod for floats (y != 0): mod has the sign of
// y and div is the floored quotient, computed so that div*y + mod is as
// close to x as possible.
func floatDivMod(x, y float64) (div, mod float64) {
	mod = math.Mod(x, y)
	q := (x - mod) / y
	if mod != 0 {
		if (y < 0) != (mod < 0) {
			mod += y
			q--
		}
	} else {
		mod = math.Copysign(0, y)
	}
	if q != 0 {
		div = math.Floor(q)
		if q-div > 0.5 {
			div++
		}
	} else {
		div = math.Copysign(0, x/y)
	}
	return div, mod
}

// power computes a ** b.
func power(a, b value) (value, error) {
	if a.isInt() && b.isInt() && b.bigInt().Sign() >= 0 {
		return intPow(a.bigInt(), b.bigInt())
	}
	x, y, err := floatPair(a, b)
	if err != nil {
		return value{}, err
	}
	f, err := floatPow(x, y)
	if err != nil {
		return value{}, err
	}
	return floatVal(f), nil
}

// intPow computes x ** y for y >= 0, refusing results over MaxIntBits
// before computing them.
func intPow(x, y *big.Int) (value, error) {
	if y.Sign() == 0 {
		return int64Val(1), nil
	}
	switch {
	case x.Sign() == 0:
		return int64Val(0), nil
	case x.Cmp(bigOne) == 0:
		return int64Val(1), nil
	case x.IsInt64() && x.Int64() == -1:
		if y.Bit(0) == 0 {
			return int64Val(1), nil
		}
		return int64Val(-1), nil
	}
	// |x| >= 2, so the result has at least (bits(x)-1)*y+1 bits.
	if !y.IsInt64() || y.Int64() > MaxIntBits || int64(x.BitLen()-1)*y.Int64()+1 > MaxIntBits {
		return value{}, errIntTooLarge
	}
	return mkInt(new(big.Int).Exp(x, y, nil))
}

// floatPow is Python's float ** float.
func floatPow(x, y float64) (float64, error) {
	switch {
	case y == 0:
		return 1, nil
	case math.IsNaN(x):
		return x, nil
	case math.IsNaN(y):
		if x == 1 {
			return 1, nil
		}
		return y, nil
	case math.IsInf(y, 0), math.IsInf(x, 0):
		return math.Pow(x, y), nil // C99 special cases, as Python
	case x == 0:
		if y < 0 {
			return 0, errors.New("0.0 cannot be raised to a negative power")
		}
		return math.Pow(x, y), nil
	case x < 0 && y != math.Trunc(y):
		return 0, errors.New("negative number cannot be raised to a fractional power (complex result)")
	}
	r := math.Pow(x, y)
	if math.IsInf(r, 0) {
		return 0, errFloatOverflow
	}
	return r, nil
}

// shift computes x << y or x >> y.
func shift(op binOp, x, y *big.Int) (value, error) {
	if y.Sign() < 0 {
		return value{}, errors.New("negative shift count")
	}
	if op == opLsh {
		if x.Sign() == 0 {
			return int64Val(0), nil
		}
		if !y.IsInt64() || y.Int64() > MaxIntBits || int64(x.BitLen())+y.Int64() > MaxIntBits {
			return value{}, errIntTooLarge
		}
		return mkInt(new(big.Int).Lsh(x, uint(y.Int64())))
	}
	if !y.IsInt64() || y.Int64() > MaxIntBits {
		if x.Sign() < 0 {
			return int64Val(-1), nil
		}
		return int64Val(0), nil
	}
	return mkInt(new(big.Int).Rsh(x, uint(y.Int64())))
}

// unary applies - + or ~.
func unary(sym string, a value) (value, error) {
	if a.isFloat() {
		switch sym {
		case "-":
			return floatVal(-a.f), nil
		case "+":
			return a, nil
		}
		return value{}, fmt.Errorf("bad operand type for unary %s: '%s'", sym, a.typeName())
	}
	x := a.bigInt()
	switch sym {
	case "-":
		return mkInt(new(big.Int).Neg(x))
	case "+":
		return intVal(x), nil
	}
	return mkInt(new(big.Int).Not(x))
}
