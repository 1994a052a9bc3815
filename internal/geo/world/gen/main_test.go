package main

import (
	"math"
	"strings"
	"testing"
)

func TestDec(t *testing.T) {
	for in, want := range map[int]string{0: "0", 12: "1.2", 10: "1", 5: ".5", -5: "-.5", -123: "-12.3"} {
		if got := dec(in); got != want {
			t.Errorf("dec(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestCutAntimeridian(t *testing.T) {
	// A square from 170E to 170W, as spherical TopoJSON gives it.
	ring := [][2]float64{{170, 60}, {-170, 60}, {-170, 50}, {170, 50}, {170, 60}}
	pieces := cutAntimeridian(ring)
	if len(pieces) != 2 {
		t.Fatalf("%d pieces, want 2", len(pieces))
	}
	for i, p := range pieces {
		for _, pt := range p {
			if pt[0] < -180 || pt[0] > 180 {
				t.Errorf("piece %d has longitude %v", i, pt[0])
			}
		}
	}
	// A ring that does not cross stays whole.
	if got := cutAntimeridian([][2]float64{{0, 0}, {10, 0}, {10, 10}, {0, 0}}); len(got) != 1 || len(got[0]) != 4 {
		t.Errorf("plain ring cut into %v", got)
	}
}

func TestRingCentroid(t *testing.T) {
	area, lon, lat := ringCentroid([][2]float64{{170, 60}, {-170, 60}, {-170, 50}, {170, 50}})
	if math.Abs(area-200) > 1e-9 || math.Abs(math.Abs(lon)-180) > 1e-9 || math.Abs(lat-55) > 1e-9 {
		t.Errorf("ringCentroid = %v, %v, %v; want 200, ±180, 55", area, lon, lat)
	}
}

func TestWriteRing(t *testing.T) {
	var b strings.Builder
	writeRing(&b, [][2]float64{{0, 0}, {1, 0}, {1, 1}, {0, 0}})
	if got := b.String(); !strings.HasPrefix(got, "M480 244.3l") || !strings.HasSuffix(got, "z") {
		t.Errorf("writeRing = %q", got)
	}
}
