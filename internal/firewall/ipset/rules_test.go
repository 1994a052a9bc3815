package ipset

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gaol-project/gaol/internal/firewall"
)

var update = flag.Bool("update", false, "rewrite golden files")

func pr(from, to uint16) firewall.PortRange { return firewall.PortRange{From: from, To: to} }

// goldenJails are the jails of the golden files: ports, ranges, protocols
// and names that need rewriting.
var goldenJails = []firewall.Jail{
	{Name: "sshd", Ports: []firewall.PortRange{pr(22, 22)}, Protocol: "tcp"},
	{Name: "nginx-http-auth", Ports: []firewall.PortRange{pr(80, 80), pr(443, 443)}},
	{Name: "vsftpd", Ports: []firewall.PortRange{pr(20, 21)}, Protocol: "tcp"},
	{Name: "named.refused", Ports: []firewall.PortRange{pr(53, 53)}, Protocol: "udp"},
	{Name: "recidive", Protocol: "all"},
	{Name: "everything-tcp", Protocol: "tcp"},
	{Name: "high", Ports: []firewall.PortRange{pr(8080, 8081), pr(8081, 8090), pr(65000, 65535), pr(1, 1)}, Protocol: "sctp"},
	{Name: "many", Ports: []firewall.PortRange{
		pr(1, 1), pr(3, 3), pr(5, 5), pr(7, 7), pr(9, 9), pr(11, 11), pr(13, 13), pr(15, 16),
		pr(20, 20), pr(22, 22), pr(24, 24), pr(26, 26), pr(28, 28), pr(30, 30), pr(32, 40),
	}, Protocol: "udplite"},
	{Name: "my jail/é"},
	{Name: "a-jail-name-much-too-long-for-ipset"},
}

func TestChainRulesGolden(t *testing.T) {
	b := &Backend{chain: "gaol"}
	states, err := b.compile(goldenJails)
	if err != nil {
		t.Fatal(err)
	}
	got := "# iptables-restore\n" + chainRules("gaol", states, false) +
		"# ip6tables-restore\n" + chainRules("gaol", states, true)
	golden(t, "restore.golden", got)
	for _, js := range states {
		for _, set := range []string{js.v4, js.v6, js.v4 + tempSuffix} {
			if len(set) > maxNameLen {
				t.Errorf("set name %q is longer than %d bytes", set, maxNameLen)
			}
			if !b.owned(set) {
				t.Errorf("set %q is not recognised as the backend's", set)
			}
		}
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to rewrite):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestMultiportLists(t *testing.T) {
	tests := []struct {
		ports []firewall.PortRange
		want  []string
	}{
		{nil, nil},
		{[]firewall.PortRange{pr(22, 22)}, []string{"22"}},
		{[]firewall.PortRange{pr(20, 21), pr(80, 80)}, []string{"20:21,80"}},
		// 15 slots per list; a range takes two.
		{
			[]firewall.PortRange{pr(1, 2), pr(4, 5), pr(7, 8), pr(10, 11), pr(13, 14), pr(16, 17), pr(19, 20), pr(22, 22), pr(24, 25)},
			[]string{"1:2,4:5,7:8,10:11,13:14,16:17,19:20,22", "24:25"},
		},
	}
	for _, tt := range tests {
		if got := multiportLists(tt.ports); !slices.Equal(got, tt.want) {
			t.Errorf("multiportLists(%v) = %q, want %q", tt.ports, got, tt.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"192.0.2.1/32", []string{"192.0.2.1/32"}},
		{"192.0.2.77/24", []string{"192.0.2.0/24"}},
		{"::ffff:192.0.2.1/128", []string{"192.0.2.1/32"}},
		{"::ffff:192.0.2.0/120", []string{"192.0.2.0/24"}},
		{"2001:db8::1/64", []string{"2001:db8::/64"}},
		{"0.0.0.0/0", []string{"0.0.0.0/1", "128.0.0.0/1"}},
		{"::/0", []string{"::/1", "8000::/1"}},
	}
	for _, tt := range tests {
		ps, ok := normalize(netip.MustParsePrefix(tt.in))
		if !ok {
			t.Errorf("normalize(%s) failed", tt.in)
			continue
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.String())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("normalize(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if _, ok := normalize(netip.Prefix{}); ok {
		t.Error("normalize accepted the zero prefix")
	}
}

func TestSetBaseName(t *testing.T) {
	tests := []struct{ jail, want string }{
		{"sshd", "sshd"},
		{"nginx-http-auth", "nginx-http-auth"},
		{"named.refused", "named.refused"},
		{"my jail/é", "my_jail___"},
		{"a-jail-name-much-too-long-for-ipset", "a-jail-name-"},
	}
	for _, tt := range tests {
		got := setBaseName("gaol", tt.jail)
		if !strings.HasPrefix(got, tt.want) {
			t.Errorf("setBaseName(%q) = %q, want it to start with %q", tt.jail, got, tt.want)
		}
		if got != tt.jail && len(got) != len(tt.want)+9 && len(got) > 21 {
			t.Errorf("setBaseName(%q) = %q: too long", tt.jail, got)
		}
	}
	if a, b := setBaseName("gaol", "x/1"), setBaseName("gaol", "x/2"); a == b {
		t.Errorf("distinct jails share the set name %q", a)
	}
}

func TestOwned(t *testing.T) {
	b := &Backend{chain: "gaol"}
	for name, want := range map[string]bool{
		"gaol-sshd-v4":   true,
		"gaol-sshd-v6":   true,
		"gaol-sshd-v6-r": true,
		"gaol-a-b-v4":    true,
		"gaol-v4":        false,
		"gaol--v4":       false,
		"f2b-sshd":       false,
		"gaol-sshd":      false,
		"other-sshd-v4":  false,
	} {
		if got := b.owned(name); got != want {
			t.Errorf("owned(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestCheckName(t *testing.T) {
	for name, ok := range map[string]bool{
		"gaol": true, "gaol_2": true, "": false, "INPUT": false, "has space": false, "waytoolongname": false,
	} {
		if err := checkName(name); (err == nil) != ok {
			t.Errorf("checkName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}
