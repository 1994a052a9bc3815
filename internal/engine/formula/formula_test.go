package formula

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// The formulas of fail2ban's jail.conf.
const (
	formulaShift = "ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor"
	formulaExp   = "ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)"
)

// TestFail2banFormulas checks both formulas against values computed by
// python3 with ban.Time = 600 and ban.Count = 0..25.
func TestFail2banFormulas(t *testing.T) {
	tests := []struct {
		name    string
		formula string
		factor  float64
		want    []float64
		exact   bool
	}{
		{"shift/factor1", formulaShift, 1, []float64{600, 1200, 2400, 4800, 9600, 19200, 38400, 76800, 153600, 307200, 614400, 1228800, 2457600, 4915200, 9830400, 19660800, 39321600, 78643200, 157286400, 314572800, 629145600, 629145600, 629145600, 629145600, 629145600, 629145600}, true},
		{"shift/factor2", formulaShift, 2, []float64{1200, 2400, 4800, 9600, 19200, 38400, 76800, 153600, 307200, 614400, 1228800, 2457600, 4915200, 9830400, 19660800, 39321600, 78643200, 157286400, 314572800, 629145600, 1258291200, 1258291200, 1258291200, 1258291200, 1258291200, 1258291200}, true},
		// Python's math.exp comes from the C library; Go's may differ in the
		// last bit, so these compare to 1e-12.
		{"exp/factor1", formulaExp, 1, []float64{600.0, 1630.9690970754273, 4433.43365935839, 12051.3221539126, 32758.890019886545, 89047.89546154597, 242057.27609564105, 657979.8950570752, 1788574.792225037, 4861850.35654523, 13215879.47688403, 35924485.02911869, 97652874.85140236, 265448035.20535234, 721562570.4988661, 1961410423.4832666, 5331666312.304724, 14492971652.14518, 39395981482.39831, 107089380577.91235, 291099117245.87415, 791289440689.929, 2150947707678.955, 5846882067749.342, 15893473277906.088, 43202939602431.53}, false},
		{"exp/factor2", formulaExp, 2, []float64{600.0, 4433.433659358389, 32758.890019886545, 242057.27609564108, 1788574.792225037, 13215879.476884028, 97652874.85140236, 721562570.4988661, 5331666312.304724, 39395981482.3983, 291099117245.8742, 2150947707678.9546, 15893473277906.084, 117437765657303.23, 867754238574885.1, 6411884748914677.0, 4.737777610960841e+16, 3.500770455164729e+17, 2.586738928269117e+18, 1.9113559054268252e+19, 1.4123116010221198e+20, 1.0435649649123007e+21, 7.710960068615584e+21, 5.697671652361469e+22, 4.210041547258579e+23, 3.1108233171522433e+24}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Compile(tt.formula)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			for count, want := range tt.want {
				got, err := e.Eval(Vars{Time: 600, Count: count, Factor: tt.factor})
				if err != nil {
					t.Fatalf("count %d: %v", count, err)
				}
				if tt.exact && got != want || !tt.exact && math.Abs(got-want) > 1e-12*want {
					t.Errorf("count %d: got %v, want %v", count, got, want)
				}
			}
		})
	}
}

// TestPythonSemantics evaluates expressions with ban.Time = 600,
// ban.Count = 3 and banFactor = 1. Every want is the repr() python3 gave
// for the same expression; where Python raised an exception the error is
// ours, with the meaning of Python's.
func TestPythonSemantics(t *testing.T) {
	tests := []struct {
		src     string
		want    string // Python's repr of the value
		wantErr string
	}{
		{"-2**2", "-4", ""},
		{"(-2)**2", "4", ""},
		{"2**-1", "0.5", ""},
		{"2**3**2", "512", ""},
		{"(2**3)**2", "64", ""},
		{"2**-2**2", "0.0625", ""},
		{"-2**-2", "-0.25", ""},
		{"1+2*3", "7", ""},
		{"(1+2)*3", "9", ""},
		{"10-3-2", "5", ""},
		{"10-(3-2)", "9", ""},
		{"10/4/5", "0.5", ""},
		{"2*3%4", "2", ""},
		{"7//2", "3", ""},
		{"-7//2", "-4", ""},
		{"7//-2", "-4", ""},
		{"-7%3", "2", ""},
		{"7%-3", "-2", ""},
		{"7.5//2", "3.0", ""},
		{"-7.5//2", "-4.0", ""},
		{"7.5%2", "1.5", ""},
		{"-7.5%2", "0.5", ""},
		{"7.5%-2", "-0.5", ""},
		{"-0.0%5", "0.0", ""},
		{"1<<2+1", "8", ""},
		{"1<<2<<3", "32", ""},
		{"256>>2>>1", "32", ""},
		{"-9>>1", "-5", ""},
		{"-1>>100", "-1", ""},
		{"-1>>100000000000000000000", "-1", ""},
		{"5>>100000000000000000000", "0", ""},
		{"1|2^3&4", "3", ""},
		{"(1|2)^3", "0", ""},
		{"6&3|8", "10", ""},
		{"5^3", "6", ""},
		{"-6&3", "2", ""},
		{"-6|3", "-5", ""},
		{"-6^3", "-7", ""},
		{"True&False", "False", ""},
		{"True|False", "True", ""},
		{"True^True", "False", ""},
		{"True&3", "1", ""},
		{"~5", "-6", ""},
		{"~-1", "0", ""},
		{"-~5", "6", ""},
		{"~True", "-2", ""},
		{"-True", "-1", ""},
		{"+True", "1", ""},
		{"True+True", "2", ""},
		{"True/2", "0.5", ""},
		{"False**0", "1", ""},
		{"True**-1", "1.0", ""},
		{"not 0", "True", ""},
		{"not 1 == 2", "True", ""},
		{"not 1+1", "False", ""},
		{"0 or 5", "5", ""},
		{"2 and 3", "3", ""},
		{"0 and 1/0", "0", ""},
		{"1 or 1/0", "1", ""},
		{"0.0 or 0", "0", ""},
		{"0 or 0.0", "0.0", ""},
		{"1/0 if 0 else 2", "2", ""},
		{"1 if 0 else 2 if 1 else 3", "2", ""},
		{"(1 if 0 else 2) if 0 else 3", "3", ""},
		{"1 if 1 else 2 if 0 else 3", "1", ""},
		{"1 < 2 < 3", "True", ""},
		{"3 > 2 > 2", "False", ""},
		{"1 < 3 > 2", "True", ""},
		{"1 < 2 > 1/0", "", "column 10: \"/\": division by zero"},
		{"3 < 2 < 1/0", "False", ""},
		{"1 == 1.0", "True", ""},
		{"2**53+1 == float(2**53)", "False", ""},
		{"2**53+1 > float(2**53)", "True", ""},
		{"2**53+1 > 2**53+1.0", "True", ""},
		{"1 < 2 == 2", "True", ""},
		{"(1 < 2) == True", "True", ""},
		{"1 != 1 != 2", "False", ""},
		{"1 <= 1 >= 1", "True", ""},
		{"1e400 > 10**300", "True", ""},
		{"-1e400 < -10**300", "True", ""},
		{"(1e400-1e400) == (1e400-1e400)", "False", ""},
		{"(1e400-1e400) != 0", "True", ""},
		{"(1e400-1e400) < 1", "False", ""},
		{"0.1+0.2", "0.30000000000000004", ""},
		{"0.1+0.2 == 0.3", "False", ""},
		{"1e3", "1000.0", ""},
		{"1E-3", "0.001", ""},
		{".5", "0.5", ""},
		{"1.", "1.0", ""},
		{"1.e2", "100.0", ""},
		{"00", "0", ""},
		{"0_0", "0", ""},
		{"0x1F", "31", ""},
		{"0XfF", "255", ""},
		{"0o17", "15", ""},
		{"0b101", "5", ""},
		{"1_000_000", "1000000", ""},
		{"0x_ff", "255", ""},
		{"1_0.2_5e1_0", "102500000000.0", ""},
		{"10**20", "100000000000000000000", ""},
		{"10**20/3", "3.333333333333333e+19", ""},
		{"10**20//3", "33333333333333333333", ""},
		{"10**20%7", "2", ""},
		{"2**100 % 7", "2", ""},
		{"-2**63", "-9223372036854775808", ""},
		{"-2**63-1", "-9223372036854775809", ""},
		{"(2**64-1) & 0xFFFF", "65535", ""},
		{"2**62*4", "18446744073709551616", ""},
		{"2**4095 > 10**1232", "True", ""},
		{"2**1023*2.0", "inf", ""},
		{"(2**2000 >> 1990) + 0", "1024", ""},
		{"(1<<2000)//(1<<1990)", "1024", ""},
		{"int(2.9)", "2", ""},
		{"int(-2.9)", "-2", ""},
		{"int(1e20)", "100000000000000000000", ""},
		{"int(True)", "1", ""},
		{"int()", "0", ""},
		{"float()", "0.0", ""},
		{"float(3)", "3.0", ""},
		{"float(True)", "1.0", ""},
		{"float(2**53+1)", "9007199254740992.0", ""},
		{"abs(-3)", "3", ""},
		{"abs(-3.5)", "3.5", ""},
		{"abs(True)", "1", ""},
		{"abs(-0.0)", "0.0", ""},
		{"min(3, 1, 2)", "1", ""},
		{"max(3, 1.0, 3.0)", "3", ""},
		{"min(1, 1.0)", "1", ""},
		{"max(1, 1.0)", "1", ""},
		{"min(2, 1e400-1e400)", "2", ""},
		{"min(1e400-1e400, 2)", "nan", ""},
		{"max(1, 2,)", "2", ""},
		{"round(2.5)", "2", ""},
		{"round(3.5)", "4", ""},
		{"round(-2.5)", "-2", ""},
		{"round(0.5)", "0", ""},
		{"round(True)", "1", ""},
		{"round(7)", "7", ""},
		{"round(2.675, 2)", "2.67", ""},
		{"round(1234.5, -2)", "1200.0", ""},
		{"round(1250, -2)", "1200", ""},
		{"round(1350, -2)", "1400", ""},
		{"round(-1250, -2)", "-1200", ""},
		{"round(-1251, -2)", "-1300", ""},
		{"round(15, -1)", "20", ""},
		{"round(25, -1)", "20", ""},
		{"round(0.5, 0)", "0.0", ""},
		{"round(1.5, 0)", "2.0", ""},
		{"round(-0.4, 0)", "-0.0", ""},
		{"round(5, 2)", "5", ""},
		{"round(5.0, 400)", "5.0", ""},
		{"round(5.0, -400)", "0.0", ""},
		{"round(123.456, True)", "123.5", ""},
		{"round(1e400, 2)", "inf", ""},
		{"math.exp(0)", "1.0", ""},
		{"math.exp(1)", "2.718281828459045", ""},
		{"math.exp(-1000)", "0.0", ""},
		{"math.log(math.e)", "1.0", ""},
		{"math.log(8, 2)", "3.0", ""},
		{"math.log(100, 10)", "2.0", ""},
		{"math.log(2**3000)", "2079.4415416798356", ""},
		{"math.log(True)", "0.0", ""},
		{"math.log2(1024)", "10.0", ""},
		{"math.log2(2**4000)", "4000.0", ""},
		{"math.log10(1000)", "3.0", ""},
		{"math.log(1e-308)", "-709.1962086421661", ""},
		{"math.log(5e-324)", "-744.4400719213812", ""},
		{"math.log(1e-310, 10)", "-309.99999999999994", ""},
		{"math.log10(1e-310)", "-310.0", ""},
		{"math.log10(5e-324)", "-323.3062153431158", ""},
		{"math.log2(5e-324)", "-1074.0", ""},
		{"math.log(2.2250738585072014e-308)", "-708.3964185322641", ""},
		{"math.log10(10**400)", "400.0", ""},
		{"math.sqrt(16)", "4.0", ""},
		{"math.sqrt(2)", "1.4142135623730951", ""},
		{"math.sqrt(-0.0)", "-0.0", ""},
		{"math.pow(2, 10)", "1024.0", ""},
		{"math.pow(2, -1)", "0.5", ""},
		{"math.pow(1, 1e400-1e400)", "1.0", ""},
		{"math.pow(1e400, -1)", "0.0", ""},
		{"math.pow(-8, 3)", "-512.0", ""},
		{"math.floor(-2.5)", "-3", ""},
		{"math.ceil(-2.5)", "-2", ""},
		{"math.floor(7)", "7", ""},
		{"math.ceil(True)", "1", ""},
		{"math.floor(1e20)", "100000000000000000000", ""},
		{"math.pi", "3.141592653589793", ""},
		{"math.e", "2.718281828459045", ""},
		{"1e308*10", "inf", ""},
		{"-1e308*10", "-inf", ""},
		{"1e400", "inf", ""},
		{"1e-400", "0.0", ""},
		{"float(2**1023)*2", "inf", ""},
		{"ban.Time", "600", ""},
		{"ban.Count", "3", ""},
		{"banFactor", "1", ""},
		{"banTime", "600", ""},
		{"ban.Time // 7", "85", ""},
		{"ban.Time / 7", "85.71428571428571", ""},
		{"ban.Time % 7", "5", ""},
		{"ban.Time << ban.Count", "4800", ""},
		{"ban.Time >> ban.Count", "75", ""},
		{"ban.Time * 2 ** ban.Count", "4800", ""},
		{"ban.Count ** 2 ** 2", "81", ""},
		{"ban.Count ** -1", "0.3333333333333333", ""},
		{"max(ban.Time, ban.Time * ban.Count)", "1800", ""},
		{"ban.Time if ban.Count < 2 else ban.Time * 10", "6000", ""},
		{"(ban.Count > 2) * 100", "100", ""},
		{"ban.Count > 2 and 7 or 9", "7", ""},
		{"ban.Count < 2 and 7 or 9", "9", ""},
		{"ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor", "4800", ""},
		{"ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)", "12051.3221539126", ""},
		{"3 - -2", "5", ""},
		{"- - 3", "3", ""},
		{"--3", "3", ""},
		{"2*-3", "-6", ""},
		{"not not 1", "True", ""},
		{"2**0.5", "1.4142135623730951", ""},
		{"4**0.5", "2.0", ""},
		{"10 % 3.5", "3.0", ""},
		{"2.0**-1", "0.5", ""},
		{"0**0", "1", ""},
		{"0.0**0", "1.0", ""},
		{"(1e400-1e400)**0", "1.0", ""},
		{"1**(1e400-1e400)", "1.0", ""},
		{"(-1)**(1e400)", "1.0", ""},
		{"2**1e400", "inf", ""},
		{"0.5**1e400", "0.0", ""},
		{"(-2.0)**3", "-8.0", ""},
		{"(-8)**(1/3)", "", "column 5: \"**\": negative number cannot be raised to a fractional power (complex result)"},
		{"(-1)**(10**30)", "1", ""},
		{"(-1)**(10**30+1)", "-1", ""},
		{"1**(10**30)", "1", ""},
		{"0**(10**30)", "0", ""},
		{"1/0", "", "column 2: \"/\": division by zero"},
		{"1//0", "", "column 2: \"//\": integer division or modulo by zero"},
		{"1%0", "", "column 2: \"%\": integer modulo by zero"},
		{"1.0/0", "", "column 4: \"/\": float division by zero"},
		{"1.0//0", "", "column 4: \"//\": float floor division by zero"},
		{"1.0%0", "", "column 4: \"%\": float modulo by zero"},
		{"1<<-1", "", "column 2: \"<<\": negative shift count"},
		{"1>>-1", "", "column 2: \">>\": negative shift count"},
		{"1.5<<1", "", "column 4: \"<<\": unsupported operand type(s) for <<: 'float' and 'int'"},
		{"1>>1.5", "", "column 2: \">>\": unsupported operand type(s) for >>: 'int' and 'float'"},
		{"1&1.5", "", "column 2: \"&\": unsupported operand type(s) for &: 'int' and 'float'"},
		{"1.5|1", "", "column 4: \"|\": unsupported operand type(s) for |: 'float' and 'int'"},
		{"1^1.5", "", "column 2: \"^\": unsupported operand type(s) for ^: 'int' and 'float'"},
		{"~1.5", "", "column 1: \"~\": bad operand type for unary ~: 'float'"},
		{"0**-1", "", "column 2: \"**\": 0.0 cannot be raised to a negative power"},
		{"0.0**-1", "", "column 4: \"**\": 0.0 cannot be raised to a negative power"},
		{"2.0**10000", "", "column 4: \"**\": numerical result out of range"},
		{"10.0**400", "", "column 5: \"**\": numerical result out of range"},
		{"int(1e400-1e400)", "", "column 1: int(): cannot convert float NaN to integer"},
		{"int(1e400)", "", "column 1: int(): cannot convert float infinity to integer"},
		{"int(-1e400)", "", "column 1: int(): cannot convert float infinity to integer"},
		{"10**400*1.0", "", "column 8: \"*\": int too large to convert to float"},
		{"(10**400)/1", "", "column 10: \"/\": integer division result too large for a float"},
		{"1/(10**400)", "0.0", ""},
		{"10**400+0.5", "", "column 8: \"+\": int too large to convert to float"},
		{"math.exp(1000)", "", "column 1: math.exp(): math range error"},
		{"math.exp(1e400)", "inf", ""},
		{"math.log(0)", "", "column 1: math.log(): math domain error"},
		{"math.log(-1)", "", "column 1: math.log(): math domain error"},
		{"math.log(0.0)", "", "column 1: math.log(): math domain error"},
		{"math.log(-1e400)", "", "column 1: math.log(): math domain error"},
		{"math.log(1e400)", "inf", ""},
		{"math.log(8, 1)", "", "column 1: math.log(): float division by zero"},
		{"math.log(8, 0)", "", "column 1: math.log(): math domain error"},
		{"math.log2(0)", "", "column 1: math.log2(): math domain error"},
		{"math.log10(-5)", "", "column 1: math.log10(): math domain error"},
		{"math.sqrt(-1)", "", "column 1: math.sqrt(): math domain error"},
		{"math.sqrt(10**400)", "", "column 1: math.sqrt(): int too large to convert to float"},
		{"math.pow(0, -1)", "", "column 1: math.pow(): math domain error"},
		{"math.pow(10, 400)", "", "column 1: math.pow(): math range error"},
		{"math.pow(-8, 0.5)", "", "column 1: math.pow(): math domain error"},
		{"math.pow(0.0, -1e400)", "inf", ""},
		{"round(1.5, 1.0)", "", "column 1: round(): 'float' object cannot be interpreted as an integer"},
		{"round(1e400)", "", "column 1: round(): cannot convert float infinity to integer"},
		{"round(1e400-1e400)", "", "column 1: round(): cannot convert float NaN to integer"},
		{"round(1.7976931348623157e308, -308)", "", "column 1: round(): rounded value too large to represent"},
		{"math.floor(1e400)", "", "column 1: math.floor(): cannot convert float infinity to integer"},
		{"math.ceil(1e400-1e400)", "", "column 1: math.ceil(): cannot convert float NaN to integer"},
	}
	vars := Vars{Time: 600, Count: 3, Factor: 1}
	for _, tt := range tests {
		e, err := Compile(tt.src)
		if err != nil {
			t.Errorf("Compile(%q): %v", tt.src, err)
			continue
		}
		v, err := e.root.eval(vars.env())
		switch {
		case tt.wantErr != "":
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%q: got error %v, want %q", tt.src, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.src, err)
		case pyRepr(v) != tt.want:
			t.Errorf("%q = %s, want %s", tt.src, pyRepr(v), tt.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		src, want string
	}{
		{"", "column 1: empty formula"},
		{"   ", "column 1: empty formula"},
		{"foo", "column 1: unknown name \"foo\" (allowed: ban.Time, ban.Count, banFactor, banTime, True, False, math.pi, math.e, float, int, abs, min, max, round, math.exp, math.log, math.log2, math.log10, math.sqrt, math.pow, math.floor, math.ceil)"},
		{"foo.bar", "column 1: unknown name \"foo\" (allowed: ban.Time, ban.Count, banFactor, banTime, True, False, math.pi, math.e, float, int, abs, min, max, round, math.exp, math.log, math.log2, math.log10, math.sqrt, math.pow, math.floor, math.ceil)"},
		{"ban", "column 1: \"ban\": use ban.Time or ban.Count"},
		{"ban.Foo", "column 1: \"ban.Foo\": unknown attribute (use ban.Time or ban.Count)"},
		{"ban.Time.real", "column 9: \".\": attribute access is only supported in ban.Time, ban.Count, math.pi, math.e and math functions"},
		{"ban.", "column 5: expected an attribute name after \"ban.\", found end of formula"},
		{"math", "column 1: \"math\": use math.pi, math.e or a math function"},
		{"math.tan(1)", "column 1: \"math.tan\" is not supported (allowed: ban.Time, ban.Count, banFactor, banTime, True, False, math.pi, math.e, float, int, abs, min, max, round, math.exp, math.log, math.log2, math.log10, math.sqrt, math.pow, math.floor, math.ceil)"},
		{"math.exp", "column 1: \"math.exp\" is a function and must be called, as in math.exp(x)"},
		{"max", "column 1: \"max\" is a function and must be called, as in max(x)"},
		{"ban.Time(1)", "column 9: \"(\": only float, int, abs, min, max, round and math functions can be called"},
		{"(1)(2)", "column 4: \"(\": only float, int, abs, min, max, round and math functions can be called"},
		{"max(1, 2)(3)", "column 10: \"(\": only float, int, abs, min, max, round and math functions can be called"},
		{"lambda: 1", "column 1: \"lambda\": lambda expressions are not supported"},
		{"lambda x: x", "column 1: \"lambda\": lambda expressions are not supported"},
		{"max(1 for x in y)", "column 7: \"for\": comprehensions are not supported"},
		{"[1, 2]", "column 1: \"[\": lists and subscripts are not supported"},
		{"ban.Time[0]", "column 9: \"[\": subscripts are not supported"},
		{"{1: 2}", "column 1: \"{\": sets and dicts are not supported"},
		{"(1, 2)", "column 3: \",\": tuples are not supported"},
		{"()", "column 1: \"()\": tuples are not supported"},
		{"1,", "column 2: \",\": tuples are not supported"},
		{"round(1.5, ndigits=1)", "column 12: \"ndigits=\": keyword arguments are not supported"},
		{"x = 1", "column 1: \"x=\": assignment is not supported (use == to compare)"},
		{"ban.Time = 1", "column 10: \"=\": assignment is not supported (use == to compare)"},
		{"(ban.Time := 1)", "column 11: \":=\": assignment expressions are not supported"},
		{"1 in 2", "column 3: \"in\": the in operator is not supported"},
		{"1 is 1", "column 3: \"is\": the is operator is not supported"},
		{"1 not in 2", "column 3: \"not\": the not in operator is not supported"},
		{"None", "column 1: \"None\": None is not supported"},
		{"import os", "column 1: unexpected \"import\""},
		{"__import__('os')", "column 1: unknown name \"__import__\" (allowed: ban.Time, ban.Count, banFactor, banTime, True, False, math.pi, math.e, float, int, abs, min, max, round, math.exp, math.log, math.log2, math.log10, math.sqrt, math.pow, math.floor, math.ceil)"},
		{"'a'", "column 1: \"'\": strings are not supported"},
		{"\"600\"", "column 1: \"\\\"\": strings are not supported"},
		{"1j", "column 1: \"1j\": complex numbers are not supported"},
		{"1.5J", "column 1: \"1.5J\": complex numbers are not supported"},
		{"1_", "column 1: \"1_\": invalid number literal"},
		{"1__0", "column 1: \"1__0\": invalid number literal"},
		{"0x", "column 1: \"0x\": invalid number literal"},
		{"0b102", "column 1: \"0b102\": invalid number literal"},
		{"0o8", "column 1: \"0o8\": invalid number literal"},
		{"1e", "column 1: \"1e\": invalid number literal"},
		{"1e+", "column 1: \"1e\": invalid number literal"},
		{"01", "column 1: \"01\": leading zeros in decimal integer literals are not permitted (use 0o for octal)"},
		{"007", "column 1: \"007\": leading zeros in decimal integer literals are not permitted (use 0o for octal)"},
		{"1.5.2", "column 1: \"1.5.2\": invalid number literal"},
		{"1.x", "column 1: \"1.x\": invalid number literal"},
		{"1if 1 else 2", "column 1: \"1if\": invalid number literal"},
		{"$", "column 1: invalid character '$'"},
		{"ü", "column 1: invalid character 'ü'"},
		{"1 + ü", "column 5: invalid character 'ü'"},
		{"ban.Time # comment", "column 10: \"#\": comments are not supported"},
		{"1 +", "column 4: unexpected end of formula"},
		{"(1", "column 3: unexpected end of formula, expected \")\""},
		{"1)", "column 2: unexpected \")\""},
		{"1 2", "column 3: unexpected \"2\""},
		{"1 if 2", "column 7: unexpected end of formula, expected \"else\""},
		{"1 if 2 else", "column 12: unexpected end of formula"},
		{"not", "column 4: unexpected end of formula"},
		{"1 < ", "column 5: unexpected end of formula"},
		{"1 <> 2", "column 4: unexpected \">\""},
		{"**2", "column 1: unexpected \"**\""},
		{"1 ** * 2", "column 6: unexpected \"*\""},
		{"1 @ 2", "column 3: \"@\": matrix multiplication and decorators are not supported"},
		{"1; 2", "column 2: \";\": only one expression is allowed"},
		{"round(1, 2, 3)", "column 1: round() takes 1 or 2 arguments (3 given)"},
		{"min(1)", "column 1: min() takes at least 2 arguments (1 given)"},
		{"max()", "column 1: max() takes at least 2 arguments (0 given)"},
		{"math.pow(1)", "column 1: math.pow() takes exactly 2 arguments (1 given)"},
		{"abs()", "column 1: abs() takes exactly 1 argument (0 given)"},
		{"float(1, 2)", "column 1: float() takes at most 1 argument (2 given)"},
		{"math.log(1, 2, 3)", "column 1: math.log() takes 1 or 2 arguments (3 given)"},
		{"max(1,,2)", "column 7: unexpected \",\""},
		{"max(,)", "column 5: unexpected \",\""},
		{"abs(1", "column 6: unexpected end of formula, expected \")\""},
		{"1 === 1", "column 5: unexpected \"=\""},
		{"1 =! 2", "column 3: \"=\": assignment is not supported (use == to compare)"},
		{"ban.Time !", "column 10: unexpected \"!\""},
		{"1 + \xff", "column 5: invalid UTF-8 byte 0xff"},
		{"1" + strings.Repeat("0", 1300), "column 1: \"1" + strings.Repeat("0", 1300) + "\": integer literal too large (more than 4096 bits)"},
		{strings.Repeat("(", MaxDepth+1) + "1" + strings.Repeat(")", MaxDepth+1), "column 65: \"(\": expression nested too deeply (more than 64 levels)"},
		{strings.Repeat("abs(", MaxDepth+1) + "1" + strings.Repeat(")", MaxDepth+1), "column 260: \"(\": expression nested too deeply (more than 64 levels)"},
		{strings.Repeat("-", MaxDepth+1) + "1", "column 65: \"-\": expression nested too deeply (more than 64 levels)"},
		{strings.Repeat("not ", MaxDepth+1) + "1", "column 257: \"not\": expression nested too deeply (more than 64 levels)"},
		{"2" + strings.Repeat("**2", MaxDepth+1), "column 194: \"**\": expression nested too deeply (more than 64 levels)"},
		{strings.Repeat("1 if 1 else ", MaxDepth+1) + "1", "column 776: \"else\": expression nested too deeply (more than 64 levels)"},
		{strings.Repeat(" ", MaxSourceLen) + "1", "column 1: formula too long (4097 bytes, at most 4096)"},
	}
	for _, tt := range tests {
		e, err := Compile(tt.src)
		if err == nil {
			t.Errorf("Compile(%q) = %v, want error %q", tt.src, e, tt.want)
			continue
		}
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("Compile(%q): error %T is not *Error", tt.src, err)
		}
		if err.Error() != tt.want {
			t.Errorf("Compile(%q):\n got %q\nwant %q", tt.src, err.Error(), tt.want)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	tests := []struct {
		src     string
		vars    Vars
		want    string
		wantCol int
	}{
		{"ban.Time - 1000", Vars{Time: 600}, "result is negative (-400)", 0},
		{"-0.5", Vars{}, "result is negative (-0.5)", 0},
		{"1e400", Vars{}, "result is infinite (+Inf)", 0},
		{"ban.Time * 1e308 * 10", Vars{Time: 600}, "result is infinite (+Inf)", 0},
		{"1e400 - 1e400", Vars{}, "result is not a number (NaN)", 0},
		{"10**400", Vars{}, "result int too large to convert to float", 0},
		{"ban.Time / ban.Count", Vars{Time: 600}, `column 10: "/": division by zero`, 10},
		{"ban.Time / banFactor", Vars{Time: 600, Factor: 0.0}, `column 10: "/": division by zero`, 10},
		{"ban.Time / banFactor", Vars{Time: 600.5, Factor: 0}, `column 10: "/": float division by zero`, 10},
		{"ban.Time << ban.Count", Vars{Time: 1.5, Count: 1}, `column 10: "<<": unsupported operand type(s) for <<: 'float' and 'int'`, 10},
		{"1 << ban.Count", Vars{Count: -1}, `column 3: "<<": negative shift count`, 3},
		{"2 ** ban.Count", Vars{Count: 5000}, `column 3: "**": integer too large (more than 4096 bits)`, 3},
		{"1 << ban.Count", Vars{Count: 1 << 40}, `column 3: "<<": integer too large (more than 4096 bits)`, 3},
		{"2**10**10", Vars{}, `column 2: "**": integer too large (more than 4096 bits)`, 2},
		{"ban.Time * math.exp(ban.Count)", Vars{Time: 600, Count: 1000}, `column 12: math.exp(): math range error`, 12},
		{"ban.Time * 2.0 ** ban.Count", Vars{Time: 600, Count: 2000}, `column 16: "**": numerical result out of range`, 16},
	}
	for _, tt := range tests {
		e, err := Compile(tt.src)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.src, err)
		}
		got, err := e.Eval(tt.vars)
		if err == nil {
			t.Errorf("%q with %+v = %v, want error %q", tt.src, tt.vars, got, tt.want)
			continue
		}
		var fe *Error
		if !errors.As(err, &fe) {
			t.Fatalf("%q: error %T is not *Error", tt.src, err)
		}
		if err.Error() != tt.want || fe.Col != tt.wantCol {
			t.Errorf("%q with %+v: got %q (col %d), want %q (col %d)", tt.src, tt.vars, err, fe.Col, tt.want, tt.wantCol)
		}
	}
}

func TestErrorFields(t *testing.T) {
	tests := []struct {
		src   string
		col   int
		token string
	}{
		{"ban.Time * foo", 12, "foo"},
		{"ban.Time * lambda: 1", 12, "lambda"},
		{"max(ban.Time, 'x')", 15, "'"},
		{"math.tan(1)", 1, "math.tan"},
		{"ban.Time *", 11, ""},
		{"é + ban.Time", 1, "é"},
		{"(1, é)", 3, ","},
		{"1 / 0", 3, "/"},
		{"round(1.5, 0.5)", 1, "round"},
	}
	for _, tt := range tests {
		var err error
		e, err := Compile(tt.src)
		if err == nil {
			_, err = e.Eval(Vars{})
		}
		var fe *Error
		if !errors.As(err, &fe) {
			t.Fatalf("%q: got %v, want an *Error", tt.src, err)
		}
		if fe.Col != tt.col || fe.Token != tt.token {
			t.Errorf("%q: got col %d token %q, want col %d token %q (%v)", tt.src, fe.Col, fe.Token, tt.col, tt.token, err)
		}
	}
}

func TestVars(t *testing.T) {
	tests := []struct {
		src  string
		vars Vars
		want float64
	}{
		{"ban.Time", Vars{Time: 600}, 600},
		{"banTime", Vars{Time: 600}, 600},
		{"ban.Count", Vars{Count: 7}, 7},
		{"banFactor", Vars{Factor: 1.5}, 1.5},
		// Whole numbers are ints, as fail2ban's bantime "600" is: shifts
		// and bitwise operators work on them.
		{"ban.Time << 1", Vars{Time: 600}, 1200},
		{"banFactor | 4", Vars{Factor: 2}, 6},
		{"ban.Time // 7", Vars{Time: 600}, 85},
		{"ban.Time // 7", Vars{Time: 600.5}, 85},
		// fail2ban's own example of a factor for the exp formula.
		{"ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)", Vars{Time: 600, Count: 1, Factor: 2.0 / 2.885385}, 1200.0014649367868},
		{"-0.0", Vars{}, 0},
	}
	for _, tt := range tests {
		e, err := Compile(tt.src)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.src, err)
		}
		got, err := e.Eval(tt.vars)
		if err != nil {
			t.Errorf("%q with %+v: %v", tt.src, tt.vars, err)
			continue
		}
		if math.Abs(got-tt.want) > 1e-12*tt.want || math.Signbit(got) {
			t.Errorf("%q with %+v = %v, want %v", tt.src, tt.vars, got, tt.want)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		src, want string
	}{
		{formulaShift, "ban.Time * (1 << (ban.Count if ban.Count < 20 else 20)) * banFactor"},
		{formulaExp, "ban.Time * math.exp(float(ban.Count + 1) * banFactor) / math.exp(1 * banFactor)"},
		{"((1))", "1"},
		{"1+(2+3)", "1 + (2 + 3)"},
		{"(1+2)+3", "1 + 2 + 3"},
		{"(1+2)*3", "(1 + 2) * 3"},
		{"2**(3**2)", "2 ** 3 ** 2"},
		{"(2**3)**2", "(2 ** 3) ** 2"},
		{"(-2)**2", "(-2) ** 2"},
		{"-(2**2)", "-2 ** 2"},
		{"2**(-1)", "2 ** -1"},
		{"- - 3", "--3"},
		{"-(1+2)", "-(1 + 2)"},
		{"not (1 and 2)", "not (1 and 2)"},
		{"not (1 < 2)", "not 1 < 2"},
		{"(not 1) == 2", "(not 1) == 2"},
		{"(1 < 2) < 3", "(1 < 2) < 3"},
		{"1<2<3", "1 < 2 < 3"},
		{"1 and (2 and 3)", "1 and (2 and 3)"},
		{"(1 or 2) and 3", "(1 or 2) and 3"},
		{"1 or 2 and 3", "1 or 2 and 3"},
		{"(1 if 2 else 3) if 4 else 5", "(1 if 2 else 3) if 4 else 5"},
		{"1 if (2 if 3 else 4) else 5", "1 if (2 if 3 else 4) else 5"},
		{"1 if 2 else (3 if 4 else 5)", "1 if 2 else 3 if 4 else 5"},
		{"max(1,(2),)", "max(1, 2)"},
		{"0x1F+1_000+.5+1.+1E3+True+math.pi", "0x1F + 1_000 + .5 + 1. + 1E3 + True + math.pi"},
		{"ban . Time", "ban.Time"},
		{"(1|2)&3^4", "(1 | 2) & 3 ^ 4"},
		{"1 - (2 - 3)", "1 - (2 - 3)"},
		{"(1<<2)+3", "(1 << 2) + 3"},
		{"~(1|2)", "~(1 | 2)"},
	}
	for _, tt := range tests {
		e, err := Compile(tt.src)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.src, err)
		}
		if got := e.String(); got != tt.want {
			t.Errorf("Compile(%q).String() = %q, want %q", tt.src, got, tt.want)
		}
		again, err := Compile(e.String())
		if err != nil {
			t.Fatalf("Compile(%q): %v", e.String(), err)
		}
		if again.String() != e.String() {
			t.Errorf("String of %q is not stable: %q then %q", tt.src, e.String(), again.String())
		}
	}
}

// TestBounded runs the most expensive formulas the limits allow; it would
// hang or exhaust memory if a limit were missing.
func TestBounded(t *testing.T) {
	big := "(" + strings.Repeat("9", 1200) + ")"
	tests := []string{
		"2**10**10**10",
		"(2**4000)**(2**4000)",
		"10**" + strings.Repeat("9", 400),
		"1 << (1 << 62)",
		"1 << 4095 >> (1 << 62)",
		strings.TrimSuffix(strings.Repeat(big+"*", 3), "*"),
		strings.Repeat("2**4000//", 100) + "1",
		"round(1.5, " + strings.Repeat("9", 1000) + ")",
		"round(2**4000, -1300)",
		"round(2**4000, -1200)",
		"math.log(2**4095)",
		strings.Repeat("1+", MaxSourceLen/2-1) + "1",
		strings.Repeat("(", MaxDepth-1) + "2**4095" + strings.Repeat("//3*3)", MaxDepth-1),
	}
	for _, src := range tests {
		e, err := Compile(src)
		if err != nil {
			t.Fatalf("Compile(%.40q...): %v", src, err)
		}
		_, _ = e.Eval(Vars{Time: 600, Count: 1 << 62, Factor: 1e308})
	}
}
