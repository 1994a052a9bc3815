package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gaol-project/gaol/internal/config"
	"github.com/gaol-project/gaol/internal/geo"
	"github.com/gaol-project/gaol/internal/geo/world"
	"github.com/gaol-project/gaol/internal/report"
	"github.com/gaol-project/gaol/internal/scan"
	"github.com/gaol-project/gaol/internal/store"
	"github.com/gaol-project/gaol/internal/store/sqlite"
)

// defaultTop is how many rows the table and HTML reports show unless told.
const defaultTop = 20

func cmdReport(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	db := fs.String("db", defaultDB, "database file (read while the daemon runs, or without it)")
	fromScan := fs.String("from-scan", "", "report on `FILE`, the JSON of gaol scan --json (- for the standard input), instead of the database")
	since := fs.String("since", "", "only bans since a `TIME`: a duration ago (30d, 12h), a date (2026-11-01) or all (default 30d from the database, all from a scan)")
	jail := fs.String("jail", "", "only this jail")
	by := fs.String("by", report.ByCountry, "group by "+strings.Join(report.Dimensions, ", "))
	top := fs.Int("top", defaultTop, "show this many rows and sum the rest as other; 0 for all (tsv, csv and json show all unless --top is given)")
	countWhat := fs.String("count", report.CountAddresses, "count unique addresses or bans")
	format := fs.String("format", "table", "output format: "+strings.Join(report.Formats, ", "))
	out := fs.String("out", "", "write the report to this file instead of the standard output")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("report takes no arguments, got %q (did you mean --from-scan?)", pos)
	}
	if !slices.Contains(report.Dimensions, *by) {
		return usageError("--by: %q is not one of %s", *by, strings.Join(report.Dimensions, ", "))
	}
	if *countWhat != report.CountAddresses && *countWhat != report.CountBans {
		return usageError("--count: %q is not addresses or bans", *countWhat)
	}
	if !slices.Contains(report.Formats, *format) {
		return usageError("--format: %q is not one of %s", *format, strings.Join(report.Formats, ", "))
	}
	if *top < 0 {
		return usageError("--top: %d is negative", *top)
	}
	if !flagSet(fs, "top") && *format != "table" && *format != "html" {
		*top = 0
	}
	now := time.Now()
	opts := report.Options{Jail: *jail, By: *by, Top: *top, Count: *countWhat, Now: now, Location: displayZone}
	if *since == "" && *fromScan == "" {
		*since = "30d"
	}
	if *since != "" {
		if opts.Since, err = parseSince(*since, now); err != nil {
			return usageError("--since: %v", err)
		}
	}

	var records []report.Record
	if *fromScan != "" {
		records, err = scanRecords(*fromScan)
	} else {
		records, err = storeRecords(ctx, *db, opts.Since)
	}
	if err != nil {
		return err
	}

	if *out == "" {
		return report.Write(stdout, *format, records, opts)
	}
	f, err := os.Create(*out)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := report.Write(f, *format, records, opts); err != nil {
		f.Close()
		os.Remove(*out)
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}

// flagSet reports whether the flag called name was given.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// parseSince reads --since: a duration back from now, a date, or "all".
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "all" || s == "0" {
		return time.Time{}, nil
	}
	if d, err := config.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%q is not a positive duration", s)
		}
		return now.Add(-d), nil
	}
	if t, err := parseTime(s, displayZone); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (30d, 12h), a date (2026-11-01) nor all", s)
}

// openDB opens the database at path, which must exist: reports and
// inspect read what the daemon wrote.
func openDB(ctx context.Context, path string) (*sqlite.Store, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no database at %s: has gaol run here? use --db", path)
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("opening the database: %w", err)
	}
	return st, nil
}

// storeRecords reads the bans that started since since from the database.
func storeRecords(ctx context.Context, path string, since time.Time) ([]report.Record, error) {
	st, err := openDB(ctx, path)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	bans, err := st.Bans(ctx, since)
	if err != nil {
		return nil, err
	}
	records := make([]report.Record, len(bans))
	for i, b := range bans {
		records[i] = report.Record{
			Jail: b.Jail, Prefix: b.Prefix, Start: b.Start, End: b.End,
			Failures: b.Failures, Category: b.Category, Geo: geoInfo(b.Geo, b.Prefix),
		}
	}
	return records, nil
}

// geoInfo returns the attribution stored with a ban, or, for a ban stored
// without one, what the built-in data says of its address now.
func geoInfo(g store.Geo, p netip.Prefix) geo.Info {
	if g == (store.Geo{}) {
		return geo.Static(p.Addr())
	}
	info := geo.Info{Country: g.Country, ASN: g.ASN, Org: g.Org, City: g.City,
		Lat: g.Lat, Lon: g.Lon, HasCoords: g.HasCoords, RDNS: g.RDNS}
	if info.Country != "" {
		info.CountryName = world.Name(info.Country)
	}
	return info
}

// scanRecords reads the JSON `gaol scan --json` wrote: each ban a would-be
// ban made becomes a record.
func scanRecords(path string) ([]report.Record, error) {
	var r io.Reader = os.Stdin
	name := "the standard input"
	if path != scan.Stdin {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--from-scan: %w", err)
		}
		defer f.Close()
		r, name = f, path
	}
	var res scan.Result
	dec := json.NewDecoder(r)
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("--from-scan: reading %s: %w (it should be the output of gaol scan --json)", name, err)
	}
	if res.Bans == nil {
		return nil, fmt.Errorf("--from-scan: %s has no bans list: is it the output of gaol scan --json?", name)
	}
	var records []report.Record
	for _, b := range res.Bans {
		g := geo.Static(b.Prefix.Addr())
		if b.Geo != nil {
			g = *b.Geo
		}
		for i, t := range b.BannedAt {
			rec := report.Record{Jail: b.Jail, Prefix: b.Prefix, Start: t, Category: b.Category, Geo: g}
			if i == 0 {
				rec.Failures = b.Failures
			}
			if i == len(b.BannedAt)-1 {
				rec.End = b.Until
			}
			records = append(records, rec)
		}
	}
	return records, nil
}
