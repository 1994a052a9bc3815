package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gaol-project/gaol/internal/config"
	"github.com/gaol-project/gaol/internal/source/journal"
	"github.com/gaol-project/gaol/internal/source/stream"
	"github.com/gaol-project/gaol/internal/source/syslog"

	"github.com/gaol-project/gaol/internal/engine"
	"github.com/gaol-project/gaol/internal/hostres"
	"github.com/gaol-project/gaol/internal/match"
	"github.com/gaol-project/gaol/internal/match/date"
	"github.com/gaol-project/gaol/internal/source"
	"github.com/gaol-project/gaol/internal/store"
)

// event is what a source's matcher sends the loop: the failures found in a
// batch of lines, in runs (one per chunk the workers matched, and one per
// stateful filter), and the read position after them.
type event struct {
	path     string
	pos      store.Offset
	hasPos   bool
	failures [][]jailFailure
	// live: the lines were written as they were followed (see
	// lineBatch.live).
	live bool
}

type jailFailure struct {
	jail    string
	failure engine.Failure
}

// lineBatch is a run of lines from one source, for a matcher: from a file
// (with the position after them), a pipe, the journal (with each entry's
// time and the cursor after them) or the syslog listener (with times).
type lineBatch struct {
	lines []string
	times []time.Time // each line's time when the source knows it; nil: from the line
	// live: the lines were written while the daemon followed the file
	// (source.Batch.Live), or came from the syslog listener. A timestamp
	// far from now on such a line is a clock or time zone problem, not
	// an old line: see Daemon.liveTime.
	live   bool
	pos    store.Offset
	hasPos bool
}

// pipeline is the running set of sources and matchers.
type pipeline struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Kinds of source a jail reads.
const (
	kindFile     = "file"     // log files (and pipes), by path
	kindJournal  = "journal"  // the systemd journal, by journalmatch
	kindSyslog   = "syslog"   // the syslog listener
	kindRecidive = "recidive" // the bans of the other jails
)

// sourceKind decides what a jail reads. With backend auto, a jail whose
// log files are all missing reads the journal when it can: Debian 12 has no
// auth.log unless rsyslog is installed.
func (d *Daemon) sourceKind(j *config.Jail, files, missing []string) string {
	switch {
	case j.Recidive:
		return kindRecidive
	case strings.HasPrefix(j.Backend, "systemd"):
		return kindJournal
	case j.Backend == "syslog":
		return kindSyslog
	case j.Backend == "auto" && len(missing) > 0 && len(missing) == len(j.LogPath) && j.JournalMatch != "":
		if _, err := exec.LookPath(d.journalctl()); err == nil || d.opts.JournalDir != "" {
			return kindJournal
		}
	}
	return kindFile
}

func (d *Daemon) journalctl() string {
	if d.opts.Journalctl != "" {
		return d.opts.Journalctl
	}
	return "journalctl"
}

// pipeStarter collects the goroutines of a pipeline being started.
type pipeStarter struct {
	d       *Daemon
	ctx     context.Context
	wg      sync.WaitGroup // everything
	started sync.WaitGroup // sources not yet positioned
}

// source starts a source goroutine; run must call ready once positioned
// (calling it again is harmless) and return when ctx is done.
func (ps *pipeStarter) source(name string, run func(ready func()) error) {
	var once sync.Once
	ready := func() { once.Do(ps.started.Done) }
	ps.started.Add(1)
	ps.wg.Go(func() {
		defer ready() // also when it fails before starting
		if err := run(ready); err != nil && ps.ctx.Err() == nil {
			ps.d.log.Error("log source stopped", "source", name, "err", err)
		}
	})
}

// matcher starts a matcher for the jails of one source.
func (ps *pipeStarter) matcher(key string, jails []*jailRuntime, in <-chan lineBatch) {
	sort.Slice(jails, func(a, b int) bool { return jails[a].cfg.Name < jails[b].cfg.Name })
	ps.wg.Go(func() { ps.d.matchLines(ps.ctx, key, jails, in) })
}

// startPipeline starts one reader and one matcher per distinct source: a
// file watched by several jails is read once and each line offered to all.
// It returns once every source has been positioned.
func (d *Daemon) startPipeline() {
	// The sources resume from the read positions saved last.
	if err := d.syncStore(context.Background()); err != nil {
		d.log.Error("saving read positions", "err", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ps := &pipeStarter{d: d, ctx: ctx}
	byPath := map[string][]*jailRuntime{}
	byMatch := map[string][]*jailRuntime{}
	var syslogJails []*jailRuntime
	for _, j := range d.jails {
		switch j.kind {
		case kindFile:
			for _, f := range j.files {
				byPath[f] = append(byPath[f], j)
			}
		case kindJournal:
			byMatch[j.cfg.JournalMatch] = append(byMatch[j.cfg.JournalMatch], j)
		case kindSyslog:
			syslogJails = append(syslogJails, j)
		}
	}
	for path, jails := range byPath {
		d.startFile(ps, path, jails)
	}
	for m, jails := range byMatch {
		d.startJournal(ps, m, jails)
	}
	if len(syslogJails) > 0 {
		d.startSyslog(ps, syslogJails)
	}
	done := make(chan struct{})
	go func() {
		ps.wg.Wait()
		close(done)
	}()
	d.pipe = &pipeline{cancel: cancel, done: done}
	// Every source is positioned before the daemon calls itself ready: a
	// line written after that is read.
	ps.started.Wait()
}

// startFile follows a log file, a named pipe, or standard input ("-").
func (d *Daemon) startFile(ps *pipeStarter, path string, jails []*jailRuntime) {
	lines := make(chan lineBatch, 4)
	ps.matcher(path, jails, lines)
	log := d.log.With("file", path)
	fi, err := os.Stat(path)
	switch {
	case path == "-":
		ps.source(path, func(ready func()) error {
			defer close(lines)
			return relayLines(lines, func(out chan<- source.Batch) error {
				return stream.Read(ps.ctx, "stdin", os.Stdin, stream.Options{Logger: log, Started: ready, Poll: d.opts.Poll}, out)
			})
		})
	case err == nil && fi.Mode()&os.ModeNamedPipe != 0:
		ps.source(path, func(ready func()) error {
			defer close(lines)
			return relayLines(lines, func(out chan<- source.Batch) error {
				return stream.FollowFIFO(ps.ctx, path, stream.Options{Logger: log, Started: ready, Poll: d.opts.Poll}, out)
			})
		})
	default:
		// A file never read before starts at its end, as fail2ban's do,
		// unless --from-start asks for everything, or it appeared while
		// the daemon was running (a new match of a logpath glob).
		opts := source.FileOptions{Poll: d.opts.Poll, Logger: log, FromStart: d.opts.FromStart || d.newFiles[path]}
		if off, ok, err := d.opts.Store.Offset(ps.ctx, path); err != nil {
			d.log.Error("reading saved position; starting at the end of the file", "file", path, "err", err)
		} else if ok {
			opts.Start = &source.Position{Inode: off.Inode, Offset: off.Offset, Head: off.Head}
		}
		ps.source(path, func(ready func()) error {
			defer close(lines)
			opts.Started = ready
			return relayLines(lines, func(out chan<- source.Batch) error {
				return source.TailFile(ps.ctx, path, opts, out)
			})
		})
	}
}

// relay runs read, a source sending batches of type T until it returns,
// and hands each batch to each; it returns read's error.
func relay[T any](read func(chan<- T) error, each func(T)) error {
	batches := make(chan T, 4)
	errc := make(chan error, 1)
	go func() {
		defer close(batches)
		errc <- read(batches)
	}()
	for b := range batches {
		each(b)
	}
	return <-errc
}

// relayLines runs a reader of source.Batches and passes them on as lineBatches.
func relayLines(lines chan<- lineBatch, read func(chan<- source.Batch) error) error {
	return relay(read, func(b source.Batch) {
		lb := lineBatch{lines: b.Lines, live: b.Live}
		if b.Pos != (source.Position{}) {
			lb.pos = store.Offset{Path: b.Path, Inode: b.Pos.Inode, Offset: b.Pos.Offset, Head: b.Pos.Head}
			lb.hasPos = true
		}
		lines <- lb
	})
}

// startJournal follows the journal entries one journalmatch selects.
func (d *Daemon) startJournal(ps *pipeStarter, match string, jails []*jailRuntime) {
	key := "journal:" + match
	lines := make(chan lineBatch, 4)
	ps.matcher(key, jails, lines)
	terms, err := journal.ParseMatch(match)
	if err != nil {
		d.log.Error("journalmatch", "jail", jails[0].cfg.Name, "err", err)
	}
	opts := journal.Options{
		Matches: terms, Directory: d.opts.JournalDir, Journalctl: d.opts.Journalctl,
		Location: time.Local, Logger: d.log.With("journal", match),
	}
	if off, ok, err := d.opts.Store.Offset(ps.ctx, key); err != nil {
		d.log.Error("reading saved journal cursor; starting at the end", "journal", match, "err", err)
	} else if ok {
		opts.Cursor = off.Cursor
	}
	ps.source(key, func(ready func()) error {
		defer close(lines)
		opts.Started = ready
		follow := func(out chan<- journal.Batch) error { return journal.Follow(ps.ctx, opts, out) }
		return relay(follow, func(b journal.Batch) {
			lb := lineBatch{
				lines: make([]string, len(b.Entries)), times: make([]time.Time, len(b.Entries)),
				pos: store.Offset{Path: key, Cursor: b.Cursor}, hasPos: b.Cursor != "",
			}
			for i, e := range b.Entries {
				lb.lines[i], lb.times[i] = e.Line, e.Time
			}
			lines <- lb
		})
	})
}

// startSyslog runs the syslog listener and gives each jail the messages its
// program and host patterns take.
func (d *Daemon) startSyslog(ps *pipeStarter, jails []*jailRuntime) {
	type route struct {
		filter syslog.Filter
		lines  chan lineBatch
	}
	var routes []route
	for _, j := range jails {
		f, err := syslog.NewFilter(j.cfg.SyslogPrograms, j.cfg.SyslogHosts)
		if err != nil {
			d.log.Error("syslog patterns", "jail", j.cfg.Name, "err", err)
			continue
		}
		r := route{filter: f, lines: make(chan lineBatch, 4)}
		routes = append(routes, r)
		ps.matcher("syslog:"+j.cfg.Name, []*jailRuntime{j}, r.lines)
	}
	addr := d.opts.SyslogListen
	if addr == "" {
		addr = syslog.DefaultAddress
	}
	ps.source("syslog", func(ready func()) error {
		defer func() {
			for _, r := range routes {
				close(r.lines)
			}
		}()
		l, err := syslog.New(syslog.Options{UDP: addr, TCP: addr, Location: time.Local, Logger: d.log.With("syslog", addr)})
		if err != nil {
			return err
		}
		defer l.Close()
		d.log.Info("syslog listener", "udp", l.UDPAddr(), "tcp", l.TCPAddr())
		ready()
		run := func(out chan<- syslog.Batch) error { return l.Run(ps.ctx, out) }
		return relay(run, func(b syslog.Batch) {
			for _, r := range routes {
				lb := lineBatch{live: true}
				for i := range b.Messages {
					m := &b.Messages[i]
					if r.filter.Match(m) {
						lb.lines = append(lb.lines, m.Line)
						lb.times = append(lb.times, m.Time)
					}
				}
				if len(lb.lines) > 0 {
					r.lines <- lb
				}
			}
		})
	})
}

// stopPipeline stops the sources and matchers, processing what they still
// send so that nothing read is lost.
func (d *Daemon) stopPipeline(ctx context.Context) {
	if d.pipe == nil {
		return
	}
	d.pipe.cancel()
	for {
		select {
		case ev := <-d.events:
			d.handleEvents(ctx, ev)
		case <-d.pipe.done:
			for {
				select {
				case ev := <-d.events:
					d.handleEvents(ctx, ev)
				default:
					d.pipe = nil
					return
				}
			}
		}
	}
}

// chunkLines is how many lines of a batch one worker matches at a time:
// a large batch, such as a log that grew while the daemon was down or an
// attack from thousands of addresses, is matched on every core.
const chunkLines = 1024

// maxChunksInFlight bounds the chunks of a source being matched or waiting
// to be delivered to the loop.
const maxChunksInFlight = 16

// matchChunk is a run of lines of a batch for a worker to match, and then
// its failures for the loop.
type matchChunk struct {
	b      *lineBatch
	now    time.Time
	lo, hi int  // its lines
	last   bool // of its batch: the event carries the batch's position
	// Filled in by a worker: the failures of the stateless filters, and
	// for the searched ones (see matchLines) each line's time and the
	// searches that found something, by filter.
	failures []jailFailure
	times    []lineTime
	searches [][]lineSearch
	done     chan struct{} // closed once the worker is done
}

// recycle gives the chunk's buffers of times and searches back for other
// chunks, once its searches are applied: in an attack, chunks of a
// thousand lines come one after another.
func (c *matchChunk) recycle() {
	if c.times != nil {
		putBuf(&timesPool, c.times)
	}
	for _, s := range c.searches {
		clear(s) // the searches refer to their workers' memory
		putBuf(&searchesPool, s)
	}
	c.times, c.searches = nil, nil
}

// Buffers of chunks, for getBuf and putBuf.
var (
	timesPool    sync.Pool // *[]lineTime
	searchesPool sync.Pool // *[]lineSearch
)

// getBuf returns a buffer of n elements from pool, or a new one (of at
// least chunkLines elements, so that it serves any chunk once returned).
func getBuf[T any](pool *sync.Pool, n int) []T {
	if p, ok := pool.Get().(*[]T); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]T, n, max(n, chunkLines))
}

// putBuf returns a buffer to pool.
func putBuf[T any](pool *sync.Pool, b []T) {
	pool.Put(&b)
}

// lineTime is the time a worker found for a line.
type lineTime struct {
	t  time.Time
	ok bool
}

// lineSearch is a worker's search of one line of a chunk (its index in
// the chunk) for one filter.
type lineSearch struct {
	i int
	s match.Search
}

// searchedJail is a jail whose filter keeps state but reads single lines
// with the shared dates: the workers run its regular expressions
// (match.Filter.Search) and its Matcher applies the state in order.
type searchedJail struct {
	j *jailRuntime
	m *match.Matcher
}

// matchLines prepares each line once (finding its date) and offers it to
// every jail that reads the source. Batches are cut into chunks that a
// worker per core matches, and each chunk goes to the loop as soon as it
// and those before it are matched: no core waits for another's last chunk
// of a batch, and the loop counts the failures of a chunk while the next
// ones are matched. Events are delivered in the order of the lines.
func (d *Daemon) matchLines(ctx context.Context, key string, jails []*jailRuntime, in <-chan lineBatch) {
	// Filters without state are matched by the workers alone. Filters
	// that keep state between lines (<F-MLFID> connections, multi-line
	// buffers, their own datepattern) have a Matcher of their own, which
	// sees every line in order; if they read single lines with the shared
	// dates, the workers still run their regular expressions (searched),
	// and only the state is applied in order.
	var stateless []*jailRuntime
	var searched []searchedJail
	stateful := map[*jailRuntime]*match.Matcher{}
	// The Matchers are used by the deliverer alone, which sets their
	// clock to the time the chunk it applies was read: one reading of the
	// clock per chunk rather than one per line, as the workers' date
	// detectors do.
	chunkNow := d.now()
	clock := func() time.Time { return chunkNow }
	var order []*jailRuntime
	for _, j := range jails {
		// A filter with its own dates (datepattern, or the jail's
		// logtimezone) needs its own date detector: a matcher.
		sharedDates := j.filter.DatePattern() == "" && j.cfg.LogTimeZone == ""
		if !j.filter.Stateful() && sharedDates {
			stateless = append(stateless, j)
			continue
		}
		// appendFailures copies what it keeps of each failure: the
		// Matcher may reuse them (Transient).
		m, err := j.filter.NewMatcher(match.MatcherOptions{Now: clock, Location: time.Local, TimeZone: j.cfg.LogTimeZone, NoFields: true, Transient: true})
		if err != nil {
			d.log.Error("filter", "jail", j.cfg.Name, "err", err)
			continue
		}
		if j.filter.Searchable() && sharedDates {
			searched = append(searched, searchedJail{j: j, m: m})
			continue
		}
		stateful[j] = m
		order = append(order, j)
	}
	searchers := make([]*jailRuntime, len(searched))
	for i, sj := range searched {
		searchers[i] = sj.j
	}

	// Workers, each with its own line matcher (its date detector learns
	// the log's format), match the chunks; none are needed when every
	// jail of the source is matched in order.
	work := make(chan *matchChunk)
	var workers sync.WaitGroup
	useWorkers := len(stateless)+len(searched) > 0
	nworkers := 0
	if useWorkers {
		nworkers = runtime.GOMAXPROCS(0)
	}
	for range nworkers {
		lm := newLineMatcher(stateless, d.hosts, d.log)
		lm.searched = searchers
		workers.Go(func() {
			for c := range work {
				lm.match(ctx, c)
				close(c.done)
			}
		})
	}

	// The deliverer waits for each chunk in turn and sends its event; the
	// last chunk of a batch first runs the stateful filters over the
	// batch and carries its read position.
	pending := make(chan *matchChunk, maxChunksInFlight)
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		lm := newLineMatcher(nil, d.hosts, d.log) // for ignorecommand and usedns
		for c := range pending {
			<-c.done
			chunkNow = c.now
			ev := event{path: key, live: c.b.live}
			if len(c.failures) > 0 {
				ev.failures = [][]jailFailure{c.failures}
			}
			for k, sj := range searched {
				if fs := d.applySearches(ctx, sj, lm, c, c.searches[k]); len(fs) > 0 {
					ev.failures = append(ev.failures, fs)
				}
			}
			c.recycle()
			if c.last {
				ev.pos, ev.hasPos = c.b.pos, c.b.hasPos
				for _, j := range order {
					if fs := d.matchStateful(ctx, j, stateful[j], lm, *c.b, nil); len(fs) > 0 {
						ev.failures = append(ev.failures, fs)
					}
				}
			}
			if len(ev.failures) == 0 && !c.last {
				continue
			}
			select {
			case d.events <- ev:
			case <-ctx.Done():
				// Stopping: the loop drains events until we are done, so
				// deliver this one too rather than lose it.
				d.events <- ev
			}
		}
	}()

	for lb := range in {
		b, now := &lb, d.now()
		n := 1
		if useWorkers {
			n = max((len(lb.lines)+chunkLines-1)/chunkLines, 1)
		}
		for i := range n {
			c := &matchChunk{b: b, now: now, lo: i * chunkLines, hi: min((i+1)*chunkLines, len(lb.lines)), last: i == n-1, done: make(chan struct{})}
			pending <- c
			if !useWorkers {
				close(c.done) // only filters matched in order: nothing for the workers
				continue
			}
			work <- c
		}
	}
	close(work)
	close(pending)
	workers.Wait()
	<-delivered
}

// matchStateful offers a batch to a stateful filter, line by line.
func (d *Daemon) matchStateful(ctx context.Context, j *jailRuntime, m *match.Matcher, lm *lineMatcher, b lineBatch, out []jailFailure) []jailFailure {
	for i, raw := range b.lines {
		var fs []match.Failure
		if b.times != nil && !b.times[i].IsZero() {
			l := match.Prepare(raw, m.Detector())
			l.Time, l.HasTime = b.times[i], true
			fs = m.Match(l)
		} else {
			_, fs = m.MatchRaw(raw)
		}
		out = appendFailures(ctx, j, lm, raw, fs, out)
	}
	return out
}

// applySearches applies, in order, the workers' searches of a chunk's
// lines to a searched jail's Matcher (every line: a line without a date
// takes that of the line before it).
func (d *Daemon) applySearches(ctx context.Context, sj searchedJail, lm *lineMatcher, c *matchChunk, found []lineSearch) []jailFailure {
	var out []jailFailure
	if len(found) > 0 {
		out = make([]jailFailure, 0, len(found)) // most searches that found something give a failure
	}
	for i, raw := range c.b.lines[c.lo:c.hi] {
		l := match.Line{Raw: raw, Time: c.times[i].t, HasTime: c.times[i].ok}
		var sr match.Search
		if len(found) > 0 && found[0].i == i {
			sr, found = found[0].s, found[1:]
		}
		out = appendFailures(ctx, sj.j, lm, raw, sj.m.Apply(l, sr), out)
	}
	return out
}

// appendFailures appends a stateful filter's failures, for jail j, from
// the line raw. A failure that names a host counts for each of its
// addresses (usedns).
func appendFailures(ctx context.Context, j *jailRuntime, lm *lineMatcher, raw string, fs []match.Failure, out []jailFailure) []jailFailure {
	for k := range fs {
		f := &fs[k]
		if f.NoFail || f.Pending {
			continue
		}
		var named []netip.Addr
		if !f.Addr.IsValid() {
			if !j.failureNamesHost(f) {
				continue
			}
			if named = lm.resolveHost(ctx, j, f.Host); len(named) == 0 {
				continue
			}
		} else if j.command != nil && lm.commandIgnores(ctx, j, f.Addr) {
			continue
		}
		// Lines of a batch share one buffer: copy what is kept (Join of
		// several lines copies them already).
		fail := engine.Failure{Addr: f.Addr, Category: f.Category}
		switch len(f.Matches) {
		case 0:
			fail.Line = strings.Clone(raw)
		case 1:
			fail.Line = strings.Clone(f.Matches[0])
		default:
			fail.Line = strings.Join(f.Matches, "\n")
		}
		if f.HasTime {
			fail.Time = f.Time
		}
		if named != nil {
			out = lm.appendAddrs(ctx, j, named, fail, out)
			continue
		}
		out = append(out, jailFailure{jail: j.cfg.Name, failure: fail})
	}
	return out
}

// lineMatcher matches lines against the filters of a file's jails. Its
// date detector remembers the format that matched last, so each goroutine
// has its own.
type lineMatcher struct {
	jails    []*jailRuntime // matched
	searched []*jailRuntime // searched (see matchLines)
	det      *date.Detector
	now      time.Time
	hosts    *hostres.Cache // resolves the host names failures name
	log      *slog.Logger
}

func newLineMatcher(jails []*jailRuntime, hosts *hostres.Cache, log *slog.Logger) *lineMatcher {
	m := &lineMatcher{jails: jails, hosts: hosts, log: log}
	// The detector infers years against "now"; one reading of the clock
	// per batch is precise enough and saves a clock read per line.
	m.det = date.NewDetector(func() time.Time { return m.now }, time.Local)
	return m
}

// match finds the failures of a chunk's lines for the stateless filters,
// and searches them for the searched ones. The batch's times, if not nil,
// give each line's time as its source knows it (the journal's, for
// instance), which wins over the date in the line.
func (m *lineMatcher) match(ctx context.Context, c *matchChunk) {
	m.now = c.now
	lines := c.b.lines[c.lo:c.hi]
	var times []time.Time
	if c.b.times != nil {
		times = c.b.times[c.lo:c.hi]
	}
	if len(m.searched) > 0 {
		c.times = getBuf[lineTime](&timesPool, len(lines))
		c.searches = make([][]lineSearch, len(m.searched))
		for k := range c.searches {
			c.searches[k] = getBuf[lineSearch](&searchesPool, len(lines))[:0]
		}
	}
	var out []jailFailure
	for i, raw := range lines {
		l := match.Prepare(raw, m.det)
		if times != nil && !times[i].IsZero() {
			l.Time, l.HasTime = times[i], true
		}
		if c.times != nil {
			c.times[i] = lineTime{l.Time, l.HasTime}
		}
		for k, j := range m.searched {
			if sr := j.filter.Search(l, false); !sr.Empty() {
				c.searches[k] = append(c.searches[k], lineSearch{i, sr})
			}
		}
		for _, j := range m.jails {
			r := j.filter.Match(l)
			if !r.Matched {
				if r.Unresolved && j.namesHost(&r) {
					if addrs := m.resolveHost(ctx, j, r.Host); len(addrs) > 0 {
						f := engine.Failure{Category: r.Category, Line: strings.Clone(raw)}
						if l.HasTime {
							f.Time = l.Time
						}
						out = m.appendAddrs(ctx, j, addrs, f, out)
					}
				}
				continue
			}
			if j.command != nil && m.commandIgnores(ctx, j, r.Addr) {
				continue
			}
			if out == nil {
				// Room for the rest of the lines, up to a point: in an
				// attack most of them fail.
				out = make([]jailFailure, 0, min(len(lines)-i, 256))
			}
			// Lines of a batch share one buffer: copy what is kept.
			f := engine.Failure{Addr: r.Addr, Category: r.Category, Line: strings.Clone(raw)}
			if l.HasTime {
				f.Time = l.Time
			}
			out = append(out, jailFailure{jail: j.cfg.Name, failure: f})
		}
	}
	c.failures = out
}

// commandIgnores runs the jail's ignorecommand for addr (answers are
// cached), unless the address is ignored anyway. Running it here, in the
// matcher, keeps a slow command from holding up the other jails' bans.
func (m *lineMatcher) commandIgnores(ctx context.Context, j *jailRuntime, addr netip.Addr) bool {
	if s := j.ignore.set.Load(); s != nil && s.Contains(addr) {
		return false // the engine ignores it without asking
	}
	ignored, err := j.command.Ignored(ctx, addr)
	if err != nil {
		m.log.Warn("ignorecommand failed; the address is not ignored", "jail", j.cfg.Name, "addr", addr, "err", err)
		return false
	}
	if ignored {
		m.log.Debug("ignored by ignorecommand", "jail", j.cfg.Name, "addr", addr)
	}
	return ignored
}
