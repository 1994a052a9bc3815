package firewall

import (
	"slices"
	"testing"
)

func TestMergePorts(t *testing.T) {
	pr := func(a, b uint16) PortRange { return PortRange{From: a, To: b} }
	tests := []struct {
		in, want []PortRange
	}{
		{nil, nil},
		{[]PortRange{pr(22, 22)}, []PortRange{pr(22, 22)}},
		{[]PortRange{pr(443, 443), pr(80, 80)}, []PortRange{pr(80, 80), pr(443, 443)}},
		{[]PortRange{pr(20, 21), pr(22, 22), pr(21, 30)}, []PortRange{pr(20, 30)}},
		{[]PortRange{pr(80, 90), pr(85, 100), pr(101, 101), pr(200, 300)}, []PortRange{pr(80, 101), pr(200, 300)}},
		{[]PortRange{pr(0, 65535)}, nil},
		{[]PortRange{pr(0, 100), pr(101, 65535)}, nil},
		{[]PortRange{pr(65535, 65535), pr(65534, 65534)}, []PortRange{pr(65534, 65535)}},
	}
	for _, tt := range tests {
		if got := MergePorts(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("MergePorts(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
