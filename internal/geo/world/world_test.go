package world

import (
	"math"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		code, name string
		lat, lon   float64 // the centroid, to within two degrees
	}{
		{"US", "United States", 39.5, -99},
		{"us", "United States", 39.5, -99},
		{"FR", "France", 46.6, 2.4}, // metropolitan France
		{"RU", "Russia", 61.7, 99},  // not pulled across the antimeridian
		{"FJ", "Fiji", -17.8, 178},
		{"SG", "Singapore", 1.4, 103.8},
		{"HK", "Hong Kong", 22.4, 114.2},
		{"RE", "Reunion", -21.1, 55.5}, // placed by hand: Natural Earth folds it into France
		{"XK", "Kosovo", 42.6, 20.9},
	}
	for _, tc := range tests {
		c, ok := Lookup(tc.code)
		if !ok || c.Name != tc.name || !c.HasCoords || math.Abs(c.Lat-tc.lat) > 2 || math.Abs(c.Lon-tc.lon) > 2 {
			t.Errorf("Lookup(%q) = %+v, %v; want %s near %v, %v", tc.code, c, ok, tc.name, tc.lat, tc.lon)
		}
	}
	if _, ok := Lookup("ZZ"); ok {
		t.Error("Lookup(ZZ) found a country")
	}
	if Name("QQ") != "QQ" || Name("DE") != "Germany" {
		t.Errorf("Name: %q, %q", Name("QQ"), Name("DE"))
	}
	n, placed := 0, 0
	for _, c := range countries {
		n++
		if c.HasCoords {
			placed++
		}
	}
	if n < 249 || placed != n {
		t.Errorf("%d countries, %d with a centroid; want every one of at least 249", n, placed)
	}
}

func TestShapes(t *testing.T) {
	shapes := Shapes()
	if len(shapes) < 170 {
		t.Fatalf("%d shapes, want at least 170", len(shapes))
	}
	seen := map[string]bool{}
	for _, s := range shapes {
		if seen[s.Code] {
			t.Errorf("%s twice", s.Code)
		}
		seen[s.Code] = true
		if !strings.HasPrefix(s.Path, "M") || !strings.HasSuffix(s.Path, "z") {
			t.Errorf("%s: path %.20q...", s.Code, s.Path)
		}
		if _, ok := Lookup(s.Code); !ok {
			t.Errorf("shape of unknown country %s", s.Code)
		}
	}
	for _, code := range []string{"US", "CN", "RU", "BR", "DE", "IN", "AU", "XK"} {
		if !seen[code] {
			t.Errorf("no shape for %s", code)
		}
	}
	if seen["AQ"] {
		t.Error("Antarctica is on the map")
	}
}

func TestProject(t *testing.T) {
	tests := []struct {
		lat, lon, x, y float64
	}{
		{North, -180, 179.7, 0},
		{0, 0, Width / 2, 244.3},
		{0, -180, 0, 244.3},
		{0, 180, Width, 244.3},
		{South, 180, 873.1, Height},
	}
	for _, tc := range tests {
		x, y := Project(tc.lat, tc.lon)
		if math.Abs(x-tc.x) > 0.5 || math.Abs(y-tc.y) > 0.5 {
			t.Errorf("Project(%v, %v) = %.1f, %.1f; want %.1f, %.1f", tc.lat, tc.lon, x, y, tc.x, tc.y)
		}
	}
	if Height != 428 {
		t.Errorf("Height = %v", Height)
	}
	if o := Outline(); !strings.HasPrefix(o, "M179.7 0.0L") || !strings.HasSuffix(o, "Z") {
		t.Errorf("Outline() = %.30q...", o)
	}
}
