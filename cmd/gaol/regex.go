package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/gaol-project/gaol/internal/config"
	"github.com/gaol-project/gaol/internal/hostres"
	"github.com/gaol-project/gaol/internal/ini"
	"github.com/gaol-project/gaol/internal/match"
	"github.com/gaol-project/gaol/internal/match/pyre"
)

// regexUsage is the synopsis of `gaol regex`.
const regexUsage = `usage: gaol regex [flags] LOG FILTER [IGNOREREGEX]

LOG          a log file, "-" for the standard input, or a log line (several
             lines separated by newlines). A LOG that is not an existing
             file is read as a line if it has a space or tab in it; without
             one it must be an existing file.
FILTER       a filter name (filter.d/NAME in --config DIR, else the embedded
             filters), NAME[opt=val,...] as in a jail's filter line, the path
             of a filter file (with a "/"; its .local and includes are read
             from its directory), or a failregex, which must capture an
             address (<HOST>, <ADDR>, <IP4>, <IP6>, <F-ID>...). A FILTER
             shaped like a name that names no filter is an error unless it
             has a "<" in it (then it is a failregex).
IGNOREREGEX  an ignoreregex added to the filter's, or a filter (name or path)
             whose ignoreregexes are added.

The TZ environment variable (a zone name or a POSIX rule such as
CET-1CEST,M3.5.0,M10.5.0/3) is the zone of timestamps that name none.

flags:`

// regexFlags are the options of `gaol regex`.
type regexFlags struct {
	configDir   string
	asJSON      bool
	out         string
	now         string
	datePattern string
	maxLines    int
	useDNS      string
	timeZone    string
	printAll    struct{ matched, missed, ignored bool }
	printNo     struct{ missed, ignored bool }
	workers     int
}

// parseRegexFlags parses the command line of `gaol regex` into its flags
// and positional arguments.
func parseRegexFlags(args []string, stdout io.Writer) (regexFlags, []string, error) {
	var o regexFlags
	flags := flag.NewFlagSet("regex", flag.ContinueOnError)
	flags.StringVar(&o.configDir, "config", "", "configuration `DIR` (fail2ban layout) whose filter.d is laid over the embedded filters")
	flags.StringVar(&o.configDir, "c", "", "short for --config")
	flags.BoolVar(&o.asJSON, "json", false, "print one JSON object per line of LOG instead of the summary")
	flags.StringVar(&o.out, "out", "", "print only this of each failure, one per line: ip, id, msg (its lines) or a field `NAME` such as user")
	flags.StringVar(&o.out, "o", "", "short for --out")
	flags.StringVar(&o.now, "now", "", "the `TIME` the log is read at, for the year of timestamps that have none (RFC 3339 or 2006-01-02 15:04:05; default: now)")
	flags.StringVar(&o.datePattern, "datepattern", "", "date `PATTERN` replacing the filter's datepattern")
	flags.StringVar(&o.datePattern, "d", "", "short for --datepattern")
	flags.IntVar(&o.maxLines, "maxlines", 0, "lines a failregex may span, replacing the filter's maxlines (`N`)")
	flags.IntVar(&o.maxLines, "L", 0, "short for --maxlines")
	flags.StringVar(&o.useDNS, "usedns", "", "usedns `MODE` for <HOST>: yes, warn (the default), no (addresses only) or raw")
	flags.StringVar(&o.timeZone, "timezone", "", "logtimezone: the `ZONE` of timestamps that name none (UTC, UTC+0200, CET...), over TZ")
	flags.BoolVar(&o.printAll.matched, "print-all-matched", false, "after the summary, print every matched line")
	flags.BoolVar(&o.printAll.missed, "print-all-missed", false, "after the summary, print every missed line, however many")
	flags.BoolVar(&o.printAll.ignored, "print-all-ignored", false, "after the summary, print every ignored line, however many")
	flags.BoolVar(&o.printNo.missed, "print-no-missed", false, "do not print missed lines")
	flags.BoolVar(&o.printNo.ignored, "print-no-ignored", false, "do not print ignored lines")
	flags.IntVar(&o.workers, "workers", 0, "goroutines matching lines (`N`; default: one per core)")
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fmt.Fprintln(stdout, regexUsage)
			flags.SetOutput(stdout)
			flags.PrintDefaults()
			return o, nil, &exitError{code: 0, err: flag.ErrHelp}
		}
	}
	pos, err := parse(flags, args)
	if err != nil {
		return o, nil, err
	}
	if len(pos) < 2 || len(pos) > 3 {
		return o, nil, usageError("%s", regexUsage[:strings.Index(regexUsage, "\n")])
	}
	switch {
	case o.out != "" && o.asJSON:
		return o, nil, usageError("regex: --json and -o exclude each other")
	case o.out != "" && !outFieldRE.MatchString(o.out):
		return o, nil, usageError("regex: -o %q: want ip, id, msg or a field name such as user", o.out)
	case o.printAll.missed && o.printNo.missed:
		return o, nil, usageError("regex: --print-all-missed and --print-no-missed exclude each other")
	case o.printAll.ignored && o.printNo.ignored:
		return o, nil, usageError("regex: --print-all-ignored and --print-no-ignored exclude each other")
	case o.maxLines < 0:
		return o, nil, usageError("regex: --maxlines %d: want a positive number", o.maxLines)
	}
	return o, pos, nil
}

// outFieldRE matches what -o takes.
var outFieldRE = regexp.MustCompile(`^\w+$`)

// cmdRegex is `gaol regex`: fail2ban-regex.
func cmdRegex(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, pos, err := parseRegexFlags(args, stdout)
	if err != nil {
		return err
	}
	loc, warn := envZone(os.LookupEnv)
	if warn != nil {
		fmt.Fprintf(stderr, "warning: %v\n", warn)
	}
	now := time.Now()
	if o.now != "" {
		if now, err = parseRegexNow(o.now, loc); err != nil {
			return usageError("regex: --now: %v", err)
		}
	}
	flt, err := loadRegexFilter(o, pos[1:])
	if err != nil {
		return err
	}
	in, err := openRegexLog(pos[0])
	if err != nil {
		return err
	}
	defer in.close()

	if _, set := os.LookupEnv("GOGC"); !set {
		// One pass over a log, with little kept: collecting garbage less
		// often saves a tenth of the time for twice the memory.
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	w := bufio.NewWriterSize(stdout, 256<<10)
	sink := newRegexSink(w, o, flt, loc)
	r := &regexRun{
		f: flt.compiled,
		opts: match.MatcherOptions{
			Now: func() time.Time { return now }, Location: loc, TimeZone: o.timeZone, CheckAll: o.out == "",
			// Fields are printed by --json and -o FIELD only.
			NoFields: !o.asJSON && (o.out == "" || o.out == "ip" || o.out == "id" || o.out == "fid" || o.out == "msg"),
		},
		now:     now,
		workers: o.workers,
	}
	if flt.compiled.ResolvesNames() {
		r.hosts = &regexHosts{cache: hostres.New(hostres.Options{Lookup: hostLookup}), stderr: stderr}
	}
	if o.asJSON {
		r.render = sink.renderJSON
	}
	start := time.Now()
	if err := r.run(ctx, in, sink); err != nil {
		w.Flush()
		return err
	}
	sink.elapsed = time.Since(start)
	sink.finish(in.name)
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}

// parseRegexNow reads --now: RFC 3339, or a date and time in loc.
func parseRegexNow(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{time.DateTime, "2006-01-02T15:04:05", "2006-01-02 15:04", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-11-01T10:00:00+01:00) nor a local date and time (2026-11-01 10:00:00)", s)
}

// regexFilter is the filter `gaol regex` runs, and where it comes from.
type regexFilter struct {
	name     string         // filter name, or "" for a literal failregex
	file     string         // the file read, "" for a literal failregex
	options  string         // the [opt=val] options, as given
	cfg      *config.Filter // nil for a literal failregex
	ignoreBy string         // the filter whose ignoreregexes IGNOREREGEX named, if any
	spec     match.Spec
	compiled *match.Filter
	exprs    []match.Expr
}

// filterArgRE recognizes a FILTER shaped like a filter name or path, as
// fail2ban-regex does.
var filterArgRE = regexp.MustCompile(`(?s)^[\w/.\-]+(?:\[.*\])?$`)

// loadRegexFilter resolves FILTER and IGNOREREGEX and compiles them with
// the flags' overrides.
func loadRegexFilter(o regexFlags, args []string) (*regexFilter, error) {
	rf := &regexFilter{}
	arg := args[0]
	cf, err := findFilter(o.configDir, arg)
	switch {
	case err == nil:
		rf.cfg, rf.name, rf.file = cf, cf.Name, cf.File
		if i := strings.IndexByte(arg, '['); i >= 0 {
			rf.options = arg[i:]
		}
		rf.spec = match.Spec{
			Name: cf.Name, PrefRegex: cf.PrefRegex.Expr, DatePattern: cf.DatePattern,
			MaxLines: cf.MaxLines, Category: cf.Category,
		}
		for _, r := range cf.FailRegex {
			rf.spec.FailRegex = append(rf.spec.FailRegex, r.Expr)
		}
		for _, r := range cf.IgnoreRegex {
			rf.spec.IgnoreRegex = append(rf.spec.IgnoreRegex, r.Expr)
		}
	case errors.Is(err, errNotFilterShape) || literalArg(err) && strings.Contains(arg, "<"):
		// A failregex (one may look like a name with [options]).
		rf.spec = match.Spec{FailRegex: []string{arg}}
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("regex: unknown filter: %w; a failregex must capture an address with a tag such as <HOST>", unwrapNotExist(err))
	default:
		return nil, fmt.Errorf("regex: %w", err)
	}
	if len(args) > 1 {
		ig := args[1]
		switch cf, err := findFilter(o.configDir, ig); {
		case err == nil:
			rf.ignoreBy = cf.Name
			for _, r := range cf.IgnoreRegex {
				rf.spec.IgnoreRegex = append(rf.spec.IgnoreRegex, r.Expr)
			}
		case literalArg(err):
			rf.spec.IgnoreRegex = append(rf.spec.IgnoreRegex, ig)
		default:
			return nil, fmt.Errorf("regex: IGNOREREGEX: %w", err)
		}
	}
	if o.datePattern != "" {
		rf.spec.DatePattern = o.datePattern
	}
	if o.maxLines > 0 {
		rf.spec.MaxLines = o.maxLines
	}
	rf.spec.UseDNS = o.useDNS
	if rf.compiled, err = compileRegexFilter(rf); err != nil {
		return nil, err
	}
	rf.exprs = rf.compiled.Exprs()
	return rf, nil
}

// errNotFilterShape: an argument cannot name a filter.
var errNotFilterShape = errors.New("not a filter name or path")

// findFilter loads the filter arg names, if it is shaped like a name or a
// path.
func findFilter(dir, arg string) (*config.Filter, error) {
	if !filterArgRE.MatchString(arg) {
		return nil, errNotFilterShape
	}
	return config.LoadFilter(dir, arg)
}

// literalArg reports whether an argument that findFilter could not load
// may be an expression: it is not shaped like a filter, or no filter file
// was found or is at fault (a file's error is an *ini.Error).
func literalArg(err error) bool {
	var ie *ini.Error
	return errors.Is(err, errNotFilterShape) || !errors.As(err, &ie)
}

// unwrapNotExist drops the final ": file does not exist" of a not-found
// error, which says nothing the rest does not.
func unwrapNotExist(err error) error {
	msg := strings.TrimSuffix(err.Error(), ": "+fs.ErrNotExist.Error())
	return errors.New(msg)
}

// compileRegexFilter compiles the filter; an error names the expression at
// fault, and for a filter file its file and line (as the daemon's
// CompileFilter does).
func compileRegexFilter(rf *regexFilter) (*match.Filter, error) {
	f, err := match.Compile(rf.spec)
	if err == nil {
		return f, nil
	}
	if rf.cfg == nil {
		return nil, fmt.Errorf("regex: %w", err)
	}
	// Compile each expression of the file alone to point at its line.
	base := match.Spec{UseDNS: rf.spec.UseDNS, MaxLines: rf.spec.MaxLines}
	check := func(kind string, rs []config.Regex, mk func(string) match.Spec) error {
		for i, r := range rs {
			s := mk(r.Expr)
			s.UseDNS, s.MaxLines = base.UseDNS, base.MaxLines
			if _, err := match.Compile(s); err != nil {
				return fmt.Errorf("regex: %s: filter %q: %s #%d %q: %w", r.Loc, rf.name, kind, i+1, r.Expr, exprError(err))
			}
		}
		return nil
	}
	if rf.cfg.PrefRegex.Expr != "" {
		if e := check("prefregex", []config.Regex{rf.cfg.PrefRegex}, func(s string) match.Spec {
			return match.Spec{PrefRegex: s, FailRegex: []string{"<HOST>"}}
		}); e != nil {
			return nil, e
		}
	}
	// A failregex may rely on the prefregex for its address group.
	pref := rf.cfg.PrefRegex.Expr
	if e := check("failregex", rf.cfg.FailRegex, func(s string) match.Spec {
		return match.Spec{PrefRegex: pref, FailRegex: []string{s}}
	}); e != nil {
		return nil, e
	}
	if e := check("ignoreregex", rf.cfg.IgnoreRegex, func(s string) match.Spec {
		return match.Spec{FailRegex: []string{"<HOST>"}, IgnoreRegex: []string{s}}
	}); e != nil {
		return nil, e
	}
	return nil, fmt.Errorf("regex: %s: %w", rf.file, err)
}

// exprError returns why match.Compile refused a filter of one
// expression, without its "failregex #1 ..." wrapping.
func exprError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) == 1 {
		if inner := errors.Unwrap(j.Unwrap()[0]); inner != nil {
			return inner
		}
	}
	return err
}

// regexLog is the LOG argument being read.
type regexLog struct {
	name  string    // the file, "-", or "" for literal lines
	r     io.Reader // nil for literal lines
	lines []string  // literal lines
	close func() error
}

// openRegexLog opens LOG: an existing file, "-" for the standard input,
// or literal lines.
func openRegexLog(arg string) (*regexLog, error) {
	if arg == "-" {
		return &regexLog{name: "-", r: os.Stdin, close: func() error { return nil }}, nil
	}
	fi, err := os.Stat(arg)
	switch {
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("regex: LOG %s is a directory", arg)
	case err == nil:
		f, err := os.Open(arg)
		if err != nil {
			return nil, fmt.Errorf("regex: %w", err)
		}
		return &regexLog{name: arg, r: f, close: f.Close}, nil
	case strings.ContainsAny(arg, " \t\n"):
		return &regexLog{lines: strings.Split(strings.TrimSuffix(arg, "\n"), "\n"), close: func() error { return nil }}, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("regex: LOG %q: no such file (a LOG that is not a file is read as a log line only if it has a space in it)", arg)
	}
	return nil, fmt.Errorf("regex: LOG: %w", err)
}

// regexBlockSize is how much of LOG is read at once; a block's lines are
// matched by one worker. A longer line is cut, the rest read as the next
// line.
const regexBlockSize = 1 << 20

// regexBlock is a block of lines on its way through the workers.
type regexBlock struct {
	first int // line number of lines[0], 1-based
	lines []string
	res   []regexLine
	done  chan struct{}
}

// regexLine is what a worker found on one line.
type regexLine struct {
	skip    bool // a comment or empty line: fail2ban-regex does not test it
	line    match.Line
	fails   []match.Failure
	ignored bool         // an ignoreregex matched
	search  match.Search // (modeSearch) what the regular expressions found
	json    []byte       // the line as --json prints it, if a worker wrote it
	// names, parallel to fails (nil if no failure names a host), are the
	// lookups of the host names failures name (usedns yes or warn).
	names []*nameLookup
}

// lookup returns the lookup of the host name failure k names, or nil.
func (lr *regexLine) lookup(k int) *nameLookup {
	if lr.names == nil {
		return nil
	}
	return lr.names[k]
}

// dropped reports whether failure k names a host that did not resolve:
// as in fail2ban, it is no failure.
func (lr *regexLine) dropped(k int) bool {
	n := lr.lookup(k)
	return n != nil && n.err != nil
}

// regexRun matches a log with a filter.
type regexRun struct {
	f *match.Filter
	// render, if set, writes a line's output in the worker (modeParallel).
	render  func(n int, lr *regexLine) []byte
	opts    match.MatcherOptions
	now     time.Time
	workers int
	// hosts resolves host names (usedns yes or warn); nil: they are not.
	hosts *regexHosts
}

// regexMode is how lines are matched.
type regexMode int

const (
	// modeParallel: a stateless filter; each worker matches its blocks
	// with its own Matcher.
	modeParallel regexMode = iota
	// modeSearch: a filter with <F-MLFID> state on single lines. Workers
	// run its regular expressions (match.Search); only the state is
	// applied, in order, by one Matcher.
	modeSearch
	// modeOrdered: a multi-line filter.
	// Workers find the dates; every line goes through one Matcher, in
	// order.
	modeOrdered
)

func (r *regexRun) mode() regexMode {
	switch {
	case !r.f.Searchable():
		return modeOrdered
	case r.f.Stateful():
		return modeSearch
	}
	return modeParallel
}

// workerCount is how many workers match lines.
func (r *regexRun) workerCount() int {
	if r.workers > 0 {
		return r.workers
	}
	return runtime.GOMAXPROCS(0)
}

// ignoreCount sums a Matcher's ignoreregex hits.
func ignoreCount(m *match.Matcher) int {
	_, ih := m.Hits()
	n := 0
	for _, k := range ih {
		n += k
	}
	return n
}

// run reads in, matches its lines and hands them to sink in order.
//
// A reader cuts the log into blocks; workers match them (or, for filters
// with state, find what can be found out of order); the blocks come back
// in order, here, where a filter with state sees its lines through one
// Matcher.
func (r *regexRun) run(ctx context.Context, in *regexLog, sink *regexSink) error {
	workers := r.workerCount()
	mode := r.mode()
	matchers := make([]*match.Matcher, workers+1)
	for i := range matchers {
		m, err := r.f.NewMatcher(r.opts)
		if err != nil {
			return fmt.Errorf("regex: %w", err)
		}
		matchers[i] = m
	}
	seq := matchers[workers] // the ordered Matcher (modeSearch, modeOrdered)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *regexBlock, workers)
	ordered := make(chan *regexBlock, 2*workers)
	readErr := make(chan error, 1)
	go func() {
		defer close(work)
		defer close(ordered)
		readErr <- readRegexBlocks(ctx, in, work, ordered)
	}()
	var wg sync.WaitGroup
	for _, m := range matchers[:workers] {
		wg.Go(func() {
			for b := range work {
				r.matchBlock(ctx, m, mode, b)
				close(b.done)
			}
		})
	}
	// The output of a block is written while the next is matched.
	var out chan *regexBlock
	var outDone sync.WaitGroup
	if sink.streams() {
		out = make(chan *regexBlock, 2)
		outDone.Go(func() {
			for b := range out {
				sink.write(b)
			}
		})
		defer outDone.Wait()
		defer close(out)
	}
	carry := dateCarry{now: r.now}
	for b := range ordered {
		select {
		case <-b.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		for i := range b.res {
			lr := &b.res[i]
			if lr.skip {
				continue
			}
			t, carried := carry.next(lr.line)
			switch {
			case mode == modeParallel && !lr.line.HasTime && len(lr.fails) > 0:
				// The worker's Matcher carried the date of its own
				// previous line.
				for k := range lr.fails {
					lr.fails[k].Time, lr.fails[k].HasTime = t, carried
				}
				lr.json = nil
			case mode == modeSearch && lr.search.Empty():
				// Nothing to apply: no failure and no state (most lines).
			case mode == modeOrdered || mode == modeSearch:
				l := lr.line
				if carried {
					l.Time, l.HasTime = t, true
				}
				ig := ignoreCount(seq)
				if mode == modeSearch {
					lr.fails = seq.Apply(l, lr.search)
				} else {
					lr.fails = seq.Match(l)
				}
				lr.ignored = ignoreCount(seq) > ig
				if r.hosts != nil {
					lr.names = r.hosts.resolve(ctx, lr.fails)
				}
			}
			sink.add(b.first+i, lr)
		}
		if out != nil {
			out <- b
		}
	}
	if err := <-readErr; err != nil {
		return err
	}
	wg.Wait()
	counted := []*match.Matcher{seq}
	if mode == modeParallel {
		counted = matchers[:workers]
	}
	for _, m := range counted {
		_, ih := m.Hits()
		for k, n := range ih {
			sink.ignoreHits[k] += n
		}
	}
	return nil
}

// dateCarry follows the date of the lines in log order: a line without one
// takes the last line's if that is less than a minute before now, as in
// fail2ban.
type dateCarry struct {
	now     time.Time
	last    time.Time
	hasLast bool
}

// next returns the date a line without one carries (carried false: none),
// and notes the line's own date.
func (c *dateCarry) next(l match.Line) (time.Time, bool) {
	if l.HasTime {
		c.last, c.hasLast = l.Time, true
		return time.Time{}, false
	}
	if c.hasLast && c.last.After(c.now.Add(-time.Minute)) {
		return c.last, true
	}
	return time.Time{}, false
}

// trimEOL drops the "\r" and "\n" that end s, as strings.TrimRight(s,
// "\r\n") does without building its set of bytes on every line.
func trimEOL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

// matchBlock does a worker's part for a block.
func (r *regexRun) matchBlock(ctx context.Context, m *match.Matcher, mode regexMode, b *regexBlock) {
	b.res = make([]regexLine, len(b.lines))
	for i, raw := range b.lines {
		lr := &b.res[i]
		raw = trimEOL(raw)
		if raw == "" || raw[0] == '#' {
			lr.skip = true
			continue
		}
		switch mode {
		case modeOrdered:
			lr.line = match.Prepare(raw, m.Detector())
		case modeSearch:
			lr.line = match.Prepare(raw, m.Detector())
			lr.search = r.f.Search(lr.line, r.opts.CheckAll)
		default:
			ig := ignoreCount(m)
			lr.line, lr.fails = m.MatchRaw(raw)
			lr.ignored = ignoreCount(m) > ig
			if r.hosts != nil {
				lr.names = r.hosts.resolve(ctx, lr.fails)
			}
			if r.render != nil {
				lr.json = r.render(b.first+i, lr)
			}
		}
	}
}

// readRegexBlocks cuts the log into blocks of whole lines and hands each
// to the workers and, in order, to the consumer.
func readRegexBlocks(ctx context.Context, in *regexLog, work, ordered chan<- *regexBlock) error {
	send := func(b *regexBlock) error {
		// The consumer gets it first, so that it waits for the blocks in
		// the order they were read.
		select {
		case ordered <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case work <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	if in.r == nil {
		return send(&regexBlock{first: 1, lines: in.lines, done: make(chan struct{})})
	}
	buf := make([]byte, regexBlockSize)
	carry, next := 0, 1
	for eof := false; !eof; {
		if carry == len(buf) {
			// A line longer than a block is cut there.
			b := &regexBlock{first: next, lines: []string{string(buf)}, done: make(chan struct{})}
			if err := send(b); err != nil {
				return err
			}
			carry = 0
			next++
		}
		n, err := io.ReadFull(in.r, buf[carry:])
		end := carry + n
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			eof = true
		case err != nil:
			return fmt.Errorf("regex: reading %s: %w", in.name, err)
		}
		cut := bytes.LastIndexByte(buf[:end], '\n') + 1
		if eof {
			cut = end
		}
		if cut == 0 {
			carry = end
			continue
		}
		// One copy per block: its lines are substrings of it.
		s := string(buf[:cut])
		carry = copy(buf, buf[cut:end])
		lines := splitRegexLines(s)
		if len(lines) == 0 {
			continue
		}
		if err := send(&regexBlock{first: next, lines: lines, done: make(chan struct{})}); err != nil {
			return err
		}
		next += len(lines)
	}
	return nil
}

// splitRegexLines splits a block into lines, without their "\n".
func splitRegexLines(s string) []string {
	lines := make([]string, 0, len(s)/100+1)
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i])
		s = s[i+1:]
	}
	return lines
}

// regexPrintLimit is how many missed or ignored lines the summary prints
// without --print-all-* (fail2ban-regex's).
const regexPrintLimit = 20

// regexSink gathers the results and writes the output.
type regexSink struct {
	w     *bufio.Writer
	o     regexFlags
	flt   *regexFilter
	loc   *time.Location
	multi bool // the filter spans lines: fail2ban-regex's counting of them
	// fields are the captured fields --json shows.
	fields map[string]bool

	tested, matched, ignored, missed int
	failHits, ignoreHits             []int
	elapsed                          time.Duration

	matchedLines, missedLines, ignoredLines []numberedLine
	// hostNames are the host names failures named, with their lookups.
	hostNames map[string]*nameLookup
	// recent are the last tested lines of a multi-line filter, which a
	// later failure may span.
	recent []recentLine
}

type numberedLine struct {
	n    int
	text string
}

type recentLine struct {
	n     int
	raw   string
	class lineClass
}

type lineClass int

const (
	classMissed lineClass = iota
	classMatched
	classIgnored
)

func newRegexSink(w *bufio.Writer, o regexFlags, flt *regexFilter, loc *time.Location) *regexSink {
	s := &regexSink{
		w: w, o: o, flt: flt, loc: loc, multi: flt.compiled.MaxLines() > 1, fields: fieldSet(flt.exprs),
		failHits:   make([]int, len(flt.spec.FailRegex)),
		ignoreHits: make([]int, len(flt.spec.IgnoreRegex)),
	}
	return s
}

// regexJSON is a line as --json prints it.
type regexJSON struct {
	Line     int               `json:"line"`
	Match    bool              `json:"match"`
	Ignored  bool              `json:"ignored"`
	Host     string            `json:"host,omitempty"`
	Time     string            `json:"time,omitempty"`
	Regex    int               `json:"regex,omitempty"` // the failregex that matched, from 1
	Category string            `json:"category,omitempty"`
	Fields   map[string]string `json:"fields,omitempty"`
	// Addrs are the addresses the host name Host resolved to (usedns yes
	// or warn); the failure counts for each.
	Addrs []string `json:"addrs,omitempty"`
	// DNSError: the line's failure names the host Host, which did not
	// resolve, so the line is missed.
	DNSError string `json:"dns_error,omitempty"`
}

// classify tells whether a line is matched, ignored or missed, as
// fail2ban-regex does: ignored if an ignoreregex or a helper match
// (<F-NOFAIL>) vetoed it, else matched if a failure (even one whose address
// is not known yet, but not one whose host name did not resolve) was
// found. first is the index of the first failure if matched, else -1.
func classify(lr *regexLine) (class lineClass, first int) {
	ignored, first := lr.ignored, -1
	for k := range lr.fails {
		switch {
		case lr.fails[k].NoFail:
			ignored = true
		case lr.dropped(k):
		case first < 0:
			first = k
		}
	}
	switch {
	case ignored:
		return classIgnored, -1
	case first >= 0:
		return classMatched, first
	}
	return classMissed, -1
}

// renderJSON returns line n as --json prints it. It does not change s:
// workers call it.
func (s *regexSink) renderJSON(n int, lr *regexLine) []byte {
	class, k := classify(lr)
	v := regexJSON{Line: n, Match: class == classMatched, Ignored: class == classIgnored}
	if class == classMissed {
		for _, nl := range lr.names {
			if nl != nil && nl.err != nil {
				v.Host, v.DNSError = nl.name, nl.err.Error()
				break
			}
		}
	}
	if k >= 0 {
		first := &lr.fails[k]
		v.Host = failureHost(first)
		if nl := lr.lookup(k); nl != nil {
			v.Addrs = make([]string, len(nl.addrs))
			for i, a := range nl.addrs {
				v.Addrs[i] = a.String()
			}
		}
		if first.HasTime {
			v.Time = first.Time.In(s.loc).Format(time.RFC3339Nano)
		}
		v.Regex = first.Regex + 1
		v.Category = first.Category
		v.Fields = publicFields(first.Fields, s.fields)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v) //nolint:errcheck // plain strings and a map of strings
	return b.Bytes()
}

// add counts a tested line, in order.
func (s *regexSink) add(n int, lr *regexLine) {
	s.tested++
	if s.o.out != "" {
		return
	}
	class, _ := classify(lr)
	for k := range lr.fails {
		// A failure that names a host counts for each of its addresses,
		// as in fail2ban-regex.
		n := 1
		if nl := lr.lookup(k); nl != nil {
			n = len(nl.addrs)
			if s.hostNames == nil {
				s.hostNames = map[string]*nameLookup{}
			}
			s.hostNames[nl.name] = nl
		}
		s.failHits[lr.fails[k].Regex] += n
	}
	switch class {
	case classIgnored:
		s.ignored++
	case classMatched:
		s.matched++
	default:
		s.missed++
	}
	if s.multi {
		fails := lr.fails
		if lr.names != nil {
			fails = nil
			for k := range lr.fails {
				if !lr.dropped(k) {
					fails = append(fails, lr.fails[k])
				}
			}
		}
		s.spanned(fails)
	}
	if !s.o.asJSON {
		s.keep(n, lr.line.Raw, class)
	}
}

// streams reports whether the output is written line by line (--json,
// -o), by write.
func (s *regexSink) streams() bool { return s.o.asJSON || s.o.out != "" }

// write writes the output of the tested lines of a block, in order. It
// runs beside add (one block behind), and reads only what add does not
// change.
func (s *regexSink) write(b *regexBlock) {
	for i := range b.res {
		lr := &b.res[i]
		switch {
		case lr.skip:
		case s.o.out != "":
			s.printOut(lr)
		default:
			if lr.json == nil {
				lr.json = s.renderJSON(b.first+i, lr)
			}
			s.w.Write(lr.json) //nolint:errcheck // the writer's error shows at Flush
		}
	}
}

// keep remembers a line for the lists printed after the summary.
func (s *regexSink) keep(n int, raw string, class lineClass) {
	// Clones: a kept substring would keep its whole block alive.
	switch class {
	case classMatched:
		if s.o.printAll.matched {
			s.matchedLines = append(s.matchedLines, numberedLine{n, strings.Clone(raw)})
		}
	case classIgnored:
		if !s.o.printNo.ignored && (s.o.printAll.ignored || len(s.ignoredLines) <= regexPrintLimit) {
			s.ignoredLines = append(s.ignoredLines, numberedLine{n, strings.Clone(raw)})
		}
	default:
		if !s.o.printNo.missed && (s.o.printAll.missed || len(s.missedLines) <= regexPrintLimit) {
			s.missedLines = append(s.missedLines, numberedLine{n, strings.Clone(raw)})
		}
	}
	if s.multi {
		if max := s.flt.compiled.MaxLines(); len(s.recent) >= max {
			s.recent = slices.Delete(s.recent, 0, len(s.recent)-max+1)
		}
		s.recent = append(s.recent, recentLine{n: n, raw: strings.Clone(raw), class: class})
	}
}

// spanned counts, as fail2ban-regex does, the earlier lines a multi-line
// failure spans as matched rather than missed. (fail2ban-regex sees the
// lines leave the filter's buffer; here they are the failure's lines among
// the last maxlines ones.)
func (s *regexSink) spanned(fails []match.Failure) {
	for _, fl := range fails {
		for _, raw := range fl.Matches {
			for k := len(s.recent) - 1; k >= 0; k-- {
				r := &s.recent[k]
				if r.raw != raw || r.class != classMissed {
					continue
				}
				r.class = classMatched
				s.missed--
				s.matched++
				if i := slices.IndexFunc(s.missedLines, func(l numberedLine) bool { return l.n == r.n }); i >= 0 {
					s.missedLines = slices.Delete(s.missedLines, i, i+1)
				}
				if s.o.printAll.matched {
					s.matchedLines = append(s.matchedLines, numberedLine{r.n, r.raw})
				}
				break
			}
		}
	}
}

// printOut prints the -o part of each failure of a line: of a failure
// that names a host, once for each of its addresses (none if it did not
// resolve), as fail2ban-regex does.
func (s *regexSink) printOut(lr *regexLine) {
	for k := range lr.fails {
		fl := &lr.fails[k]
		if fl.NoFail || fl.Pending {
			continue
		}
		nl := lr.lookup(k)
		if nl == nil {
			s.printFailure(fl, failureHost(fl))
			continue
		}
		for _, a := range nl.addrs {
			s.printFailure(fl, a.String())
		}
	}
}

// printFailure prints the -o part of a failure whose address is host.
func (s *regexSink) printFailure(fl *match.Failure, host string) {
	switch s.o.out {
	case "ip":
		s.w.WriteString(host)
	case "id", "fid":
		if fl.ID != "" {
			s.w.WriteString(fl.ID)
		} else {
			s.w.WriteString(host)
		}
	case "msg":
		s.w.WriteString(strings.Join(fl.Matches, "\n"))
	default:
		s.w.WriteString(fl.Fields[s.o.out])
	}
	s.w.WriteByte('\n')
}

// failureHost is the address of a failure as fail2ban prints it (with its
// prefix length if the filter captured one), or its host name.
func failureHost(fl *match.Failure) string {
	if !fl.Addr.IsValid() {
		return fl.Host
	}
	if fl.Bits > 0 {
		return fl.Addr.String() + "/" + strconv.Itoa(fl.Bits)
	}
	return fl.Addr.String()
}

// hostLookup looks up the host names failures name under usedns = yes or
// warn, for `gaol regex` and `gaol server`; tests replace it.
var hostLookup hostres.Lookuper = net.DefaultResolver

// regexHosts resolves the host names failures name, as fail2ban-regex
// does under usedns = yes or warn: a failure counts once for each address
// of its name, and not at all if the name does not resolve. Names are
// looked up once (hostres caches them).
type regexHosts struct {
	cache  *hostres.Cache
	mu     sync.Mutex // for stderr
	stderr io.Writer
}

// nameLookup is a host name a failure names and what it resolved to.
type nameLookup struct {
	name  string
	addrs []netip.Addr
	err   error
}

// resolve looks up the host names of a line's failures. The result is
// parallel to fails, nil if no failure names a host. A lookup that fails
// is reported once on the standard error.
func (h *regexHosts) resolve(ctx context.Context, fails []match.Failure) []*nameLookup {
	var out []*nameLookup
	for k := range fails {
		fl := &fails[k]
		if !failureNamesHost(fl) {
			continue
		}
		addrs, fresh, err := h.cache.Resolve(ctx, fl.Host)
		if err != nil && fresh {
			h.mu.Lock()
			fmt.Fprintf(h.stderr, "warning: unable to find a corresponding IP address for %s: %v\n", fl.Host, err)
			h.mu.Unlock()
		}
		if out == nil {
			out = make([]*nameLookup, len(fails))
		}
		out[k] = &nameLookup{name: fl.Host, addrs: addrs, err: err}
	}
	return out
}

// failureNamesHost reports whether a failure's identifier is a host name
// (the text of <HOST> or <DNS>, not an address or an <F-ID>).
func failureNamesHost(fl *match.Failure) bool {
	return !fl.NoFail && !fl.Pending && !fl.Addr.IsValid() && fl.HostName
}

// printHostNames writes the summary's list of host names and their
// addresses.
func (s *regexSink) printHostNames() {
	if len(s.hostNames) == 0 {
		return
	}
	names := make([]string, 0, len(s.hostNames))
	resolved := 0
	for n, nl := range s.hostNames {
		names = append(names, n)
		if nl.err == nil {
			resolved++
		}
	}
	sort.Strings(names)
	fmt.Fprintf(s.w, "\nHost names: %s resolved, %s not (a failure counts for each address)\n", count(resolved), count(len(names)-resolved))
	tw := tabwriter.NewWriter(s.w, 0, 8, 2, ' ', 0)
	for i, n := range names {
		if i == regexPrintLimit {
			fmt.Fprintf(tw, "  ... and %s more\n", count(len(names)-i))
			break
		}
		nl := s.hostNames[n]
		if nl.err != nil {
			fmt.Fprintf(tw, "  %s\tnot resolved: %v\n", n, nl.err)
			continue
		}
		addrs := make([]string, len(nl.addrs))
		for k, a := range nl.addrs {
			addrs[k] = a.String()
		}
		fmt.Fprintf(tw, "  %s\t%s\n", n, strings.Join(addrs, " "))
	}
	tw.Flush()
}

// fieldTagRE finds the field tags of an expression (<F-USER>, <F-ID/>).
var fieldTagRE = regexp.MustCompile(`<F-([A-Z0-9_\-]+)/?>`)

// internalFields are field groups with a meaning to the matcher, which
// --json does not show among a failure's fields.
var internalFields = map[string]bool{
	"fid": true, "nofail": true, "mlfid": true, "mlfforget": true, "mlfgained": true, "content": true,
}

// altFieldRE parses the names of alt_ and tuple_ fields, which the matcher
// merges into the field they name.
var altFieldRE = regexp.MustCompile(`^(?:alt|tuple)_(.*?)(?:_\d+)?$`)

// fieldSet returns the names of the fields the filter's expressions
// capture with field tags, as group names (<F-USER> is "user", <F-PORT/>
// "fport"), without those the matcher uses itself.
func fieldSet(exprs []match.Expr) map[string]bool {
	out := map[string]bool{}
	for _, e := range exprs {
		for _, m := range fieldTagRE.FindAllStringSubmatch(e.Source, -1) {
			name := strings.ToLower(m[1])
			switch name {
			case "id":
				name = "fid"
			case "port":
				name = "fport"
			}
			if a := altFieldRE.FindStringSubmatch(name); a != nil {
				name = a[1]
			}
			if !internalFields[name] {
				out[name] = true
			}
		}
	}
	return out
}

// publicFields returns the fields of a failure that --json shows.
func publicFields(fields map[string]string, show map[string]bool) map[string]string {
	var out map[string]string
	for k, v := range fields {
		if !show[k] {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}

// finish writes the summary (not for --json or -o).
func (s *regexSink) finish(logName string) {
	if s.o.asJSON || s.o.out != "" {
		return
	}
	w := s.w
	f := s.flt
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	switch {
	case f.cfg != nil:
		fmt.Fprintf(tw, "Filter\t%s%s (%s)\n", f.name, f.options, f.file)
	default:
		fmt.Fprintf(tw, "Filter\ta failregex given on the command line\n")
	}
	if f.ignoreBy != "" {
		fmt.Fprintf(tw, "Ignoreregex from\t%s\n", f.ignoreBy)
	}
	if f.spec.Category != "" {
		fmt.Fprintf(tw, "Category\t%s\n", f.spec.Category)
	}
	switch logName {
	case "":
		fmt.Fprintf(tw, "Log\tgiven on the command line\n")
	case "-":
		fmt.Fprintf(tw, "Log\tstandard input\n")
	default:
		fmt.Fprintf(tw, "Log\t%s\n", logName)
	}
	if p := f.compiled.DatePattern(); p != "" {
		fmt.Fprintf(tw, "Date pattern\t%s\n", strings.ReplaceAll(p, "\n", " | "))
	} else {
		fmt.Fprintf(tw, "Date pattern\tfail2ban's default templates\n")
	}
	fmt.Fprintf(tw, "Maxlines\t%d\n", f.compiled.MaxLines())
	if f.spec.UseDNS != "" {
		fmt.Fprintf(tw, "Usedns\t%s\n", f.spec.UseDNS)
	}
	switch {
	case f.compiled.MaxLines() > 1:
		fmt.Fprintf(tw, "Matching\tin log order (multi-line)\n")
	case f.compiled.Stateful():
		fmt.Fprintf(tw, "Matching\tin log order (<F-MLFID> connections)\n")
	default:
		fmt.Fprintf(tw, "Matching\tline by line, on every core\n")
	}
	tw.Flush()

	engine := func(e match.Expr) string {
		s := "RE2"
		if e.Engine != pyre.RE2 {
			s = "regexp2"
		}
		if e.Fast {
			s += ", fast first"
		}
		return s
	}
	list := func(title string, kind string, hits []int) {
		total := 0
		for _, n := range hits {
			total += n
		}
		fmt.Fprintf(w, "\n%s: %s %s\n", title, count(total), plural(total, "hit", "hits"))
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintf(tw, "  #\thits\tengine\tregex\n")
		for _, e := range f.exprs {
			if e.Kind != kind {
				continue
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", e.Index+1, count(hits[e.Index]), engine(e), e.Source)
		}
		tw.Flush()
	}
	for _, e := range f.exprs {
		if e.Kind == "prefregex" {
			fmt.Fprintf(w, "\nPrefregex: %s\n  %s\n", engine(e), e.Source)
		}
	}
	list("Failregex", "failregex", s.failHits)
	if len(f.spec.IgnoreRegex) > 0 {
		list("Ignoreregex", "ignoreregex", s.ignoreHits)
	}
	s.printHostNames()
	fmt.Fprintf(w, "\nLines: %s %s, %s matched, %s ignored, %s missed\n",
		count(s.tested), plural(s.tested, "line", "lines"), count(s.matched), count(s.ignored), count(s.missed))
	rate := ""
	if sec := s.elapsed.Seconds(); sec > 0 {
		rate = fmt.Sprintf(", %s lines/s", count(int(float64(s.tested)/sec)))
	}
	fmt.Fprintf(w, "Time: %.2f s%s\n", s.elapsed.Seconds(), rate)

	printLines := func(title string, n int, lines []numberedLine, all bool, flag string) {
		if n == 0 {
			return
		}
		if !all && n >= regexPrintLimit {
			fmt.Fprintf(w, "\n%s lines: %s, too many to print; use %s to print them all\n", title, count(n), flag)
			return
		}
		fmt.Fprintf(w, "\n%s lines: %s\n", title, count(n))
		sort.Slice(lines, func(i, j int) bool { return lines[i].n < lines[j].n })
		for _, l := range lines {
			fmt.Fprintf(w, "  %d: %s\n", l.n, l.text)
		}
	}
	if s.o.printAll.matched {
		printLines("Matched", s.matched, s.matchedLines, true, "--print-all-matched")
	}
	if !s.o.printNo.ignored {
		printLines("Ignored", s.ignored, s.ignoredLines, s.o.printAll.ignored, "--print-all-ignored")
	}
	if !s.o.printNo.missed {
		printLines("Missed", s.missed, s.missedLines, s.o.printAll.missed, "--print-all-missed")
	}
}

// envZone returns the zone of timestamps that name none, from TZ as the C
// library reads it: unset, the system's zone (time.Local); empty, UTC; a
// zone name or file (":" first is allowed); or a POSIX rule such as
// "CET-1CEST,M3.5.0,M10.5.0/3", which Go's time package does not read
// (it falls back to UTC). A TZ that is none of these gives UTC and a
// warning.
func envZone(lookup func(string) (string, bool)) (*time.Location, error) {
	tz, ok := lookup("TZ")
	if !ok {
		return time.Local, nil
	}
	tz = strings.TrimPrefix(tz, ":")
	if tz == "" {
		return time.UTC, nil
	}
	if strings.HasPrefix(tz, "/") {
		data, err := os.ReadFile(tz)
		if err == nil {
			if loc, err := time.LoadLocationFromTZData(tz, data); err == nil {
				return loc, nil
			}
		}
	} else if loc, err := time.LoadLocation(tz); err == nil {
		return loc, nil
	}
	loc, err := posixZone(tz)
	if err != nil {
		return time.UTC, fmt.Errorf("TZ=%q is neither a known zone nor a POSIX TZ rule (%v): timestamps without a zone are read as UTC", tz, err)
	}
	return loc, nil
}

// posixZone returns a location for a POSIX TZ rule ("EST5EDT",
// "CET-1CEST,M3.5.0,M10.5.0/3", "<+0330>-3:30"): a TZif with no
// transitions and the rule as its footer, which Go's time package applies
// to every instant.
func posixZone(rule string) (*time.Location, error) {
	name, offset, err := checkPosixTZ(rule)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	header := func() {
		b.WriteString("TZif2")
		b.Write(make([]byte, 15))
		// isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
		for _, n := range []uint32{0, 0, 0, 0, 1, uint32(len(name) + 1)} {
			binary.Write(&b, binary.BigEndian, n) //nolint:errcheck // bytes.Buffer
		}
		binary.Write(&b, binary.BigEndian, int32(offset)) //nolint:errcheck // bytes.Buffer
		b.Write([]byte{0, 0})
		b.WriteString(name + "\x00")
	}
	header() // version 1 data
	header() // version 2 data
	b.WriteString("\n" + rule + "\n")
	return time.LoadLocationFromTZData(rule, b.Bytes())
}

// checkPosixTZ validates a POSIX TZ rule (std offset [dst [offset]
// [,start[/time],end[/time]]]) and returns its standard time's name and
// offset east of UTC in seconds.
func checkPosixTZ(s string) (string, int, error) {
	p := &tzParser{s: s}
	std, ok := p.name()
	if !ok {
		return "", 0, errors.New("no zone name of 3 or more letters first")
	}
	off, ok := p.offset(24)
	if !ok {
		return "", 0, errors.New("no UTC offset after the zone name")
	}
	if p.done() {
		return std, -off, nil
	}
	if _, ok := p.name(); !ok {
		return "", 0, fmt.Errorf("unexpected %q", p.s[p.i:])
	}
	if !p.done() && p.s[p.i] != ',' {
		if _, ok := p.offset(24); !ok {
			return "", 0, fmt.Errorf("bad daylight saving offset at %q", p.s[p.i:])
		}
	}
	if p.done() {
		return std, -off, nil
	}
	for range 2 {
		if !p.eat(',') || !p.rule() {
			return "", 0, fmt.Errorf("bad rule at %q", p.s[p.i:])
		}
		if p.eat('/') {
			if _, ok := p.offset(167); !ok {
				return "", 0, fmt.Errorf("bad rule time at %q", p.s[p.i:])
			}
		}
	}
	if !p.done() {
		return "", 0, fmt.Errorf("unexpected %q", p.s[p.i:])
	}
	return std, -off, nil
}

type tzParser struct {
	s string
	i int
}

func (p *tzParser) done() bool { return p.i == len(p.s) }

func (p *tzParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// name reads a zone name: 3 or more letters, or <...> of letters, digits,
// "+" and "-".
func (p *tzParser) name() (string, bool) {
	start := p.i
	if p.eat('<') {
		for p.i < len(p.s) && p.s[p.i] != '>' {
			c := p.s[p.i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-') {
				return "", false
			}
			p.i++
		}
		if !p.eat('>') || p.i-start-2 < 3 {
			return "", false
		}
		return p.s[start+1 : p.i-1], true
	}
	for p.i < len(p.s) && (p.s[p.i] >= 'a' && p.s[p.i] <= 'z' || p.s[p.i] >= 'A' && p.s[p.i] <= 'Z') {
		p.i++
	}
	if p.i-start < 3 {
		return "", false
	}
	return p.s[start:p.i], true
}

// num reads a decimal number of at most digits digits.
func (p *tzParser) num(digits int) (int, bool) {
	start, n := p.i, 0
	for p.i < len(p.s) && p.i-start < digits && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		n = n*10 + int(p.s[p.i]-'0')
		p.i++
	}
	return n, p.i > start
}

// offset reads [+-]hh[:mm[:ss]] with hh at most maxHours, in seconds.
func (p *tzParser) offset(maxHours int) (int, bool) {
	sign := 1
	if p.eat('-') {
		sign = -1
	} else {
		p.eat('+')
	}
	h, ok := p.num(3)
	if !ok || h > maxHours {
		return 0, false
	}
	secs := h * 3600
	for _, unit := range []int{60, 1} {
		if !p.eat(':') {
			break
		}
		v, ok := p.num(2)
		if !ok || v > 59 {
			return 0, false
		}
		secs += v * unit
	}
	return sign * secs, true
}

// rule reads Jn, n or Mm.w.d.
func (p *tzParser) rule() bool {
	switch {
	case p.eat('J'):
		n, ok := p.num(3)
		return ok && n >= 1 && n <= 365
	case p.eat('M'):
		m, ok := p.num(2)
		if !ok || m < 1 || m > 12 || !p.eat('.') {
			return false
		}
		w, ok := p.num(1)
		if !ok || w < 1 || w > 5 || !p.eat('.') {
			return false
		}
		d, ok := p.num(1)
		return ok && d <= 6
	default:
		n, ok := p.num(3)
		return ok && n <= 365
	}
}
