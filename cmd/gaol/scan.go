package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gaol-project/gaol/internal/config"
	"github.com/gaol-project/gaol/internal/control"
	"github.com/gaol-project/gaol/internal/geo"
	"github.com/gaol-project/gaol/internal/ignore"
	"github.com/gaol-project/gaol/internal/match"
	"github.com/gaol-project/gaol/internal/scan"
)

// displayZone is the time zone times are shown in (tests set UTC).
var displayZone = time.Local

// banBatch is how many targets one ban request to the daemon carries.
const banBatch = 1000

// ignoreTimeout bounds the resolution of the jails' ignore lists (host
// names, the host's own addresses) before a scan.
const ignoreTimeout = 5 * time.Second

func cmdScan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	configDir := fs.String("config", "", "configuration directory (fail2ban layout) laid over the embedded defaults")
	var jailNames listFlag
	fs.Var(&jailNames, "jail", "scan with this `JAIL` only (repeat or separate with commas; default: every enabled jail)")
	asJSON := fs.Bool("json", false, "print JSON, with each address's country and network (gaol report --from-scan reads it)")
	ban := fs.Bool("ban", false, "ban what the scan finds in the running daemon, for each jail's bantime from now")
	sock := socketFlag(fs)
	nowFlag := fs.String("now", "", "the `DATE` the logs are read on, for the year of syslog timestamps (default: now)")
	noProgress := fs.Bool("no-progress", false, "no progress bar, even on a terminal")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError("usage: gaol scan [--config DIR] [--jail J] [--json] [--ban] LOG...  (LOG - reads the standard input)")
	}
	now := time.Now()
	if *nowFlag != "" {
		if now, err = parseTime(*nowFlag, displayZone); err != nil {
			return usageError("--now: %v", err)
		}
	}
	cfg, filters, err := loadConfig(*configDir)
	if err != nil {
		return err
	}
	sel, err := selectJails(cfg, jailNames)
	if err != nil {
		return err
	}
	jails, warnings := scanJails(ctx, sel, filters, now)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}

	opts := scan.Options{Now: now, Location: displayZone}
	if !*noProgress && isTerminal(os.Stderr) {
		bar := newProgressBar(stderr)
		opts.Progress = bar.update
	}
	res, err := scan.Run(ctx, jails, pos, opts)
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	if *asJSON {
		for i := range res.Bans {
			g := geo.Static(res.Bans[i].Prefix.Addr())
			res.Bans[i].Geo = &g
		}
		if err := writeJSON(stdout, res); err != nil {
			return err
		}
	} else {
		renderScan(stdout, res)
	}
	if !*ban || len(res.Bans) == 0 {
		return nil
	}
	out := stdout
	if *asJSON {
		out = stderr // keep the JSON document clean
	}
	return banScanned(ctx, control.NewClient(*sock), res.Bans, out)
}

// listFlag is a flag that may be repeated and holds comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// selectJails returns the jails named (each must exist and be enabled), or
// every enabled jail.
func selectJails(cfg *config.Config, names []string) ([]*config.Jail, error) {
	enabled := cfg.Enabled()
	if len(names) == 0 {
		if len(enabled) == 0 {
			return nil, errors.New("no jail is enabled in the configuration: enable one, or give --config")
		}
		return enabled, nil
	}
	var enabledNames []string
	for _, j := range enabled {
		enabledNames = append(enabledNames, j.Name)
	}
	var out []*config.Jail
	for _, n := range names {
		j, ok := cfg.Jail(n)
		switch {
		case !ok:
			return nil, usageError("unknown jail %q (enabled jails: %s)", n, strings.Join(enabledNames, ", "))
		case !j.Enabled:
			return nil, usageError("jail %q is not enabled: enable it (enabled = true in jail.local) to scan with it", n)
		}
		if !slices.Contains(out, j) {
			out = append(out, j)
		}
	}
	// A recidive jail counts the bans of the others: it needs them.
	for _, j := range out {
		if j.Recidive && len(out) == 1 {
			return nil, usageError("jail %q counts the bans of the other jails: name them too", j.Name)
		}
	}
	return out, nil
}

// scanJails prepares the jails for a scan: their filters, and their
// ignore lists resolved as the daemon would.
func scanJails(ctx context.Context, sel []*config.Jail, filters map[string]*match.Filter, now time.Time) ([]scan.Jail, []string) {
	ctx, cancel := context.WithTimeout(ctx, ignoreTimeout)
	defer cancel()
	var out []scan.Jail
	var warnings []string
	for _, j := range sel {
		var set ignore.Set
		if j.Ignore != nil {
			snap, errs := j.Ignore.Resolve(ctx, nil, now)
			for _, err := range errs {
				warnings = append(warnings, fmt.Sprintf("jail %s: ignoreip: %v", j.Name, err))
			}
			set = snap.Set
		}
		out = append(out, scan.Jail{Config: j, Filter: filters[j.Name], Ignore: set})
	}
	return out, warnings
}

// renderScan prints who would be banned, most failures first, then a
// summary.
func renderScan(w io.Writer, res *scan.Result) {
	if len(res.Bans) > 0 {
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "JAIL\tADDRESS\tFAILURES\tBANS\tFIRST SEEN\tLAST SEEN\tCATEGORY")
		for _, b := range res.Bans {
			cat := b.Category
			if cat == "" {
				cat = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", b.Jail, b.Target(), b.Failures, b.Bans(),
				b.FirstSeen.In(displayZone).Format(time.DateTime), b.LastSeen.In(displayZone).Format(time.DateTime), cat)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, scanSummary(res))
}

// scanSummary is the last line of a scan's report.
func scanSummary(res *scan.Result) string {
	var b strings.Builder
	counted := res.Failures - res.Ignored
	fmt.Fprintf(&b, "%s %s, %s %s: %s %s from %s %s",
		count(len(res.Files)), plural(len(res.Files), "log", "logs"),
		count(res.Lines), plural(res.Lines, "line", "lines"),
		count(counted), plural(counted, "failure", "failures"),
		count(res.Addresses), plural(res.Addresses, "address", "addresses"))
	if res.Ignored > 0 {
		fmt.Fprintf(&b, ", %s from addresses the jails ignore", count(res.Ignored))
	}
	if len(res.Bans) == 0 {
		b.WriteString("; nobody would be banned")
		return b.String()
	}
	perJail := map[string]int{}
	for _, ban := range res.Bans {
		perJail[ban.Jail]++
	}
	var parts []string
	for _, j := range res.Jails {
		if n := perJail[j]; n > 0 {
			what := ""
			if len(parts) == 0 {
				what = " " + plural(n, "address", "addresses")
			}
			parts = append(parts, fmt.Sprintf("%s%s in %s", count(n), what, j))
		}
	}
	fmt.Fprintf(&b, "; would ban %s", strings.Join(parts, ", "))
	return b.String()
}

// count formats n with thousands separators.
func count(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// banScanned bans what a scan found in the running daemon, jail by jail,
// in batches. Targets the daemon refuses (an address on its ignore list,
// the administrator's own) are reported and the rest banned.
func banScanned(ctx context.Context, c *control.Client, bans []scan.Ban, w io.Writer) error {
	var jails []string
	byJail := map[string][]string{}
	for _, b := range bans {
		if _, ok := byJail[b.Jail]; !ok {
			jails = append(jails, b.Jail)
		}
		byJail[b.Jail] = append(byJail[b.Jail], b.Target())
	}
	slices.Sort(jails)
	client := ""
	if a, ok := ignore.SSHClient(os.Getenv); ok {
		client = a.String()
	}
	var refusedAll []string
	for _, jail := range jails {
		targets := byJail[jail]
		banned := 0
		var refused []string
		for batch := range slices.Chunk(targets, banBatch) {
			n, ref, err := banBatchOf(ctx, c, jail, batch, client)
			if err != nil {
				if banned > 0 {
					fmt.Fprintf(w, "banned %s %s in %s before the error\n", count(banned), plural(banned, "address", "addresses"), jail)
				}
				return fmt.Errorf("banning in %s: %w", jail, err)
			}
			banned += n
			refused = append(refused, ref...)
		}
		fmt.Fprintf(w, "banned %s %s in %s\n", count(banned), plural(banned, "address", "addresses"), jail)
		for _, r := range refused {
			refusedAll = append(refusedAll, jail+" "+r)
		}
	}
	if len(refusedAll) > 0 {
		return fmt.Errorf("the daemon refused to ban:\n  %s", strings.Join(refusedAll, "\n  "))
	}
	return nil
}

// banBatchOf bans one batch; when the daemon refuses one of its targets,
// it bans them one by one to find which, and returns those with the
// daemon's reason.
func banBatchOf(ctx context.Context, c *control.Client, jail string, targets []string, client string) (int, []string, error) {
	do := func(ts []string) (int, error) {
		ctx, cancel := context.WithTimeout(ctx, clientTimeout)
		defer cancel()
		res, err := c.Ban(ctx, control.BanRequest{Jail: jail, Targets: ts, Client: client})
		return len(res.Bans), err
	}
	n, err := do(targets)
	if !errors.Is(err, control.ErrRefused) {
		return n, nil, err
	}
	// The daemon bans the targets before the refused one: banning them
	// again only refreshes their bans.
	n = 0
	var refused []string
	for _, t := range targets {
		k, err := do([]string{t})
		switch {
		case errors.Is(err, control.ErrRefused):
			refused = append(refused, fmt.Sprintf("%s: %v", t, err))
		case err != nil:
			return n, refused, err
		}
		n += k
	}
	return n, refused, nil
}

// parseTime reads a time as a date (2026-11-01), a date and time
// (2026-11-01 10:00, 2026-11-01T10:00:00) in loc, or RFC 3339.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{time.DateOnly, "2006-01-02 15:04", time.DateTime, "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2026-11-01), a date and time (2026-11-01 10:00) or RFC 3339", s)
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressBar draws a scan's progress on a terminal, at most ten times a
// second: the file, a bar of the bytes read, and lines per second.
type progressBar struct {
	w     io.Writer
	start time.Time
	last  time.Time
}

func newProgressBar(w io.Writer) *progressBar {
	now := time.Now()
	return &progressBar{w: w, start: now}
}

func (p *progressBar) update(pr scan.Progress) {
	now := time.Now()
	if pr.Done {
		fmt.Fprint(p.w, "\r\033[K")
		return
	}
	if now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	fmt.Fprint(p.w, "\r\033[K"+progressLine(pr, now.Sub(p.start)))
}

// progressLine is one line of progress:
// "auth.log (1/3) [#########...........]  45%  12.0/26.7 MiB  1,234,567 lines  812,345 lines/s".
func progressLine(pr scan.Progress, elapsed time.Duration) string {
	var b strings.Builder
	name := pr.File
	if name == scan.Stdin {
		name = "standard input"
	}
	if len(name) > 30 {
		name = "…" + name[len(name)-29:]
	}
	b.WriteString(name)
	if pr.Files > 1 {
		fmt.Fprintf(&b, " (%d/%d)", pr.FileIndex+1, pr.Files)
	}
	const width = 20
	if pr.Size > 0 {
		frac := min(float64(pr.Read)/float64(pr.Size), 1)
		done := int(frac * width)
		fmt.Fprintf(&b, " [%s%s] %3.0f%%  %s/%s", strings.Repeat("#", done), strings.Repeat(".", width-done), frac*100, mib(pr.Read), mib(pr.Size))
	} else {
		fmt.Fprintf(&b, "  %s", mib(pr.Read))
	}
	fmt.Fprintf(&b, "  %s lines", count(pr.Lines))
	if s := elapsed.Seconds(); s > 0 {
		fmt.Fprintf(&b, "  %s lines/s", count(int(float64(pr.Lines)/s)))
	}
	return b.String()
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
