package formula

import (
	"errors"
	"math"
	"testing"
)

// FuzzCompileEval checks that Compile and Eval never panic, that every
// evaluation ends (the limits bound it), that results are durations, and
// that String gives a formula that compiles to the same String and value.
func FuzzCompileEval(f *testing.F) {
	seeds := []string{
		formulaShift,
		formulaExp,
		"ban.Time * 2 ** ban.Count",
		"max(ban.Time, min(ban.Time * ban.Count, 86400))",
		"round(banTime * math.pow(1.5, ban.Count), -1)",
		"ban.Count > 2 and 7 or 9",
		"-2**-2 if not 1 < 2 <= 3 else ~5 ^ 3 | 1 & 7 >> 1 << 2",
		"math.log(ban.Time, 2) + math.log2(8) + math.log10(100) + math.sqrt(4) + math.floor(-1.5) + math.ceil(1.5)",
		"abs(int(float(-7) // 2 % 3)) / 0x1F + 0o17 + 0b1 + 1_000 + .5 + 1. + 1e3 + math.pi + math.e + True",
		"2**10**10",
		"(1 << 4000) >> 3990",
		"round(2.675, 2) + round(2.5) + round(1250, -2)",
		"lambda: 1",
		"'a'",
		"1 if 2",
	}
	for i, s := range seeds {
		f.Add(s, 600.0, i, 1.0)
	}
	f.Add("ban.Time / banFactor", 1.5, -3, 0.0)
	f.Add("ban.Time * 1e308 * banFactor", math.MaxFloat64, 1<<62, math.Inf(1))
	f.Fuzz(func(t *testing.T, src string, tm float64, count int, factor float64) {
		e, err := Compile(src)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("Compile(%q): error %T is not *Error", src, err)
			}
			return
		}
		vars := Vars{Time: tm, Count: count, Factor: factor}
		got, err := e.Eval(vars)
		if err == nil && (got < 0 || math.IsNaN(got) || math.IsInf(got, 0) || math.Signbit(got)) {
			t.Fatalf("%q with %+v = %v, not a duration", src, vars, got)
		}
		canon := e.String()
		if len(canon) > MaxSourceLen {
			return
		}
		e2, err2 := Compile(canon)
		if err2 != nil {
			t.Fatalf("Compile(%q) fails on String() %q of %q: %v", canon, canon, src, err2)
		}
		if s := e2.String(); s != canon {
			t.Fatalf("String of %q is not stable: %q then %q", src, canon, s)
		}
		got2, err2 := e2.Eval(vars)
		if (err == nil) != (err2 == nil) || got != got2 {
			t.Fatalf("%q = %v, %v but its String %q = %v, %v", src, got, err, canon, got2, err2)
		}
		if err != nil {
			var fe, fe2 *Error
			if !errors.As(err, &fe) || !errors.As(err2, &fe2) || fe.Msg != fe2.Msg {
				t.Fatalf("%q: error %v, but its String %q: %v", src, err, canon, err2)
			}
		}
	})
}
