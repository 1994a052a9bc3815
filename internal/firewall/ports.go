package firewall

import (
	"cmp"
	"slices"
)

// MergePorts sorts port ranges and merges those that overlap or touch. It
// returns nil when they cover every port.
func MergePorts(in []PortRange) []PortRange {
	rs := slices.Clone(in)
	slices.SortFunc(rs, func(a, b PortRange) int { return cmp.Compare(a.From, b.From) })
	var out []PortRange
	for _, r := range rs {
		if n := len(out); n > 0 && uint32(r.From) <= uint32(out[n-1].To)+1 {
			out[n-1].To = max(out[n-1].To, r.To)
			continue
		}
		out = append(out, r)
	}
	if len(out) == 1 && out[0] == (PortRange{From: 0, To: 65535}) {
		return nil
	}
	return out
}
