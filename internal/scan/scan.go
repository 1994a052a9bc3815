// Package scan replays existing logs through the jails' filters and ban
// policy and tells who would have been banned, and why: what `gaol scan`
// prints, and what sysadmins otherwise do with grep, awk and a loop of
// `fail2ban-client set sshd banip`.
//
// Every line of every log is offered to every jail given (a rotated
// /var/log/auth.log.1 matches no jail's logpath, so logpath is not
// consulted). The engine runs on a clock that follows the logs' own
// timestamps: each failure's time is "now" when it is counted, so
// maxretry, findtime, bantime (a ban that ends lets its address be banned
// again), bantime.increment, subnet escalation and recidive apply as they
// would have live. Logs are read in the order of their first timestamp, so
// `gaol scan /var/log/auth.log*` replays auth.log.2.gz, auth.log.1 and
// auth.log in that order; gzip and bzip2 files are decompressed.
//
// Lines are matched on every core, in blocks, and their failures are fed to
// the engine in log order.
package scan

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gaol-project/gaol/internal/config"
	"github.com/gaol-project/gaol/internal/engine"
	"github.com/gaol-project/gaol/internal/geo"
	"github.com/gaol-project/gaol/internal/match"
	"github.com/gaol-project/gaol/internal/match/date"
	"github.com/gaol-project/gaol/internal/policy"
)

// Jail is a jail to replay the logs through.
type Jail struct {
	// Config is the jail's configuration: its ban policy.
	Config *config.Jail
	// Filter is its compiled filter; nil for a recidive jail, which counts
	// the bans of the others.
	Filter *match.Filter
	// Ignore holds the addresses the jail never bans; nil ignores nothing.
	Ignore engine.IgnoreSet
}

// Options tune a scan. The zero value is usable.
type Options struct {
	// Now is the reference for the year of timestamps that carry none
	// (syslog's "Nov  1 10:00:00"), and the time of failures on lines
	// before the first timestamp. Zero means time.Now().
	Now time.Time
	// Location is the time zone of timestamps that do not name one; nil
	// means time.Local.
	Location *time.Location
	// Workers is how many goroutines match lines; 0 means GOMAXPROCS.
	Workers int
	// Stdin is read for the file name Stdin ("-"); nil means os.Stdin.
	Stdin io.Reader
	// Progress, if set, is called after each block of lines is counted,
	// from the goroutine that called Run.
	Progress func(Progress)
}

// Progress is how far a scan is.
type Progress struct {
	File       string // being read
	FileIndex  int    // 0-based, in reading order
	Files      int
	Read, Size int64 // bytes of the file as stored read so far, and its size (0 if unknown)
	Lines      int   // lines of every file so far
	Done       bool  // the last call
}

// File describes one log as it was read.
type File struct {
	Path       string    `json:"path"`
	Compressed string    `json:"compressed,omitempty"` // "gzip", "bzip2"
	Lines      int       `json:"lines"`
	Failures   int       `json:"failures"`
	First      time.Time `json:"first,omitzero"` // first timestamp found
	Last       time.Time `json:"last,omitzero"`  // last timestamp found
}

// Ban is a prefix that would have been banned in a jail.
type Ban struct {
	Jail   string       `json:"jail"`
	Prefix netip.Prefix `json:"-"` // a single address is a /32 or /128
	// Failures counts the matched lines of the addresses of Prefix in the
	// jail (for a recidive jail: in every jail), before and after its bans.
	Failures  int       `json:"failures"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// BannedAt holds when each ban would have started, oldest first: an
	// address banned again once its ban ended has several.
	BannedAt []time.Time `json:"banned_at"`
	// Until is when the last ban would have ended; zero for a permanent ban.
	Until    time.Time `json:"until,omitzero"`
	Category string    `json:"category,omitempty"`
	// Reason explains a ban not made by failures alone (subnet escalation).
	Reason string `json:"reason,omitempty"`
	// Matches are the lines that led to the first ban (at most
	// engine.MaxMatches), oldest first.
	Matches []string `json:"matches,omitempty"`
	// Geo is the attribution of the address; Run leaves it empty for the
	// caller to fill.
	Geo *geo.Info `json:"geo,omitempty"`
}

// Bans returns how often the prefix would have been banned.
func (b *Ban) Bans() int { return len(b.BannedAt) }

// Target returns the prefix as `gaol ban` takes it: the bare address for a
// single address.
func (b *Ban) Target() string {
	if b.Prefix.IsSingleIP() {
		return b.Prefix.Addr().String()
	}
	return b.Prefix.Masked().String()
}

// banJSON is how a Ban reads in JSON: its fields, the jail and prefix
// first.
type banJSON struct {
	Jail   string `json:"jail"`
	Prefix string `json:"prefix"`
	*banAlias
}

type banAlias Ban

// MarshalJSON writes the prefix as Target does.
func (b Ban) MarshalJSON() ([]byte, error) {
	return json.Marshal(banJSON{Jail: b.Jail, Prefix: b.Target(), banAlias: (*banAlias)(&b)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (b *Ban) UnmarshalJSON(data []byte) error {
	v := banJSON{banAlias: (*banAlias)(b)}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	p, err := ParseTarget(v.Prefix)
	if err != nil {
		return err
	}
	b.Jail, b.Prefix = v.Jail, p
	return nil
}

// ParseTarget parses an address or a CIDR prefix.
func ParseTarget(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.WithZone("").Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Result is what a scan found. It is also the JSON document of
// `gaol scan --json`, which `gaol report --from-scan` reads.
type Result struct {
	Files []File   `json:"files"`
	Jails []string `json:"jails"`
	// Lines counts the lines read; Failures the lines a jail matched (a
	// line matched by two jails counts twice); Addresses the distinct
	// addresses of the failures.
	Lines     int `json:"lines"`
	Failures  int `json:"failures"`
	Addresses int `json:"addresses"`
	// Ignored counts the failures of addresses on a jail's ignore list.
	Ignored int `json:"ignored"`
	// Bans are sorted by failures, most first, then by jail and prefix.
	Bans []Ban `json:"bans"`
}

// hit is a failure a worker found.
type hit struct {
	jail int
	addr netip.Addr
	t    time.Time // zero: no timestamp yet in this block
	line string
	// idx is the line's position in its block.
	idx int
	// category is the kind of attack the filter names.
	category string
}

// chunk is a block of lines on its way through the workers.
type chunk struct {
	file  int
	read  int64 // bytes of the file read when the block was cut
	lines []string
	// Filled in by a worker:
	hits []hit
	// For the stateful filters that can be searched out of order: each
	// line's time, and the searches that found something, by jail.
	times       []lineTime
	searches    [][]lineSearch
	first, last time.Time
	done        chan struct{}
}

// addrStat tallies the failures of one address in one jail.
type addrStat struct {
	n           int
	first, last time.Time
}

// banStat gathers the bans of one prefix in one jail.
type banStat struct {
	first engine.Decision
	times []time.Time
	until time.Time
}

type banKey struct {
	jail   string
	prefix netip.Prefix
}

// Run replays files (Stdin for the standard input) through jails and
// returns who would have been banned.
func Run(ctx context.Context, jails []Jail, files []string, opts Options) (*Result, error) {
	if len(jails) == 0 {
		return nil, errors.New("no jail to scan with")
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}

	// The engine, on the logs' clock.
	var clock time.Time
	eng := engine.New(func() time.Time { return clock })
	eng.SetRand(func() float64 { return 0.5 }) // bantime.rndtime: reproducible
	cfgs := make([]engine.JailConfig, 0, len(jails))
	res := &Result{Bans: []Ban{}}
	var matching []Jail // the jails that read lines, in the order of hit.jail
	for _, j := range jails {
		ec, err := policy.Engine(j.Config, j.Ignore)
		if err != nil {
			return nil, err
		}
		cfgs = append(cfgs, ec)
		res.Jails = append(res.Jails, j.Config.Name)
		if !j.Config.Recidive {
			if j.Filter == nil {
				return nil, fmt.Errorf("jail %q has no filter", j.Config.Name)
			}
			matching = append(matching, j)
		}
	}
	if _, err := eng.Configure(cfgs); err != nil {
		return nil, err
	}
	slices.Sort(res.Jails)

	files, err := order(files, opts)
	if err != nil {
		return nil, err
	}
	res.Files = make([]File, len(files))
	for i, f := range files {
		res.Files[i].Path = f
	}

	// Reader → workers → (in order) the engine, here.
	work := make(chan *chunk, workers)
	ordered := make(chan *chunk, 2*workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readErr := make(chan error, 1)
	inputs := make([]*input, len(files))
	go func() {
		defer close(work)
		defer close(ordered)
		readErr <- readAll(ctx, files, opts.Stdin, inputs, work, ordered)
	}()
	for range workers {
		go func() {
			det := date.NewDetector(func() time.Time { return opts.Now }, opts.Location)
			for c := range work {
				matchChunk(c, matching, det)
				close(c.done)
			}
		}()
	}

	stats := make([]map[netip.Addr]*addrStat, len(matching))
	for i := range stats {
		stats[i] = map[netip.Addr]*addrStat{}
	}
	bans := map[banKey]*banStat{}
	record := func(ds []engine.Decision) {
		for _, d := range ds {
			if d.Action != engine.Ban {
				continue
			}
			k := banKey{d.Jail, d.Prefix}
			b := bans[k]
			if b == nil {
				b = &banStat{first: d}
				bans[k] = b
			}
			b.times = append(b.times, d.Start)
			b.until = d.End
		}
	}
	var sweep time.Time // when failures out of their windows were last forgotten
	lines := 0
	var sm statefulMatchers
	for c := range ordered {
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if err := sm.match(c, matching, opts); err != nil {
			return nil, err
		}
		f := &res.Files[c.file]
		f.Lines += len(c.lines)
		lines += len(c.lines)
		if f.First.IsZero() && !c.first.IsZero() {
			f.First = c.first
		}
		if !c.last.IsZero() {
			f.Last = c.last
		}
		for _, h := range c.hits {
			t := h.t
			switch {
			case t.IsZero() && clock.IsZero():
				t = opts.Now
			case t.IsZero():
				t = clock
			}
			if t.After(clock) {
				clock = t
			}
			if next, ok := eng.NextExpiry(); (ok && !next.After(clock)) || clock.Sub(sweep) > 10*time.Minute {
				eng.Expire()
				sweep = clock
			}
			name := matching[h.jail].Config.Name
			out, ds, err := eng.Fail(name, engine.Failure{Addr: h.addr, Time: t, Line: h.line, Category: h.category})
			if err != nil {
				return nil, err
			}
			f.Failures++
			res.Failures++
			if out == engine.Ignored {
				res.Ignored++
				continue
			}
			st := stats[h.jail][h.addr]
			if st == nil {
				st = &addrStat{first: t}
				stats[h.jail][h.addr] = st
			}
			st.n++
			st.last = t
			record(ds)
		}
		if c.last.After(clock) {
			clock = c.last
		}
		if opts.Progress != nil {
			in := inputs[c.file]
			opts.Progress(Progress{File: in.name, FileIndex: c.file, Files: len(files), Read: c.read, Size: in.size, Lines: lines})
		}
	}
	if err := <-readErr; err != nil {
		return nil, err
	}
	res.Lines = lines
	for i, in := range inputs {
		if in != nil {
			res.Files[i].Compressed = in.compressed
		}
	}
	if opts.Progress != nil {
		p := Progress{Files: len(files), Lines: lines, Done: true}
		if n := len(inputs); n > 0 && inputs[n-1] != nil {
			in := inputs[n-1]
			p.File, p.FileIndex, p.Read, p.Size = in.name, n-1, in.counter.n.Load(), in.size
		}
		opts.Progress(p)
	}

	addrs := map[netip.Addr]struct{}{}
	for _, m := range stats {
		for a := range m {
			addrs[a] = struct{}{}
		}
	}
	res.Addresses = len(addrs)
	jailIndex := map[string]int{}
	for i, j := range matching {
		jailIndex[j.Config.Name] = i
	}
	// The failures of the addresses of each banned prefix: addresses are
	// summed by prefix once for each prefix length a ban has.
	sums := map[sumKey]*addrStat{}
	summed := map[sumKey]bool{}
	for k := range bans {
		i, ok := jailIndex[k.jail]
		if !ok {
			i = -1 // recidive: the failures of every jail
		}
		sk := sumKey{jail: i, bits: k.prefix.Bits(), v6: k.prefix.Addr().Is6()}
		if summed[sk] {
			continue
		}
		summed[sk] = true
		ms := stats
		if i >= 0 {
			ms = stats[i : i+1]
		}
		for _, m := range ms {
			for a, st := range m {
				if a.Is6() != sk.v6 {
					continue
				}
				p, _ := a.Prefix(sk.bits)
				k := sumKey{jail: i, prefix: p}
				sum := sums[k]
				if sum == nil {
					sum = &addrStat{first: st.first}
					sums[k] = sum
				}
				sum.add(st)
			}
		}
	}
	for k, b := range bans {
		ban := Ban{
			Jail: k.jail, Prefix: k.prefix, BannedAt: b.times, Until: b.until,
			Category: b.first.Category, Reason: b.first.Reason, Matches: b.first.Matches,
		}
		i, ok := jailIndex[k.jail]
		if !ok {
			i = -1
		}
		if sum := sums[sumKey{jail: i, prefix: k.prefix.Masked()}]; sum != nil {
			ban.Failures, ban.FirstSeen, ban.LastSeen = sum.n, sum.first, sum.last
		}
		res.Bans = append(res.Bans, ban)
	}
	sortBans(res.Bans)
	return res, nil
}

// sumKey identifies the failures of a prefix in a jail (-1: every jail),
// or, without a prefix, a prefix length whose sums are made.
type sumKey struct {
	jail   int
	prefix netip.Prefix
	bits   int
	v6     bool
}

// add adds the failures of o to st.
func (st *addrStat) add(o *addrStat) {
	st.n += o.n
	if o.first.Before(st.first) {
		st.first = o.first
	}
	if o.last.After(st.last) {
		st.last = o.last
	}
}

// sortBans orders bans by failures, most first, then by jail and prefix.
func sortBans(bans []Ban) {
	slices.SortFunc(bans, func(a, b Ban) int {
		return cmp.Or(cmp.Compare(b.Failures, a.Failures), cmp.Compare(a.Jail, b.Jail),
			a.Prefix.Addr().Compare(b.Prefix.Addr()), cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()))
	})
}

// order checks that the files can be opened and sorts them by their first
// timestamp; files without one (and the standard input) keep their place
// relative to each other, after the others.
func order(files []string, opts Options) ([]string, error) {
	if len(files) == 0 {
		return nil, errors.New("no log to scan")
	}
	type entry struct {
		name string
		t    time.Time
		ok   bool
	}
	es := make([]entry, len(files))
	stdin := 0
	for i, f := range files {
		es[i].name = f
		if f == Stdin {
			if stdin++; stdin > 1 {
				return nil, errors.New("the standard input (-) can be read only once")
			}
			continue
		}
		in, err := open(f, nil)
		if err != nil {
			return nil, fmt.Errorf("opening log: %w", err)
		}
		in.close()
		es[i].t, es[i].ok = firstTime(f, opts.Now, opts.Location)
	}
	sort.SliceStable(es, func(a, b int) bool {
		if es[a].ok != es[b].ok {
			return es[a].ok
		}
		return es[a].ok && es[a].t.Before(es[b].t)
	})
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.name
	}
	return out, nil
}

// readAll reads the files in order, cuts them into chunks and hands each
// to the workers and, in order, to the consumer.
func readAll(ctx context.Context, files []string, stdin io.Reader, inputs []*input, work, ordered chan<- *chunk) error {
	for i, name := range files {
		in, err := open(name, stdin)
		if err != nil {
			return fmt.Errorf("opening log: %w", err)
		}
		inputs[i] = in
		err = readFile(ctx, i, in, work, ordered)
		in.close()
		if err != nil {
			return err
		}
	}
	return nil
}

func readFile(ctx context.Context, i int, in *input, work, ordered chan<- *chunk) error {
	cr := newChunkReader(in.r, blockSize)
	for {
		lines, err := cr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", in.name, err)
		}
		c := &chunk{file: i, read: in.counter.n.Load(), lines: lines, done: make(chan struct{})}
		// The consumer gets it first, so that it waits for the chunks in
		// the order they were read.
		select {
		case ordered <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case work <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stateful reports whether a filter must see every line of a file in
// order, through a Matcher of its own: it keeps state between lines
// (multi-line buffers, <F-MLFID> connections) or has its own dates.
func stateful(f *match.Filter) bool { return f.Stateful() || f.DatePattern() != "" }

// searched reports whether a stateful filter's regular expressions can
// run on the workers, out of order (match.Search), leaving only its state
// to the ordered pass: it reads single lines and the shared dates.
func searched(j Jail) bool {
	return stateful(j.Filter) && j.Filter.Searchable() && j.Filter.DatePattern() == "" && j.Config.LogTimeZone == ""
}

// lineTime is the time the workers found on a line.
type lineTime struct {
	t  time.Time
	ok bool
}

// lineSearch is a worker's search of one line for one filter.
type lineSearch struct {
	idx int
	s   match.Search
}

// statefulMatchers match the lines of one file for the stateful filters,
// in order.
type statefulMatchers struct {
	file     int
	matchers []*match.Matcher // by jail index; nil for the others
}

// match appends the failures of the stateful filters in c to c.hits, in
// line order with the others.
func (s *statefulMatchers) match(c *chunk, jails []Jail, opts Options) error {
	if s.matchers == nil || s.file != c.file {
		// A new file: fresh connections, buffers and dates.
		s.file = c.file
		s.matchers = make([]*match.Matcher, len(jails))
		for ji, j := range jails {
			if !stateful(j.Filter) {
				continue
			}
			tz := ""
			if j.Config != nil {
				tz = j.Config.LogTimeZone
			}
			m, err := j.Filter.NewMatcher(match.MatcherOptions{Now: func() time.Time { return opts.Now }, Location: opts.Location, TimeZone: tz, NoFields: true})
			if err != nil {
				return fmt.Errorf("jail %q: %w", j.Config.Name, err)
			}
			s.matchers[ji] = m
		}
	}
	added := false
	for ji, m := range s.matchers {
		if m == nil {
			continue
		}
		var found []lineSearch
		if c.searches != nil {
			found = c.searches[ji]
		}
		for i, raw := range c.lines {
			var fs []match.Failure
			if c.searches != nil && c.searches[ji] != nil {
				// Searched by a worker: only the state is left.
				l := match.Line{Raw: raw, Time: c.times[i].t, HasTime: c.times[i].ok}
				var sr match.Search
				if len(found) > 0 && found[0].idx == i {
					sr, found = found[0].s, found[1:]
				}
				fs = m.Apply(l, sr)
			} else {
				_, fs = m.MatchRaw(raw)
			}
			for _, fl := range fs {
				if fl.NoFail || fl.Pending || !fl.Addr.IsValid() {
					continue
				}
				h := hit{jail: ji, addr: fl.Addr, line: strings.Clone(strings.Join(fl.Matches, "\n")), idx: i, category: fl.Category}
				if len(fl.Matches) == 0 {
					h.line = strings.Clone(raw)
				}
				if fl.HasTime {
					h.t = fl.Time
				}
				c.hits = append(c.hits, h)
				added = true
			}
		}
	}
	if added {
		slices.SortStableFunc(c.hits, func(a, b hit) int { return a.idx - b.idx })
	}
	return nil
}

// matchChunk finds the failures in a chunk's lines.
func matchChunk(c *chunk, jails []Jail, det *date.Detector) {
	var cur time.Time
	for ji, j := range jails {
		if searched(j) {
			if c.searches == nil {
				c.searches = make([][]lineSearch, len(jails))
				c.times = make([]lineTime, len(c.lines))
			}
			c.searches[ji] = []lineSearch{}
		}
	}
	for i, raw := range c.lines {
		l := match.Prepare(raw, det)
		if c.times != nil {
			c.times[i] = lineTime{l.Time, l.HasTime}
		}
		if l.HasTime {
			cur = l.Time
			if c.first.IsZero() {
				c.first = cur
			}
		}
		var line string
		for ji, j := range jails {
			if c.searches != nil && c.searches[ji] != nil {
				if sr := j.Filter.Search(l, false); !sr.Empty() {
					c.searches[ji] = append(c.searches[ji], lineSearch{i, sr})
				}
				continue
			}
			if stateful(j.Filter) {
				continue // matched in order, by the reader of the blocks
			}
			r := j.Filter.Match(l)
			if !r.Matched {
				continue
			}
			if line == "" {
				// The block stays alive as long as one of its
				// substrings does: keep a copy.
				line = strings.Clone(raw)
			}
			c.hits = append(c.hits, hit{jail: ji, addr: r.Addr, t: cur, line: line, idx: i, category: r.Category})
		}
	}
	c.last = cur
}
