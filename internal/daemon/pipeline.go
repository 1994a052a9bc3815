package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gaol-project/gaol/internal/engine"
	"github.com/gaol-project/gaol/internal/match"
	"github.com/gaol-project/gaol/internal/match/date"
	"github.com/gaol-project/gaol/internal/source"
	"github.com/gaol-project/gaol/internal/store"
)

// event is what a file's matcher sends the loop: the failures found in a
// batch of lines and the read position after them.
type event struct {
	path     string
	pos      store.Offset
	hasPos   bool
	failures []jailFailure
}

type jailFailure struct {
	jail    string
	failure engine.Failure
}

// pipeline is the running set of sources and matchers.
type pipeline struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startPipeline starts one tailer and one matcher per distinct log file: a
// file watched by several jails is read once and each line offered to all.
// It returns once every file has been opened and positioned.
func (d *Daemon) startPipeline() {
	byPath := map[string][]*jailRuntime{}
	for _, j := range d.jails {
		for _, f := range j.files {
			byPath[f] = append(byPath[f], j)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg, started sync.WaitGroup
	for path, jails := range byPath {
		sort.Slice(jails, func(a, b int) bool { return jails[a].cfg.Name < jails[b].cfg.Name })
		opts := source.FileOptions{Poll: d.opts.Poll, Logger: d.log.With("file", path)}
		if off, ok, err := d.opts.Store.Offset(ctx, path); err != nil {
			d.log.Error("reading saved position; starting at the end of the file", "file", path, "err", err)
		} else if ok {
			opts.Start = &source.Position{Inode: off.Inode, Offset: off.Offset, Head: off.Head}
		}
		batches := make(chan source.Batch, 4)
		var once sync.Once
		started.Add(1)
		opts.Started = func() { once.Do(started.Done) }
		wg.Add(2)
		go func() {
			defer wg.Done()
			defer close(batches)
			defer opts.Started() // also when it fails before starting
			if err := source.TailFile(ctx, path, opts, batches); err != nil && ctx.Err() == nil {
				d.log.Error("reading log file stopped", "file", path, "err", err)
			}
		}()
		go func() {
			defer wg.Done()
			d.matchFile(ctx, path, jails, batches)
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	d.pipe = &pipeline{cancel: cancel, done: done}
	// Every file is positioned before the daemon calls itself ready: a line
	// written after that is read.
	started.Wait()
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

// parallelLines is the batch size from which a file's lines are matched on
// every core: date detection and regexes dominate the cost of a large
// batch, such as a log that grew while the daemon was down.
const parallelLines = 2048

// matchFile prepares each line once (finding its date) and offers it to
// every jail that watches the file.
func (d *Daemon) matchFile(ctx context.Context, path string, jails []*jailRuntime, batches <-chan source.Batch) {
	ms := make([]*lineMatcher, runtime.GOMAXPROCS(0))
	for i := range ms {
		ms[i] = newLineMatcher(jails, d.log)
	}
	results := make([][]jailFailure, len(ms))
	for b := range batches {
		ev := event{
			path:   path,
			pos:    store.Offset{Path: path, Inode: b.Pos.Inode, Offset: b.Pos.Offset, Head: b.Pos.Head},
			hasPos: true,
		}
		now := d.now()
		if len(b.Lines) < parallelLines || len(ms) == 1 {
			ev.failures = ms[0].match(ctx, b.Lines, now, nil)
		} else {
			var wg sync.WaitGroup
			per := (len(b.Lines) + len(ms) - 1) / len(ms)
			for i, m := range ms {
				lo, hi := min(i*per, len(b.Lines)), min((i+1)*per, len(b.Lines))
				wg.Go(func() { results[i] = m.match(ctx, b.Lines[lo:hi], now, results[i][:0]) })
			}
			wg.Wait()
			for _, r := range results {
				ev.failures = append(ev.failures, r...)
			}
		}
		select {
		case d.events <- ev:
		case <-ctx.Done():
			// Stopping: the loop drains events until we are done, so
			// deliver this one too rather than lose it.
			d.events <- ev
		}
	}
}

// lineMatcher matches lines against the filters of a file's jails. Its
// date detector remembers the format that matched last, so each goroutine
// has its own.
type lineMatcher struct {
	jails []*jailRuntime
	det   *date.Detector
	now   time.Time
	log   *slog.Logger
}

func newLineMatcher(jails []*jailRuntime, log *slog.Logger) *lineMatcher {
	m := &lineMatcher{jails: jails, log: log}
	// The detector infers years against "now"; one reading of the clock
	// per batch is precise enough and saves a clock read per line.
	m.det = date.NewDetector(func() time.Time { return m.now }, time.Local)
	return m
}

// match appends the failures found in lines to out.
func (m *lineMatcher) match(ctx context.Context, lines []string, now time.Time, out []jailFailure) []jailFailure {
	m.now = now
	for _, raw := range lines {
		l := match.Prepare(raw, m.det)
		for _, j := range m.jails {
			r := j.filter.Match(l)
			if !r.Matched {
				continue
			}
			if j.command != nil && m.commandIgnores(ctx, j, r.Addr) {
				continue
			}
			// Lines of a batch share one buffer: copy what is kept.
			f := engine.Failure{Addr: r.Addr, Line: strings.Clone(raw)}
			if l.HasTime {
				f.Time = l.Time
			}
			out = append(out, jailFailure{jail: j.cfg.Name, failure: f})
		}
	}
	return out
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
