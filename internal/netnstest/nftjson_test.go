package netnstest

import (
	"reflect"
	"testing"
)

// TestSetElements reads listings as nft 1.0.6 prints them with -j: plain
// values, prefixes and ranges, with and without timeouts.
func TestSetElements(t *testing.T) {
	tests := []struct {
		name, out string
		want      []SetElement
		bad       bool
	}{
		{"empty set", `{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"set": {"family": "inet", "name": "sshd-v6", "table": "gaol", "type": "ipv6_addr"}}]}`, nil, false},
		{"hash set with timeouts", `{"nftables": [{"set": {"name": "sshd-v6", "elem": [
			{"elem": {"val": "2001:db8:1::", "timeout": 3600, "expires": 3590}}, "2001:db8:2::"]}}]}`,
			[]SetElement{{"2001:db8:1::", true}, {"2001:db8:2::", false}}, false},
		{"interval set", `{"nftables": [{"set": {"name": "sshd-v4-net", "elem": [
			{"prefix": {"addr": "198.51.100.0", "len": 24}},
			{"elem": {"val": {"range": ["192.0.2.1", "192.0.2.6"]}, "timeout": 60}}]}}]}`,
			[]SetElement{{"198.51.100.0/24", false}, {"192.0.2.1-192.0.2.6", true}}, false},
		{"not JSON", `nft: No such file or directory`, nil, true},
		{"unknown element", `{"nftables": [{"set": {"elem": [{"concat": ["a", "b"]}]}}]}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SetElements([]byte(tt.out))
			if (err != nil) != tt.bad {
				t.Fatalf("error %v, want one: %v", err, tt.bad)
			}
			if !tt.bad && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
