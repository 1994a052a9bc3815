package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gaol-project/gaol/internal/control"
	"github.com/gaol-project/gaol/internal/daemon"
	"github.com/gaol-project/gaol/internal/geo"
	"github.com/gaol-project/gaol/internal/report"
	"github.com/gaol-project/gaol/internal/store"
)

// reverseResolver looks up reverse DNS names for inspect --rdns (tests
// replace it).
var reverseResolver geo.ReverseResolver = net.DefaultResolver

// rdnsTimeout bounds inspect's reverse DNS lookup.
const rdnsTimeout = 3 * time.Second

// inspection is everything gaol knows about one address.
type inspection struct {
	Addr string `json:"addr"`
	// Geo is where the address is: the built-in data and the city
	// database now, completed by what was stored with its bans.
	Geo geo.Info `json:"geo"`
	// Banned says whether a ban holds the address now; Active lists them.
	Banned bool          `json:"banned"`
	Active []control.Ban `json:"active"`
	// Jails sums up the bans of each jail.
	Jails      []jailRecord `json:"jails"`
	Categories []string     `json:"categories"`
	// History holds every ban whose prefix contains the address, newest
	// first.
	History []control.Ban `json:"history"`
	// Subnet is the /24 (IPv4) or /48 (IPv6) of the address; Neighbours
	// are the other addresses and prefixes in it banned now or before.
	Subnet     string      `json:"subnet"`
	Neighbours []neighbour `json:"neighbours"`
}

// jailRecord is the record of an address in one jail.
type jailRecord struct {
	Jail     string    `json:"jail"`
	Bans     int       `json:"bans"`
	Failures int       `json:"failures"`
	FirstBan time.Time `json:"first_ban"`
	LastBan  time.Time `json:"last_ban"`
	// SubnetBans counts the bans of a subnet (wider than /32 or /64) that
	// held the address; their failures are not counted in Failures.
	SubnetBans int `json:"subnet_bans,omitempty"`
	// Matches are the log lines of the latest ban of the address itself.
	Matches []string `json:"matches,omitempty"`
}

// neighbour is another banned address (or prefix) of the subnet.
type neighbour struct {
	Prefix  string    `json:"prefix"`
	Jails   []string  `json:"jails"`
	Bans    int       `json:"bans"`
	LastBan time.Time `json:"last_ban"`
	Active  bool      `json:"active"`
	// Until is when its active ban ends; zero for a permanent one.
	Until time.Time `json:"until,omitzero"`
}

func cmdInspect(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	db := fs.String("db", defaultDB, "database file (read while the daemon runs, or without it)")
	asJSON := fs.Bool("json", false, "print JSON")
	rdns := fs.Bool("rdns", false, "look up the address's reverse DNS name (a DNS query)")
	cityDB := fs.String("city-db", "", "an mmdb file (DB-IP Lite City or GeoLite2-City) for the city")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("usage: gaol inspect ADDR [--db FILE] [--json] [--rdns] [--city-db FILE]")
	}
	p, err := daemon.ParseTarget(pos[0])
	if err != nil || !p.IsSingleIP() {
		return usageError("%q is not an IP address", pos[0])
	}
	addr := p.Addr()

	st, err := openDB(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	hist, err := st.History(ctx, addr)
	if err != nil {
		return err
	}
	all, err := st.Bans(ctx, time.Time{})
	if err != nil {
		return err
	}
	gopts := geo.Options{CityDB: *cityDB}
	if *rdns {
		gopts.ReverseDNS, gopts.RDNSTimeout = reverseResolver, rdnsTimeout
	}
	locator, err := geo.New(gopts)
	if err != nil {
		return fmt.Errorf("--city-db: %w", err)
	}
	defer locator.Close()
	info := locator.LookupContext(ctx, addr)

	in := inspect(addr, hist, all, info, time.Now())
	if *asJSON {
		return writeJSON(stdout, in)
	}
	renderInspection(stdout, in)
	return nil
}

// inspect puts together what is known about addr from its ban history,
// the bans of every address (for its neighbours) and a lookup.
func inspect(addr netip.Addr, hist, all []store.Ban, info geo.Info, now time.Time) inspection {
	in := inspection{
		Addr: addr.String(), Geo: info, Active: []control.Ban{}, Jails: []jailRecord{},
		Categories: []string{}, History: []control.Ban{}, Neighbours: []neighbour{},
	}
	// What was stored with the address's own bans completes the lookup:
	// the daemon may have had a city database, or looked up its name.
	for _, b := range hist {
		if b.Prefix.IsSingleIP() {
			completeGeo(&in.Geo, geoInfo(b.Geo, b.Prefix))
			break
		}
	}
	jails := map[string]*jailRecord{}
	for _, b := range hist { // newest first
		cb := controlBan(b, now)
		in.History = append(in.History, cb)
		if active(b, now) {
			in.Banned = true
			in.Active = append(in.Active, cb)
		}
		if b.Category != "" && !slices.Contains(in.Categories, b.Category) {
			in.Categories = append(in.Categories, b.Category)
		}
		j := jails[b.Jail]
		if j == nil {
			j = &jailRecord{Jail: b.Jail, LastBan: b.Start}
			jails[b.Jail] = j
		}
		j.Bans++
		j.FirstBan = b.Start
		if wide(b.Prefix) {
			// The failures of a subnet's ban are mostly others'.
			j.SubnetBans++
			continue
		}
		j.Failures += b.Failures
		if j.Matches == nil {
			j.Matches = b.Matches
		}
	}
	// A jail that banned the address only as part of a subnet shows that
	// ban's lines.
	for _, b := range hist {
		if j := jails[b.Jail]; j.Matches == nil {
			j.Matches = b.Matches
		}
	}
	for _, j := range jails {
		in.Jails = append(in.Jails, *j)
	}
	slices.SortFunc(in.Jails, func(a, b jailRecord) int { return strings.Compare(a.Jail, b.Jail) })
	slices.Sort(in.Categories)

	subnet := report.Subnet(netip.PrefixFrom(addr, addr.BitLen()))
	in.Subnet = subnet.String()
	byPrefix := map[netip.Prefix]*neighbour{}
	var order []netip.Prefix
	var holding []store.Ban // active bans that take in part of the subnet
	for _, b := range all {
		if active(b, now) && b.Prefix.Overlaps(subnet) {
			holding = append(holding, b)
		}
	}
	for _, b := range all { // oldest first
		if b.Prefix.Bits() < subnet.Bits() || !subnet.Contains(b.Prefix.Addr()) || b.Prefix.Contains(addr) {
			continue
		}
		n := byPrefix[b.Prefix]
		if n == nil {
			n = &neighbour{Prefix: report.AddressKey(b.Prefix), Jails: []string{}}
			byPrefix[b.Prefix] = n
			order = append(order, b.Prefix)
		}
		n.Bans++
		n.LastBan = b.Start
		if !slices.Contains(n.Jails, b.Jail) {
			n.Jails = append(n.Jails, b.Jail)
		}
	}
	for p, n := range byPrefix {
		for _, b := range holding {
			if b.Prefix.Bits() > p.Bits() || !b.Prefix.Contains(p.Addr()) {
				continue
			}
			if !n.Active || (!n.Until.IsZero() && (b.End.IsZero() || b.End.After(n.Until))) {
				n.Until = b.End
			}
			n.Active = true
		}
	}
	slices.SortFunc(order, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	for _, p := range order {
		n := byPrefix[p]
		slices.Sort(n.Jails)
		in.Neighbours = append(in.Neighbours, *n)
	}
	return in
}

// wide reports whether p is a subnet rather than an address (IPv4) or an
// address's /64 (IPv6, the default ban prefix).
func wide(p netip.Prefix) bool {
	if p.Addr().Is4() {
		return p.Bits() < 32
	}
	return p.Bits() < 64
}

// completeGeo fills the fields of g that are unknown from h.
func completeGeo(g *geo.Info, h geo.Info) {
	if g.Country == "" {
		g.Country, g.CountryName = h.Country, h.CountryName
	}
	if g.ASN == 0 {
		g.ASN = h.ASN
	}
	if g.Org == "" {
		g.Org = h.Org
	}
	if g.City == "" {
		g.City = h.City
	}
	if !g.HasCoords && h.HasCoords {
		g.Lat, g.Lon, g.HasCoords = h.Lat, h.Lon, true
	}
	if g.RDNS == "" {
		g.RDNS = h.RDNS
	}
}

// active reports whether a stored ban holds at now.
func active(b store.Ban, now time.Time) bool {
	return b.EndedAt.IsZero() && (b.End.IsZero() || b.End.After(now))
}

// controlBan is a stored ban as the control API and `gaol banned --json`
// show it. A ban past its end that the daemon has not marked ended (it was
// not running) is shown as expired.
func controlBan(b store.Ban, now time.Time) control.Ban {
	cb := control.Ban{
		Jail: b.Jail, Prefix: report.AddressKey(b.Prefix), Start: b.Start, End: b.End,
		Permanent: b.End.IsZero(), Failures: b.Failures, Manual: b.Manual, Count: b.Count,
		Category: b.Category, Matches: b.Matches, EndedAt: b.EndedAt, EndReason: b.EndReason,
	}
	if cb.EndedAt.IsZero() && !active(b, now) {
		cb.EndedAt, cb.EndReason = b.End, "expired"
	}
	return cb
}

// renderInspection prints an inspection as a readable block.
func renderInspection(w io.Writer, in inspection) {
	fmt.Fprintln(w, in.Addr)
	field := func(name, value string) { fmt.Fprintf(w, "  %-13s%s\n", name, value) }
	if !in.Banned {
		field("banned now", "no")
	} else {
		for i, b := range in.Active {
			name, what := "", "in "+b.Jail
			if i == 0 {
				name, what = "banned now", "yes, "+what
			}
			if b.Prefix != in.Addr {
				what += " (" + b.Prefix + ")"
			}
			field(name, what+" "+until(b))
		}
	}
	field("country", orUnknown(strings.TrimSpace(in.Geo.Country+" "+in.Geo.CountryName)))
	network := ""
	if in.Geo.ASN != 0 {
		network = "AS" + strconv.FormatUint(uint64(in.Geo.ASN), 10)
	}
	field("network", orUnknown(strings.TrimSpace(network+" "+in.Geo.Org)))
	field("city", orUnknown(in.Geo.City))
	field("reverse DNS", orUnknown(in.Geo.RDNS))
	if len(in.Categories) > 0 {
		field("categories", strings.Join(in.Categories, ", "))
	}
	if len(in.Jails) == 0 {
		field("bans", "none recorded")
	}
	for i, j := range in.Jails {
		name := ""
		if i == 0 {
			name = "bans"
		}
		span := fmtTime(j.LastBan)
		if j.Bans > 1 {
			span = "from " + fmtTime(j.FirstBan) + " to " + span
		}
		bans := fmt.Sprintf("%d %s", j.Bans, plural(j.Bans, "ban", "bans"))
		if j.SubnetBans > 0 {
			bans += fmt.Sprintf(" (%d of a subnet)", j.SubnetBans)
		}
		field(name, fmt.Sprintf("%s: %s, %d %s, %s", j.Jail, bans,
			j.Failures, plural(j.Failures, "failure", "failures"), span))
	}

	if len(in.History) > 0 {
		fmt.Fprintln(w, "\nhistory (newest first):")
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "  JAIL\tPREFIX\tSTART\tEND\tFAILURES\tENDED")
		for _, b := range in.History {
			end := "permanent"
			if !b.Permanent {
				end = fmtTime(b.End)
			}
			failures := strconv.Itoa(b.Failures)
			if b.Manual {
				failures = "manual"
			}
			ended := "active"
			if !b.EndedAt.IsZero() {
				ended = b.EndReason + " " + fmtTime(b.EndedAt)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", b.Jail, b.Prefix, fmtTime(b.Start), end, failures, ended)
		}
		tw.Flush()
	}
	for _, j := range in.Jails {
		if len(j.Matches) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nmatched lines (latest ban in %s):\n", j.Jail)
		for _, m := range j.Matches {
			fmt.Fprintf(w, "  %s\n", m)
		}
	}

	if len(in.Neighbours) == 0 {
		fmt.Fprintf(w, "\nno other address of %s was banned\n", in.Subnet)
		return
	}
	fmt.Fprintf(w, "\nother addresses of %s banned:\n", in.Subnet)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  ADDRESS\tJAILS\tBANS\tLAST BAN\tNOW")
	for _, n := range in.Neighbours {
		state := "not banned"
		if n.Active {
			state = "banned permanently"
			if !n.Until.IsZero() {
				state = "banned until " + fmtTime(n.Until)
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", n.Prefix, strings.Join(n.Jails, ","), n.Bans, fmtTime(n.LastBan), state)
	}
	tw.Flush()
}

func until(b control.Ban) string {
	if b.Permanent {
		return "permanently"
	}
	return "until " + fmtTime(b.End)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// fmtTime shows a time in the display zone.
func fmtTime(t time.Time) string { return t.In(displayZone).Format(time.DateTime) }
