package geo

import (
	"bytes"
	"encoding/binary"
	"math"
	"net/netip"
	"sort"
	"testing"
)

// A minimal MaxMind DB writer for tests (format 2.0, IPv6 tree with IPv4
// at ::/96, 24-bit records), enough to build a small City database.

type mmdbMap map[string]any

type mmdbUint16 uint16

type mmdbNetwork struct {
	prefix netip.Prefix
	data   mmdbMap
}

func writeMMDB(t *testing.T, nets []mmdbNetwork) []byte {
	t.Helper()
	const empty = -1
	type node struct{ rec [2]int } // >= 0: node; empty; <= -2: data -(k+2)
	nodes := []node{{rec: [2]int{empty, empty}}}
	var data bytes.Buffer
	var offsets []int
	for k, n := range nets {
		offsets = append(offsets, data.Len())
		mmdbEncode(&data, n.data)
		p := n.prefix.Masked()
		bits, length := p.Addr().As16(), p.Bits()
		if p.Addr().Is4() {
			length += 96
			bits = netip.AddrFrom16([16]byte{}).As16()
			a4 := p.Addr().As4()
			copy(bits[12:], a4[:])
		}
		cur := 0
		for i := 0; i < length; i++ {
			bit := (bits[i/8] >> (7 - i%8)) & 1
			if i == length-1 {
				nodes[cur].rec[bit] = -(k + 2)
				break
			}
			next := nodes[cur].rec[bit]
			if next < 0 {
				if next != empty {
					t.Fatalf("mmdb writer: overlapping networks at %v", n.prefix)
				}
				nodes = append(nodes, node{rec: [2]int{empty, empty}})
				next = len(nodes) - 1
				nodes[cur].rec[bit] = next
			}
			cur = next
		}
	}
	count := len(nodes)
	var out bytes.Buffer
	put24 := func(v int) { out.Write([]byte{byte(v >> 16), byte(v >> 8), byte(v)}) }
	for _, n := range nodes {
		for _, r := range n.rec {
			switch {
			case r == empty:
				put24(count)
			case r >= 0:
				put24(r)
			default:
				put24(count + 16 + offsets[-r-2])
			}
		}
	}
	out.Write(make([]byte, 16))
	out.Write(data.Bytes())
	out.WriteString("\xab\xcd\xefMaxMind.com")
	mmdbEncode(&out, mmdbMap{
		"binary_format_major_version": mmdbUint16(2),
		"binary_format_minor_version": mmdbUint16(0),
		"build_epoch":                 uint64(1767225600),
		"database_type":               "GaolTest-City",
		"description":                 mmdbMap{"en": "gaol test city database"},
		"ip_version":                  mmdbUint16(6),
		"languages":                   []any{"en"},
		"node_count":                  uint32(count),
		"record_size":                 mmdbUint16(24),
	})
	return out.Bytes()
}

func mmdbControl(b *bytes.Buffer, typ, size int) {
	if size >= 29 {
		panic("mmdb test writer: value too large")
	}
	if typ <= 7 {
		b.WriteByte(byte(typ<<5 | size))
		return
	}
	b.WriteByte(byte(size))
	b.WriteByte(byte(typ - 7))
}

func mmdbEncode(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case string:
		mmdbControl(b, 2, len(v))
		b.WriteString(v)
	case float64:
		mmdbControl(b, 3, 8)
		binary.Write(b, binary.BigEndian, math.Float64bits(v))
	case mmdbUint16:
		mmdbControl(b, 5, 2)
		binary.Write(b, binary.BigEndian, uint16(v))
	case uint32:
		mmdbControl(b, 6, 4)
		binary.Write(b, binary.BigEndian, v)
	case uint64:
		mmdbControl(b, 9, 8)
		binary.Write(b, binary.BigEndian, v)
	case mmdbMap:
		mmdbControl(b, 7, len(v))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			mmdbEncode(b, k)
			mmdbEncode(b, v[k])
		}
	case []any:
		mmdbControl(b, 11, len(v))
		for _, e := range v {
			mmdbEncode(b, e)
		}
	default:
		panic("mmdb test writer: unsupported type")
	}
}

func cityData(city, country string, lat, lon float64) mmdbMap {
	return mmdbMap{
		"city":     mmdbMap{"names": mmdbMap{"en": city}},
		"country":  mmdbMap{"iso_code": country, "names": mmdbMap{"en": country}},
		"location": mmdbMap{"latitude": lat, "longitude": lon},
	}
}
