package report

import (
	"bufio"
	"cmp"
	_ "embed" // the page template
	"fmt"
	"html/template"
	"io"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/gaol-project/gaol/internal/geo/world"
)

//go:embed report.html.tmpl
var pageSource string

var pageTemplate = template.Must(template.New("report").Parse(pageSource))

// page is everything the HTML template shows, already formatted.
type page struct {
	Title     string
	Subtitle  string
	Generated string
	Stats     []stat
	Map       worldMap
	Chart     chart
	Tables    []htmlTable
}

type stat struct{ Label, Value string }

type worldMap struct {
	Width, Height string
	Outline       string // the sea
	Countries     []mapCountry
	Bubbles       []bubble
	Unplaced      string // "3 addresses have" no known location; "" = none
	Legend        []bubble
	LegendTop     string
}

type mapCountry struct{ Code, Path, Fill, Title string }

type bubble struct{ X, Y, R, Title, Label string }

type chart struct {
	Width, Height string
	Unit          string // "day", "hour", "month"
	Bars          []bar
	YTicks        []tick
	XTicks        []tick
	Axis          string // y of the x axis
	PlotLeft      string
	PlotRight     string
	Empty         bool
}

type bar struct{ X, Y, W, H, Title string }

type tick struct{ Pos, Label string }

type htmlTable struct {
	Title, Column, Count string
	Rows                 []htmlRow
}

type htmlRow struct {
	Rank, Group, Count, Percent, Bar string
	Other                            bool
}

// WriteHTML writes a self-contained HTML page: summary, a world map of the
// selected addresses, a chart of bans over time and the tables, all inline
// (no script, nothing fetched when it is viewed).
func WriteHTML(w io.Writer, records []Record, opts Options) error {
	opts, err := opts.normalize()
	if err != nil {
		return err
	}
	main, err := Aggregate(records, opts)
	if err != nil {
		return err
	}
	sel := Select(records, opts)
	p := page{
		Title:    "gaol report: who is attacking this server",
		Subtitle: main.Title(),
		Map:      buildMap(sel),
		Chart:    buildChart(sel, opts),
	}
	if !opts.Now.IsZero() {
		p.Generated = opts.Now.In(opts.Location).Format("2006-01-02 15:04 MST")
	}
	countries, jails := map[string]bool{}, map[string]bool{}
	for _, r := range sel {
		if r.Geo.Country != "" {
			countries[r.Geo.Country] = true
		}
		jails[r.Jail] = true
	}
	p.Stats = []stat{
		{"addresses", thousands(main.Addresses)},
		{"bans", thousands(main.Bans)},
		{"countries", thousands(len(countries))},
		{"jails", thousands(len(jails))},
	}
	p.Tables = append(p.Tables, htmlTableOf(main, titleOf(main)))
	// The usual companions of the requested table, top ten each.
	for _, by := range []string{ByCountry, ByASN, BySubnet, ByJail} {
		if by == opts.By {
			continue
		}
		o := opts
		o.By, o.Top = by, 10
		t, err := Aggregate(records, o)
		if err != nil {
			return err
		}
		p.Tables = append(p.Tables, htmlTableOf(t, "Top "+columnName(by)))
	}
	bw := bufio.NewWriter(w)
	if err := pageTemplate.Execute(bw, p); err != nil {
		return fmt.Errorf("rendering HTML report: %w", err)
	}
	return bw.Flush()
}

func titleOf(t *Table) string {
	if t.Count == CountBans {
		return "Bans by " + columnName(t.By)
	}
	return "Addresses by " + columnName(t.By)
}

func htmlTableOf(t *Table, title string) htmlTable {
	h := htmlTable{Title: title, Column: columnName(t.By), Count: t.Count}
	for _, r := range t.Rows {
		rank := strconv.Itoa(r.Rank)
		if r.Other {
			rank = ""
		}
		h.Rows = append(h.Rows, htmlRow{
			Rank:    rank,
			Group:   r.display(),
			Count:   thousands(r.Count),
			Percent: percent(r.Percent),
			Bar:     strconv.FormatFloat(math.Min(r.Percent, 100), 'f', 1, 64) + "%",
			Other:   r.Other,
		})
	}
	return h
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// buildMap places one bubble per location (city when known, else country
// centroid), its area proportional to the distinct addresses there, and
// shades countries by their distinct addresses.
func buildMap(sel []Record) worldMap {
	m := worldMap{Width: num(world.Width), Height: num(world.Height), Outline: world.Outline()}
	type place struct {
		lat, lon float64
		name     string
		addrs    map[netip.Prefix]struct{}
	}
	type spot struct{ lat, lon int32 } // hundredths of a degree
	places := map[spot]*place{}
	perCountry := map[string]map[netip.Prefix]struct{}{}
	unplaced := map[netip.Prefix]struct{}{}
	for _, r := range sel {
		a := addressOf(r.Prefix)
		if c := r.Geo.Country; c != "" {
			if perCountry[c] == nil {
				perCountry[c] = map[netip.Prefix]struct{}{}
			}
			perCountry[c][a] = struct{}{}
		}
		lat, lon, ok := r.Geo.Coords()
		if !ok {
			unplaced[a] = struct{}{}
			continue
		}
		key := spot{int32(math.Round(lat * 100)), int32(math.Round(lon * 100))}
		pl := places[key]
		if pl == nil {
			name := world.Name(r.Geo.Country)
			if r.Geo.HasCoords && r.Geo.City != "" {
				name = r.Geo.City + ", " + name
			}
			pl = &place{lat: lat, lon: lon, name: name, addrs: map[netip.Prefix]struct{}{}}
			places[key] = pl
		}
		pl.addrs[a] = struct{}{}
	}
	maxCountry := 0
	for _, s := range perCountry {
		maxCountry = max(maxCountry, len(s))
	}
	for _, s := range world.Shapes() {
		n := len(perCountry[s.Code])
		title := world.Name(s.Code)
		if n > 0 {
			title += ": " + thousands(n) + " " + plural(n, "address", "addresses")
		}
		m.Countries = append(m.Countries, mapCountry{Code: s.Code, Path: s.Path, Fill: shade(n, maxCountry), Title: title})
	}
	list := make([]*place, 0, len(places))
	maxPlace := 0
	for _, pl := range places {
		list = append(list, pl)
		maxPlace = max(maxPlace, len(pl.addrs))
	}
	// Large bubbles first, so that small ones stay visible on top.
	slices.SortFunc(list, func(a, b *place) int {
		return cmp.Or(cmp.Compare(len(b.addrs), len(a.addrs)), cmp.Compare(a.name, b.name),
			cmp.Compare(a.lat, b.lat), cmp.Compare(a.lon, b.lon))
	})
	for _, pl := range list {
		x, y := world.Project(pl.lat, pl.lon)
		n := len(pl.addrs)
		m.Bubbles = append(m.Bubbles, bubble{
			X: num(x), Y: num(y), R: num(radius(n, maxPlace)),
			Title: pl.name + ": " + thousands(n) + " " + plural(n, "address", "addresses"),
		})
	}
	if len(unplaced) > 0 {
		n := len(unplaced)
		m.Unplaced = thousands(n) + " " + plural(n, "address has", "addresses have")
	}
	if maxPlace > 0 {
		// Legend: the largest bubble and smaller round numbers.
		m.LegendTop = num(world.Height - 12 - 2*maxRadius - 10)
		for i, n := range legendSteps(maxPlace) {
			r := radius(n, maxPlace)
			m.Legend = append(m.Legend, bubble{X: num(40 + float64(i)*70), Y: num(world.Height - 12 - r), R: num(r), Label: thousands(n)})
		}
	}
	return m
}

const maxRadius = 24.0

func radius(n, maxN int) float64 {
	if maxN <= 0 || n <= 0 {
		return 0
	}
	return math.Max(2.5, maxRadius*math.Sqrt(float64(n)/float64(maxN)))
}

// legendSteps returns up to three sizes to show: 1, a round middle value
// and the maximum.
func legendSteps(maxN int) []int {
	if maxN <= 1 {
		return []int{1}
	}
	mid := int(niceStep(float64(maxN) / 4))
	steps := []int{1}
	if mid > 1 && mid < maxN {
		steps = append(steps, mid)
	}
	return append(steps, maxN)
}

// shade colours a country by its share of the largest country's count.
func shade(n, maxN int) string {
	if n == 0 || maxN == 0 {
		return "#dfe4e8"
	}
	t := math.Sqrt(float64(n) / float64(maxN))
	lo, hi := [3]float64{0xf6, 0xd5, 0xc8}, [3]float64{0xc9, 0x4a, 0x36}
	var c [3]int
	for i := range c {
		c[i] = int(math.Round(lo[i] + (hi[i]-lo[i])*t))
	}
	return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2])
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

// Chart geometry, in SVG units.
const (
	chartWidth  = 960.0
	chartHeight = 240.0
	plotLeft    = 48.0
	plotRight   = 12.0
	plotTop     = 12.0
	plotBottom  = 28.0
)

// buildChart counts bans per hour (periods up to two days), day (up to 400
// days) or month, from the start of the selection (Since, or the first ban)
// to its end (Now, or the last ban).
func buildChart(sel []Record, opts Options) chart {
	c := chart{Width: num(chartWidth), Height: num(chartHeight), PlotLeft: num(plotLeft), PlotRight: num(chartWidth - plotRight),
		Axis: num(chartHeight - plotBottom)}
	if len(sel) == 0 {
		c.Empty = true
		c.Unit = "day"
		return c
	}
	loc := opts.Location
	first, last := sel[0].Start, sel[0].Start
	for _, r := range sel {
		if r.Start.Before(first) {
			first = r.Start
		}
		if r.Start.After(last) {
			last = r.Start
		}
	}
	if !opts.Since.IsZero() {
		first = opts.Since
	}
	if opts.Now.After(last) {
		last = opts.Now
	}
	span := last.Sub(first)
	var floor func(time.Time) time.Time
	var next func(time.Time) time.Time
	var format string
	switch {
	case span <= 48*time.Hour:
		c.Unit, format = "hour", "15:00"
		floor = func(t time.Time) time.Time {
			t = t.In(loc)
			return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
		}
		next = func(t time.Time) time.Time { return t.Add(time.Hour) }
	case span <= 400*24*time.Hour:
		c.Unit, format = "day", "Jan 2"
		floor = func(t time.Time) time.Time {
			t = t.In(loc)
			return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		}
		next = func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	default:
		c.Unit, format = "month", "Jan 2006"
		floor = func(t time.Time) time.Time { t = t.In(loc); return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc) }
		next = func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	}
	var buckets []time.Time
	index := map[time.Time]int{}
	for b := floor(first); !b.After(floor(last)); b = next(b) {
		index[b] = len(buckets)
		buckets = append(buckets, b)
	}
	counts := make([]int, len(buckets))
	for _, r := range sel {
		if i, ok := index[floor(r.Start)]; ok {
			counts[i]++
		}
	}
	top := 0
	for _, n := range counts {
		top = max(top, n)
	}
	step := niceStep(float64(top) / 4)
	ymax := math.Max(step, math.Ceil(float64(top)/step)*step)
	plotW := chartWidth - plotLeft - plotRight
	plotH := chartHeight - plotTop - plotBottom
	bw := plotW / float64(len(buckets))
	gap := math.Min(2, bw*0.2)
	for i, n := range counts {
		if n == 0 {
			continue
		}
		h := plotH * float64(n) / ymax
		c.Bars = append(c.Bars, bar{
			X: num(plotLeft + float64(i)*bw + gap/2), Y: num(plotTop + plotH - h), W: num(bw - gap), H: num(h),
			Title: buckets[i].Format(labelFormat(c.Unit)) + ": " + thousands(n) + " " + plural(n, "ban", "bans"),
		})
	}
	for v := 0.0; v <= ymax+step/2; v += step {
		c.YTicks = append(c.YTicks, tick{Pos: num(plotTop + plotH - plotH*v/ymax), Label: thousands(int(v))})
	}
	every := int(math.Ceil(float64(len(buckets)) / 10))
	for i := 0; i < len(buckets); i += every {
		c.XTicks = append(c.XTicks, tick{Pos: num(plotLeft + (float64(i)+0.5)*bw), Label: buckets[i].Format(format)})
	}
	return c
}

func labelFormat(unit string) string {
	switch unit {
	case "hour":
		return "2006-01-02 15:00"
	case "month":
		return "January 2006"
	}
	return "Mon 2006-01-02"
}
