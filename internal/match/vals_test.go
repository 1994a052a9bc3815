package match

import (
	"fmt"
	"testing"
)

// TestComplexGroups checks how alt_ and tuple_ groups feed their fields
// (of the failregex and of the prefregex), as fail2ban merges them: an
// alt_ group, in the order of the names, gives its field a value if it
// has none or an empty one; tuple_ groups build the tuple of the field's
// own group and theirs.
func TestComplexGroups(t *testing.T) {
	f := mustCompile(t, Spec{
		PrefRegex: `^(?P<alt_host_1>\w+)?:? ?<F-CONTENT>.+</F-CONTENT>$`,
		FailRegex: []string{
			`^(?P<alt_user_1>a\S*)? ?(?P<alt_user_2>b\S*)? ?(?P<user>u\S*)? ?(?P<alt_user_0>c?)from <HOST>(?: t1=(?P<tuple_t_1>\S+))?(?: t2=(?P<tuple_t_2>\S*))?(?: t=(?P<t>\S+))?(?: v=(?P<tuple_v>\S+))?$`,
		},
	})
	tests := []struct{ line, fields string }{
		{"h: a1 from 192.0.2.1", "map[alt_host_1:h alt_user_0: alt_user_1:a1 host:h ip4:192.0.2.1 t:(None, None, None) user:a1 v:(None, None)]"},
		{"a1 b2 from 192.0.2.1 t1=x", "map[alt_host_1:a1 alt_user_0: alt_user_2:b2 host:a1 ip4:192.0.2.1 t:(None, 'x', None) tuple_t_1:x user:b2 v:(None, None)]"},
		{"b2 u3 from 192.0.2.1 t1=x t2= t=y", "map[alt_host_1:b2 alt_user_0: host:b2 ip4:192.0.2.1 t:('y', 'x', '') tuple_t_1:x tuple_t_2: user:u3 v:(None, None)]"},
		{"u3 cfrom 192.0.2.1 t2=z t=y v=w", "map[alt_host_1:u3 alt_user_0:c host:u3 ip4:192.0.2.1 t:('y', None, 'z') tuple_t_2:z tuple_v:w user:c v:(None, 'w')]"},
		{"a1 b2 u3 from 192.0.2.1 t1=x t2=z v=w", "map[alt_host_1:a1 alt_user_0: alt_user_2:b2 host:a1 ip4:192.0.2.1 t:(None, 'x', 'z') tuple_t_1:x tuple_t_2:z tuple_v:w user:u3 v:(None, 'w')]"},
		{"srv: b2 from 192.0.2.1 t=y", "map[alt_host_1:srv alt_user_0: alt_user_2:b2 host:srv ip4:192.0.2.1 t:('y', None, None) user:b2 v:(None, None)]"},
	}
	for _, tt := range tests {
		m, err := f.NewMatcher(MatcherOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fs := m.Match(Line{Raw: tt.line, Text: tt.line})
		if len(fs) != 1 {
			t.Fatalf("%q: %d failures", tt.line, len(fs))
		}
		if got := fmt.Sprint(fs[0].Fields); got != tt.fields {
			t.Errorf("%q: fields\n%s, want\n%s", tt.line, got, tt.fields)
		}
	}
}
