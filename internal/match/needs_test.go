package match

import (
	"slices"
	"testing"
)

// TestNeeds checks which filters get a set of literals that lets lines
// skip every search, and that the sshd filter's set leaves out the lines
// it should.
func TestNeeds(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want []string // nil: no set
	}{
		{"literals", Spec{FailRegex: []string{`^Failed \S+ from <HOST>`, `^[iI]nvalid user \S+ from <HOST>`}},
			[]string{"Failed ", "Invalid user ", "invalid user "}},
		{"an ignoreregex counts", Spec{FailRegex: []string{`^Failed from <HOST>`}, IgnoreRegex: []string{`^Failed from 192\.0\.2\.1$`}},
			[]string{"Failed from "}},
		{"a failregex without literal", Spec{FailRegex: []string{`^Failed from <HOST>`, `^<HOST> \S+$`}}, nil},
		{"an ignoreregex without literal", Spec{FailRegex: []string{`^Failed from <HOST>`}, IgnoreRegex: []string{`\d+`}}, nil},
		{"too short", Spec{FailRegex: []string{`^Failed from <HOST>`, `^a <HOST>`}}, nil},
		{"text after a newline dropped", Spec{FailRegex: []string{`Failed\nagain from <HOST>`}, MaxLines: 1}, []string{"Failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Compile(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if f.needs == nil {
				if tt.want != nil {
					t.Fatalf("no literals, want %q", tt.want)
				}
				return
			}
			if got := f.needs.Literals(); !slices.Equal(got, tt.want) {
				t.Errorf("literals %q, want %q", got, tt.want)
			}
		})
	}
}

// TestNeedsSkipsLines runs gaol's sshd filter over the benchmark's mix of
// lines with and without its literals: every line gives the same result,
// and the benign lines are left out before any search.
func TestNeedsSkipsLines(t *testing.T) {
	f := mustCompile(t, loadFilter(t, "sshd"))
	if f.needs == nil {
		t.Fatal("the sshd filter has no literals")
	}
	all := *f
	all.needs = nil
	d := newSampleDetector()
	skipped := 0
	for _, raw := range genAuthLog(1600) {
		l := Prepare(raw, d)
		if got, want := f.Match(l), all.Match(l); got != want {
			t.Errorf("%q: %+v with the literals, %+v without", raw, got, want)
		}
		if f.needs.In(l.Text) {
			continue
		}
		skipped++
		if s := all.Search(l, true); !s.Empty() {
			t.Errorf("%q: left out, but a search finds %+v", raw, s)
		}
	}
	// Only the lines of the four failure templates have a literal of
	// gaol's sshd filter.
	if want := 1600 * 12 / 16; skipped != want {
		t.Errorf("%d lines skipped, want %d", skipped, want)
	}
}
