package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gaol-project/gaol/internal/engine"
	"github.com/gaol-project/gaol/internal/store"
)

// Bans found in the logs are enforced first and recorded after, by the
// recorder, a goroutine of its own that writes to the store in the order
// it is given work. An attack that bans thousands of addresses at once is
// then in the kernel as soon as the firewall batch is sent, while the store
// (a few times slower per ban than nftables) catches up once the stream of
// bans pauses (see recordQuiet).
//
// The store stays the source of truth; the firewall only runs ahead of it,
// and that is safe:
//
//   - A ban is logged only once it is recorded and enforced, so a ban in
//     the log survives a crash (cmd/gaol's crash test checks it).
//   - The read positions of the log sources are saved through the
//     recorder, after the bans found in the lines before them: a ban lost
//     in a crash before it was recorded is found again when its lines are
//     read again at the next start.
//   - An element the kernel holds without a ban in the store does no lasting
//     harm: at start the daemon replaces every set with the store's active
//     bans, which drops it, and until then it ends by itself at its
//     timeout, which is the ban's.
//
// Bans and unbans asked for through the control API, expiries and the
// bans of removed jails keep the stricter order, store then firewall
// (commit): they are few, and their callers expect them recorded when told
// they are done. Before anything else reads or writes the store directly,
// it waits for the writes queued before it (syncStore), so that the store
// sees every change in the order the daemon made it.

// recorderQueue is how many jobs may wait for the recorder before the loop
// waits for it: a bound on the memory a slow store may hold up.
const recorderQueue = 16

// recorder writes to the store in order, in a goroutine of its own.
type recorder struct {
	d       *Daemon
	jobs    chan recorderJob
	done    chan struct{}
	unsaved map[string]store.Offset // read positions a failed save left, by path
	// quiet and maxWait: see recordQuiet.
	quiet, maxWait time.Duration
}

// recorderJob is work for the recorder: bans to record and then log, read
// positions to save, or a barrier to close once everything before it is
// done.
type recorderJob struct {
	decisions []engine.Decision
	offsets   []store.Offset
	barrier   chan struct{}
}

func newRecorder(d *Daemon) *recorder { return startRecorder(d, recordQuiet, recordMaxWait) }

// startRecorder starts a recorder that holds bans until none has come for
// quiet, or for maxWait at most.
func startRecorder(d *Daemon, quiet, maxWait time.Duration) *recorder {
	r := &recorder{d: d, jobs: make(chan recorderJob, recorderQueue), done: make(chan struct{}), quiet: quiet, maxWait: maxWait}
	go r.run()
	return r
}

// run records jobs until close. Consecutive jobs of bans are merged into
// one store transaction: those that come while the recorder holds bans
// (see recordQuiet), and those queued while the store was busy, so that a
// store that falls behind catches up in larger batches.
func (r *recorder) run() {
	defer close(r.done)
	ctx := context.Background()
	var next *recorderJob
	for {
		var j recorderJob
		if next != nil {
			j, next = *next, nil
		} else {
			var ok bool
			if j, ok = <-r.jobs; !ok {
				return
			}
		}
		if j.barrier != nil {
			close(j.barrier)
			continue
		}
		if len(j.decisions) > 0 && onlyBans(j.decisions) {
			// Bans come in streams: hold them until the stream pauses.
			quiet := time.NewTimer(r.quiet)
			deadline := time.Now().Add(r.maxWait)
		merge:
			for len(j.decisions) < maxMergedBans {
				select {
				case k, ok := <-r.jobs:
					if !ok {
						break merge
					}
					if k.barrier != nil || !onlyBans(k.decisions) {
						next = &k
						break merge
					}
					j.decisions = append(j.decisions, k.decisions...)
					j.offsets = append(j.offsets, k.offsets...)
					quiet.Reset(min(r.quiet, time.Until(deadline)))
				case <-quiet.C:
					break merge
				}
			}
			quiet.Stop()
		}
		if len(j.decisions) > 0 {
			if err := r.d.record(ctx, j.decisions); err != nil {
				r.d.log.Error("recording bans", "err", err, "bans", len(j.decisions))
			}
			r.d.logDecisions(j.decisions)
		}
		if len(j.offsets) > 0 {
			r.saveOffsets(ctx, j.offsets)
		}
	}
}

// saveOffsets saves read positions, with those a failed save left; the
// latest position of a path wins. If it fails, they are tried again with
// the next ones.
func (r *recorder) saveOffsets(ctx context.Context, offs []store.Offset) {
	latest := r.unsaved
	if latest == nil {
		latest = make(map[string]store.Offset, len(offs))
	}
	for _, o := range offs {
		latest[o.Path] = o
	}
	if err := r.d.opts.Store.SaveOffsets(ctx, slices.Collect(maps.Values(latest))); err != nil {
		r.d.log.Error("saving read positions", "err", err)
		r.unsaved = latest
		return
	}
	r.unsaved = nil
}

// maxMergedBans bounds the bans merged into one store transaction.
const maxMergedBans = 50_000

// The recorder holds the bans it is given until no more have come for
// recordQuiet, or for recordMaxWait at most, and records them at once. In
// an attack, bans come in a stream of batches a few milliseconds apart;
// the store's work for them (several times the firewall's, per ban) then
// waits until the stream pauses, rather than take the processor from the
// matchers and the firewall while addresses are still being banned, and is
// done in fewer, larger transactions. Whoever reads the store first waits
// for what is held (syncStore), and a crash loses nothing the next start
// does not find again (see above).
const (
	recordQuiet   = 20 * time.Millisecond
	recordMaxWait = time.Second
)

func onlyBans(ds []engine.Decision) bool {
	for _, d := range ds {
		if d.Action != engine.Ban {
			return false
		}
	}
	return true
}

// enqueue hands the recorder a job; it waits while the queue is full.
func (r *recorder) enqueue(j recorderJob) { r.jobs <- j }

// sync waits until every job queued before it is done.
func (r *recorder) sync(ctx context.Context) error {
	b := make(chan struct{})
	select {
	case r.jobs <- recorderJob{barrier: b}:
	case <-ctx.Done():
		return ctx.Err()
	case <-r.done:
		return errRecorderClosed
	}
	select {
	case <-b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errRecorderClosed = errors.New("daemon stopped")

// close finishes the queued jobs and stops the recorder.
func (r *recorder) close() {
	close(r.jobs)
	<-r.done
}

// syncStore waits until the recorder has written everything queued so far:
// whoever reads or writes the store directly calls it first.
func (d *Daemon) syncStore(ctx context.Context) error {
	if err := d.rec.sync(ctx); err != nil {
		return fmt.Errorf("waiting for the store: %w", err)
	}
	return nil
}

// record writes decisions to the store: the bans, attributed, and the ends
// of bans.
func (d *Daemon) record(ctx context.Context, ds []engine.Decision) error {
	var add []store.Ban
	var ends []store.End
	if len(ds) > 0 && ds[0].Action == engine.Ban {
		add = make([]store.Ban, 0, len(ds)) // an attack: mostly bans
	}
	for _, dec := range ds {
		switch dec.Action {
		case engine.Ban:
			add = append(add, store.Ban{
				Jail: dec.Jail, Prefix: dec.Prefix, Start: dec.Start, End: dec.End,
				Failures: dec.Failures, Matches: dec.Matches, Manual: dec.Manual,
				Count: dec.Count, Category: dec.Category, Geo: d.locate(dec.Prefix),
			})
		case engine.Unban:
			at := d.now()
			if dec.Reason == engine.ReasonExpired {
				at = dec.End
			}
			ends = append(ends, store.End{Jail: dec.Jail, Prefix: dec.Prefix, At: at, Reason: dec.Reason})
		}
	}
	var errs []error
	if len(add) > 0 {
		if _, err := d.opts.Store.AddBans(ctx, add); err != nil {
			errs = append(errs, fmt.Errorf("storing %d bans: %w", len(add), err))
		}
	}
	if len(ends) > 0 {
		if _, err := d.opts.Store.EndBans(ctx, ends); err != nil {
			errs = append(errs, fmt.Errorf("ending %d bans: %w", len(ends), err))
		}
	}
	return errors.Join(errs...)
}
