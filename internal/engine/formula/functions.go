package formula

import (
	"errors"
	"math"
	"math/big"
)

// function is a whitelisted callable. Arity is checked at compile time.
type function struct {
	min, max int // number of arguments; max < 0: no limit
	call     func(args []value) (value, error)
}

// functions are the callables a formula may use, by name.
var functions = map[string]*function{
	"float":      {0, 1, fnFloat},
	"int":        {0, 1, fnInt},
	"abs":        {1, 1, fnAbs},
	"min":        {2, -1, func(a []value) (value, error) { return extreme(a, -1), nil }},
	"max":        {2, -1, func(a []value) (value, error) { return extreme(a, 1), nil }},
	"round":      {1, 2, fnRound},
	"math.exp":   {1, 1, math1(math.Exp, errRange)},
	"math.sqrt":  {1, 1, math1(math.Sqrt, errDomain)},
	"math.log":   {1, 2, fnLog},
	"math.log2":  {1, 1, logFunc(math.Log2)},
	"math.log10": {1, 1, logFunc(log10)},
	"math.pow":   {2, 2, fnPow},
	"math.floor": {1, 1, rounder(math.Floor)},
	"math.ceil":  {1, 1, rounder(math.Ceil)},
}

func fnFloat(a []value) (value, error) {
	if len(a) == 0 {
		return floatVal(0), nil
	}
	f, err := a[0].toFloat()
	if err != nil {
		return value{}, err
	}
	return floatVal(f), nil
}

func fnInt(a []value) (value, error) {
	if len(a) == 0 {
		return int64Val(0), nil
	}
	if a[0].isInt() {
		return intVal(a[0].bigInt()), nil
	}
	z, err := floatToInt(a[0].f)
	if err != nil {
		return value{}, err
	}
	return intVal(z), nil
}

func fnAbs(a []value) (value, error) {
	if a[0].isFloat() {
		return floatVal(math.Abs(a[0].f)), nil
	}
	return intVal(new(big.Int).Abs(a[0].bigInt())), nil
}

// extreme returns the first smallest (dir -1) or largest (dir 1) value,
// as Python's min and max do, NaNs included.
func extreme(a []value, dir int) value {
	best := a[0]
	for _, v := range a[1:] {
		if c, ok := compare(v, best); ok && c == dir {
			best = v
		}
	}
	return best
}

// math1 wraps a float function the way Python's math module does: a NaN
// from a non-NaN argument is a domain error, an infinity from a finite
// argument is onInf.
func math1(f func(float64) float64, onInf error) func([]value) (value, error) {
	return func(a []value) (value, error) {
		x, err := a[0].toFloat()
		if err != nil {
			return value{}, err
		}
		r := f(x)
		switch {
		case math.IsNaN(r) && !math.IsNaN(x):
			return value{}, errDomain
		case math.IsInf(r, 0) && !math.IsInf(x, 0):
			return value{}, onInf
		}
		return floatVal(r), nil
	}
}

// minNormal is the smallest positive normal float64.
const minNormal = 0x1p-1022

// logE is math.Log corrected for subnormal arguments, which Go's assembly
// math.Log on amd64 gets wrong (golang/go#56600): they are scaled first.
func logE(x float64) float64 {
	if x > 0 && x < minNormal {
		return math.Log(x*0x1p54) - 54*math.Ln2
	}
	return math.Log(x)
}

// log10 is math.Log10 (built on math.Log) corrected the same way.
func log10(x float64) float64 {
	if x > 0 && x < minNormal {
		return math.Log10(x*0x1p54) - 54*(math.Ln2/math.Ln10)
	}
	return math.Log10(x)
}

// logOf computes a logarithm like Python, which also accepts ints too
// large for a float.
func logOf(f func(float64) float64, v value) (float64, error) {
	if v.isInt() {
		z := v.bigInt()
		if z.Sign() <= 0 {
			return 0, errDomain
		}
		if x, err := intToFloat(z); err == nil {
			return f(x), nil
		}
		// z = m * 2**e with m in [0.5, 1).
		e := z.BitLen()
		m, _ := new(big.Float).SetMantExp(new(big.Float).SetInt(z), -e).Float64()
		return f(m) + f(2)*float64(e), nil
	}
	r := f(v.f)
	switch {
	case math.IsNaN(r) && !math.IsNaN(v.f), math.IsInf(r, 0) && !math.IsInf(v.f, 0):
		return 0, errDomain
	}
	return r, nil
}

func logFunc(f func(float64) float64) func([]value) (value, error) {
	return func(a []value) (value, error) {
		r, err := logOf(f, a[0])
		if err != nil {
			return value{}, err
		}
		return floatVal(r), nil
	}
}

func fnLog(a []value) (value, error) {
	num, err := logOf(logE, a[0])
	if err != nil || len(a) == 1 {
		return floatVal(num), err
	}
	den, err := logOf(logE, a[1])
	if err != nil {
		return value{}, err
	}
	if den == 0 {
		return value{}, errors.New("float division by zero")
	}
	return floatVal(num / den), nil
}

// fnPow is math.pow: like float ** float, but errors are math errors.
func fnPow(a []value) (value, error) {
	x, y, err := floatPair(a[0], a[1])
	if err != nil {
		return value{}, err
	}
	if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
		return floatVal(math.Pow(x, y)), nil // C99 special cases, as Python
	}
	if x == 0 && y < 0 {
		return value{}, errDomain
	}
	r := math.Pow(x, y)
	switch {
	case math.IsNaN(r):
		return value{}, errDomain
	case math.IsInf(r, 0):
		return value{}, errRange
	}
	return floatVal(r), nil
}

// rounder makes math.floor and math.ceil, which return ints.
func rounder(f func(float64) float64) func([]value) (value, error) {
	return func(a []value) (value, error) {
		if a[0].isInt() {
			return intVal(a[0].bigInt()), nil
		}
		z, err := floatToInt(f(a[0].f))
		if err != nil {
			return value{}, err
		}
		return intVal(z), nil
	}
}

// Python's float rounding with ndigits returns x beyond these limits.
const (
	roundDigitsMax = 323
	roundDigitsMin = -308
)

// fnRound is Python's round(x) and round(x, ndigits), rounding half to even.
func fnRound(a []value) (value, error) {
	x := a[0]
	if len(a) == 1 {
		if x.isInt() {
			return intVal(x.bigInt()), nil
		}
		z, err := floatToInt(math.RoundToEven(x.f))
		if err != nil {
			return value{}, err
		}
		return intVal(z), nil
	}
	if !a[1].isInt() {
		return value{}, errors.New("'float' object cannot be interpreted as an integer")
	}
	nd := a[1].bigInt()
	var n int64
	switch {
	case nd.IsInt64():
		n = nd.Int64()
	case nd.Sign() > 0:
		n = math.MaxInt64
	default:
		n = math.MinInt64
	}
	if x.isInt() {
		return roundInt(x.bigInt(), n)
	}
	return roundFloat(x.f, n)
}

// roundInt rounds z to a multiple of 10**-n.
func roundInt(z *big.Int, n int64) (value, error) {
	if n >= 0 {
		return intVal(z), nil
	}
	// |z| < 2**MaxIntBits < 10**1300 / 2, so it rounds to 0 beyond that.
	if n < -1300 {
		return int64Val(0), nil
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(-n), nil)
	q := roundHalfEven(new(big.Rat).SetFrac(z, p))
	return mkInt(q.Mul(q, p))
}

// roundFloat rounds f to n decimal digits, exactly, as Python does.
func roundFloat(f float64, n int64) (value, error) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0) || n > roundDigitsMax:
		return floatVal(f), nil
	case n < roundDigitsMin:
		return floatVal(math.Copysign(0, f)), nil
	}
	abs := n
	if abs < 0 {
		abs = -abs
	}
	p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(abs), nil))
	r := new(big.Rat).SetFloat64(f)
	if n >= 0 {
		r.Mul(r, p)
	} else {
		r.Quo(r, p)
	}
	r.SetInt(roundHalfEven(r))
	if n >= 0 {
		r.Quo(r, p)
	} else {
		r.Mul(r, p)
	}
	res, _ := r.Float64()
	if math.IsInf(res, 0) {
		return value{}, errors.New("rounded value too large to represent")
	}
	if res == 0 {
		res = math.Copysign(0, f)
	}
	return floatVal(res), nil
}

// roundHalfEven rounds r to the nearest integer, ties to even.
func roundHalfEven(r *big.Rat) *big.Int {
	den := r.Denom()
	q, m := new(big.Int).DivMod(r.Num(), den, new(big.Int)) // floor, as den > 0
	switch m.Lsh(m, 1).Cmp(den) {
	case 1:
		q.Add(q, bigOne)
	case 0:
		if q.Bit(0) == 1 {
			q.Add(q, bigOne)
		}
	}
	return q
}
