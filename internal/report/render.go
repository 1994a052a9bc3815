package report

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Formats lists the output formats Write accepts.
var Formats = []string{"table", "tsv", "csv", "json", "html"}

// Write renders a report of records in a format: table, tsv, csv, json or
// html.
func Write(w io.Writer, format string, records []Record, opts Options) error {
	if format == "html" {
		return WriteHTML(w, records, opts)
	}
	t, err := Aggregate(records, opts)
	if err != nil {
		return err
	}
	switch format {
	case "", "table":
		return WriteTable(w, t)
	case "tsv":
		return WriteTSV(w, t)
	case "csv":
		return WriteCSV(w, t)
	case "json":
		return WriteJSON(w, t)
	}
	return fmt.Errorf("unknown format %q (want one of %v)", format, Formats)
}

// columnName is the heading of the group column.
func columnName(by string) string {
	switch by {
	case ByASN:
		return "AS"
	case ByOrg:
		return "organisation"
	case ByIP:
		return "address"
	}
	return by
}

// display is how a row's group reads in a human table.
func (r Row) display() string {
	if r.Other {
		return r.Key + " (" + r.Label + ")"
	}
	return r.Display()
}

// Title describes the report in one line: "Unique addresses by country
// since 2026-01-01 00:00 UTC, jail sshd: 10 addresses, 17 bans".
func (t *Table) Title() string {
	var b strings.Builder
	if t.Count == CountBans {
		b.WriteString("Bans")
	} else {
		b.WriteString("Unique addresses")
	}
	b.WriteString(" by " + columnName(t.By))
	if !t.Since.IsZero() {
		b.WriteString(" since " + t.Since.Format("2006-01-02 15:04 MST"))
	}
	if t.Jail != "" {
		b.WriteString(", jail " + t.Jail)
	} else {
		b.WriteString(", all jails")
	}
	fmt.Fprintf(&b, ": %s %s, %s %s", thousands(t.Addresses), plural(t.Addresses, "address", "addresses"),
		thousands(t.Bans), plural(t.Bans, "ban", "bans"))
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// thousands formats n with commas: 12345 -> "12,345".
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func percent(p float64) string { return strconv.FormatFloat(p, 'f', 1, 64) + "%" }

// maxLabel bounds a group's width in the text table.
const maxLabel = 50

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// WriteTable writes t as an aligned text table under a title line.
func WriteTable(w io.Writer, t *Table) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, t.Title())
	fmt.Fprintln(bw)
	head := []string{"rank", columnName(t.By), t.Count, "percent"}
	rows := [][]string{head}
	for _, r := range t.Rows {
		rank := ""
		if !r.Other {
			rank = strconv.Itoa(r.Rank)
		}
		rows = append(rows, []string{rank, truncate(r.display(), maxLabel), thousands(r.Count), percent(r.Percent)})
	}
	width := make([]int, len(head))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, row := range rows {
		var line strings.Builder
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				line.WriteString("  ")
			}
			if i == 1 { // the group: left-aligned
				line.WriteString(c + pad)
			} else {
				line.WriteString(pad + c)
			}
		}
		fmt.Fprintln(bw, strings.TrimRight(line.String(), " "))
	}
	if len(t.Rows) == 0 {
		fmt.Fprintln(bw, "(no bans)")
	}
	return bw.Flush()
}

func records(t *Table) [][]string {
	out := [][]string{{"rank", "key", "label", t.Count, "percent"}}
	for _, r := range t.Rows {
		rank := strconv.Itoa(r.Rank)
		if r.Other {
			rank = ""
		}
		out = append(out, []string{rank, r.Key, r.Label, strconv.Itoa(r.Count), strconv.FormatFloat(r.Percent, 'f', 2, 64)})
	}
	return out
}

// WriteTSV writes t as tab-separated values with a header row: rank, key,
// label, count, percent. Tabs and newlines in values become spaces.
func WriteTSV(w io.Writer, t *Table) error {
	bw := bufio.NewWriter(w)
	clean := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")
	for _, rec := range records(t) {
		for i, f := range rec {
			rec[i] = clean.Replace(f)
		}
		fmt.Fprintln(bw, strings.Join(rec, "\t"))
	}
	return bw.Flush()
}

// WriteCSV writes t as RFC 4180 CSV with a header row: rank, key, label,
// count, percent.
func WriteCSV(w io.Writer, t *Table) error {
	cw := csv.NewWriter(w)
	if err := cw.WriteAll(records(t)); err != nil {
		return fmt.Errorf("writing CSV: %w", err)
	}
	return nil
}

// WriteJSON writes t as one indented JSON object, times in UTC.
func WriteJSON(w io.Writer, t *Table) error {
	c := *t
	c.Since, c.Generated = utcOrZero(c.Since), utcOrZero(c.Generated)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&c); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}
