package netprefix

import (
	"math/big"
	"math/rand/v2"
	"net/netip"
	"testing"
)

func (u U128) big() *big.Int {
	x := new(big.Int).SetUint64(u.Hi)
	return x.Lsh(x, 64).Or(x, new(big.Int).SetUint64(u.Lo))
}

// TestU128 checks the arithmetic against math/big, and the conversions
// against netip, on random numbers and on the edges.
func TestU128(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	max := U128{^uint64(0), ^uint64(0)}
	two128 := new(big.Int).Lsh(big.NewInt(1), 128)
	wrap := func(x *big.Int) *big.Int { return x.Mod(x, two128) }
	nums := []U128{{}, {Lo: 1}, {Lo: ^uint64(0)}, {Hi: 1}, max}
	for range 200 {
		nums = append(nums, U128{r.Uint64(), r.Uint64()}, U128{0, r.Uint64()})
	}
	for _, u := range nums {
		for _, v := range nums[:20] {
			if got, want := u.Add(v).big(), wrap(new(big.Int).Add(u.big(), v.big())); got.Cmp(want) != 0 {
				t.Fatalf("%v + %v = %v, want %v", u, v, got, want)
			}
			if got, want := u.Sub(v).big(), wrap(new(big.Int).Sub(u.big(), v.big())); got.Cmp(want) != 0 {
				t.Fatalf("%v - %v = %v, want %v", u, v, got, want)
			}
			if got, want := u.Cmp(v), u.big().Cmp(v.big()); got != want || u.Less(v) != (want < 0) {
				t.Fatalf("%v cmp %v = %d, want %d", u, v, got, want)
			}
		}
		next, over := u.AddOne()
		if next != u.Add(U128{Lo: 1}) || over != (u == max) {
			t.Fatalf("%v.AddOne() = %v, %v", u, next, over)
		}
		if got, want := u.TrailingZeros(), int(u.big().TrailingZeroBits()); u != (U128{}) && got != want || u == (U128{}) && got != 128 {
			t.Fatalf("%v.TrailingZeros() = %d, want %d", u, got, want)
		}
		a := u.Addr16()
		if From16(a) != u {
			t.Fatalf("From16(%v.Addr16()) = %v", u, From16(a))
		}
		for n := 0; n <= 128; n++ {
			p, _ := a.Prefix(n)
			if got := u.Masked(n).Addr16(); got != p.Addr() {
				t.Fatalf("%v.Masked(%d) = %v, want %v", a, n, got, p.Addr())
			}
			want := new(big.Int).Lsh(big.NewInt(1), uint(128-n))
			if got := HostMask(n).big(); got.Cmp(want.Sub(want, big.NewInt(1))) != 0 {
				t.Fatalf("HostMask(%d) = %v", n, got)
			}
		}
	}
	for n := range 128 {
		if got, want := Pow2(n).big(), new(big.Int).Lsh(big.NewInt(1), uint(n)); got.Cmp(want) != 0 {
			t.Fatalf("Pow2(%d) = %v", n, got)
		}
	}
	for _, s := range []string{"192.0.2.1", "0.0.0.0", "255.255.255.255", "2001:db8::1", "::ffff:192.0.2.1"} {
		a := netip.MustParseAddr(s)
		if got := FromAddr(a).Addr(a.Is4()); got != a {
			t.Errorf("FromAddr(%v).Addr = %v", a, got)
		}
		if a.Is4() && FromAddr(a).Hi != 0 || a.Is4() && FromAddr(a).Lo>>32 != 0 {
			t.Errorf("FromAddr(%v) = %v: want the low 32 bits", a, FromAddr(a))
		}
		if got := From16(a).Addr16(); got != netip.AddrFrom16(a.As16()) {
			t.Errorf("From16(%v).Addr16 = %v", a, got)
		}
	}
}
