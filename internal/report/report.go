// Package report answers "who is attacking my server?": it groups ban
// records by country, AS, organisation, subnet, address, jail, category,
// day or hour, ranks the groups, and renders the result as an aligned text
// table, TSV, CSV, JSON or a self-contained HTML page with a world map and
// a chart of bans over time.
//
// It knows nothing of where the records come from (the store, or a scan of
// raw logs); callers build Records with their geography already filled in.
package report

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/gaol-project/gaol/internal/geo"
)

// Record is one ban as the report sees it.
type Record struct {
	Jail     string
	Prefix   netip.Prefix // a single address is a /32 or /128
	Start    time.Time
	End      time.Time // zero = permanent
	Failures int
	Category string // e.g. "ssh", "web", "mail"; "" = none
	Geo      geo.Info
}

// Dimensions a report can group by.
const (
	ByCountry  = "country"
	ByASN      = "asn"
	ByOrg      = "org"
	BySubnet   = "subnet" // /24 for IPv4, /48 for IPv6
	ByIP       = "ip"
	ByJail     = "jail"
	ByCategory = "category"
	ByDay      = "day"
	ByHour     = "hour"
)

// Dimensions lists the values Options.By accepts.
var Dimensions = []string{ByCountry, ByASN, ByOrg, BySubnet, ByIP, ByJail, ByCategory, ByDay, ByHour}

// What a report counts.
const (
	CountAddresses = "addresses" // distinct addresses (or banned prefixes)
	CountBans      = "bans"
)

// Options selects and shapes a report.
type Options struct {
	Since    time.Time      // only bans that started at or after it; zero = all
	Jail     string         // only this jail; "" = all
	By       string         // one of Dimensions; "" = country
	Top      int            // keep this many rows and sum the rest as "other"; 0 = all
	Count    string         // CountAddresses (default) or CountBans
	Now      time.Time      // when the report is made (shown in it)
	Location *time.Location // for days and hours; nil = UTC
}

// Row is one group of a report.
type Row struct {
	Rank    int     `json:"rank"`            // 1 = largest; 0 for the "other" row
	Key     string  `json:"key"`             // machine value: "CN", "AS4134", "192.0.2.0/24"; "" = unknown
	Label   string  `json:"label,omitempty"` // human name when it adds to Key: "China"
	Count   int     `json:"count"`
	Percent float64 `json:"percent"` // of Table.Total
	Other   bool    `json:"other,omitempty"`
}

// Table is an aggregated report.
type Table struct {
	By        string    `json:"by"`
	Count     string    `json:"count"`
	Jail      string    `json:"jail,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	Generated time.Time `json:"generated,omitzero"`
	Addresses int       `json:"addresses"` // distinct addresses in the selection
	Bans      int       `json:"bans"`      // bans in the selection
	Total     int       `json:"total"`     // Addresses or Bans, whichever is counted
	Rows      []Row     `json:"rows"`
}

func (o Options) normalize() (Options, error) {
	if o.By == "" {
		o.By = ByCountry
	}
	if !slices.Contains(Dimensions, o.By) {
		return o, fmt.Errorf("unknown grouping %q (want one of %v)", o.By, Dimensions)
	}
	if o.Count == "" {
		o.Count = CountAddresses
	}
	if o.Count != CountAddresses && o.Count != CountBans {
		return o, fmt.Errorf("unknown count %q (want %s or %s)", o.Count, CountAddresses, CountBans)
	}
	if o.Top < 0 {
		return o, fmt.Errorf("negative top %d", o.Top)
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	return o, nil
}

// Select returns the records the options select, in their original order.
func Select(records []Record, opts Options) []Record {
	var out []Record
	for i := range records {
		if opts.selects(&records[i]) {
			out = append(out, records[i])
		}
	}
	return out
}

func (o Options) selects(r *Record) bool {
	return (o.Since.IsZero() || !r.Start.Before(o.Since)) && (o.Jail == "" || r.Jail == o.Jail)
}

// AddressKey names the address (or banned prefix) of a record.
func AddressKey(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.Masked().String()
}

// Subnet returns the /24 (IPv4) or /48 (IPv6) around p, or p itself when
// it is wider.
func Subnet(p netip.Prefix) netip.Prefix {
	bits := 24
	if p.Addr().Is6() && !p.Addr().Is4In6() {
		bits = 48
	}
	if p.Bits() < bits {
		return p.Masked()
	}
	s, _ := p.Addr().Unmap().Prefix(bits)
	return s
}

// group is one key's tally.
type group struct {
	key, label string
	addrs      int // distinct
	bans       int
	cut        bool // summed into "other"
}

// member is one address in one group.
type member struct {
	g *group
	a netip.Prefix
}

// addressOf identifies the address (or banned prefix) of a record.
func addressOf(p netip.Prefix) netip.Prefix {
	if p.IsSingleIP() {
		return p
	}
	return p.Masked()
}

// keyOf returns a record's group key and label under a dimension.
func keyOf(r *Record, by string, loc *time.Location) (key, label string) {
	switch by {
	case ByCountry:
		return r.Geo.Country, r.Geo.CountryName
	case ByASN:
		if r.Geo.ASN == 0 {
			return "", ""
		}
		return "AS" + strconv.FormatUint(uint64(r.Geo.ASN), 10), r.Geo.Org
	case ByOrg:
		return r.Geo.Org, ""
	case BySubnet:
		return Subnet(r.Prefix).String(), ""
	case ByIP:
		label := r.Geo.Country
		if r.Geo.ASN != 0 {
			label = joinNonEmpty(label, "AS"+strconv.FormatUint(uint64(r.Geo.ASN), 10), r.Geo.Org)
		}
		return AddressKey(r.Prefix), label
	case ByJail:
		return r.Jail, ""
	case ByCategory:
		return r.Category, ""
	case ByDay:
		return r.Start.In(loc).Format("2006-01-02"), ""
	case ByHour:
		return r.Start.In(loc).Format("2006-01-02 15:00"), ""
	}
	return "", ""
}

func joinNonEmpty(parts ...string) string {
	out := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if out != "" {
			out += " "
		}
		out += p
	}
	return out
}

// unknown sorts groups without a key after the others.
func unknown(key string) int {
	if key == "" {
		return 1
	}
	return 0
}

// isTime reports whether a dimension is a time series, whose rows are in
// time order and cut to the most recent.
func isTime(by string) bool { return by == ByDay || by == ByHour }

// Aggregate groups the selected records and ranks the groups.
//
// Rows are ordered by count, largest first (ties by key, unknown last), except for days
// and hours, which are in time order. With Top set, the rows past it (for
// days and hours: the earliest) are summed into one "other" row. Percent is
// of all distinct addresses (or bans) selected: an address banned in two
// jails counts in both, so by jail, category, day or hour the percentages
// may add up to more than 100.
func Aggregate(records []Record, opts Options) (*Table, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	t := &Table{By: opts.By, Count: opts.Count, Jail: opts.Jail, Since: opts.Since, Generated: opts.Now}
	all := map[netip.Prefix]struct{}{}
	groups := map[string]*group{}
	members := make(map[member]struct{}, len(records))
	for i := range records {
		r := &records[i]
		if !opts.selects(r) {
			continue
		}
		t.Bans++
		a := addressOf(r.Prefix)
		all[a] = struct{}{}
		k, label := keyOf(r, opts.By, opts.Location)
		g := groups[k]
		if g == nil {
			g = &group{key: k}
			groups[k] = g
		}
		if g.label == "" {
			g.label = label
		}
		if _, ok := members[member{g, a}]; !ok {
			members[member{g, a}] = struct{}{}
			g.addrs++
		}
		g.bans++
	}
	t.Addresses = len(all)
	t.Total = t.Addresses
	if opts.Count == CountBans {
		t.Total = t.Bans
	}
	count := func(g *group) int {
		if opts.Count == CountBans {
			return g.bans
		}
		return g.addrs
	}

	list := make([]*group, 0, len(groups))
	for _, g := range groups {
		list = append(list, g)
	}
	// Rank by count.
	slices.SortFunc(list, func(a, b *group) int {
		return cmp.Or(cmp.Compare(count(b), count(a)), cmp.Compare(unknown(a.key), unknown(b.key)), cmp.Compare(a.key, b.key))
	})
	rank := map[*group]int{}
	for i, g := range list {
		rank[g] = i + 1
	}
	if isTime(opts.By) {
		slices.SortFunc(list, func(a, b *group) int { return cmp.Compare(b.key, a.key) }) // newest first, for cutting
	}
	kept, cut := list, []*group(nil)
	if opts.Top > 0 && len(list) > opts.Top {
		kept, cut = list[:opts.Top], list[opts.Top:]
	}
	if isTime(opts.By) {
		slices.Reverse(kept) // oldest first
	}
	pct := func(n int) float64 {
		if t.Total == 0 {
			return 0
		}
		return math.Round(float64(n)*10000/float64(t.Total)) / 100
	}
	for _, g := range kept {
		n := count(g)
		t.Rows = append(t.Rows, Row{Rank: rank[g], Key: g.key, Label: g.label, Count: n, Percent: pct(n)})
	}
	if len(cut) > 0 {
		other := &group{}
		for _, g := range cut {
			g.cut = true
			other.bans += g.bans
		}
		seen := map[netip.Prefix]struct{}{}
		for m := range members {
			if _, ok := seen[m.a]; m.g.cut && !ok {
				seen[m.a] = struct{}{}
				other.addrs++
			}
		}
		n := count(other)
		row := Row{Key: "other", Label: fmt.Sprintf("%d more", len(cut)), Count: n, Percent: pct(n), Other: true}
		if isTime(opts.By) {
			row.Key = "earlier"
			t.Rows = append([]Row{row}, t.Rows...)
		} else {
			t.Rows = append(t.Rows, row)
		}
	}
	if t.Rows == nil {
		t.Rows = []Row{}
	}
	return t, nil
}

// Display returns how a row's group reads in a table: "CN China",
// "AS4134 Chinanet", "unknown".
func (r Row) Display() string {
	switch {
	case r.Key == "" && r.Label == "":
		return "unknown"
	case r.Key == "":
		return r.Label
	case r.Label == "":
		return r.Key
	}
	return r.Key + " " + r.Label
}
