package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/leases"
)

// observer remembers, across readings and on this command's own monotonic
// clock, when each worker's heartbeat counter was last seen to change and
// since when each hand-off has been pending. Worker clocks are never
// compared: this is how the leader itself judges liveness.
type observer struct {
	start    time.Time
	beats    map[string]beat      // by worker id
	handoffs map[string]time.Time // by shard + from + to: first seen pending
}

type beat struct {
	session string
	counter int64
	changed time.Time // when the counter was last seen to change
	moved   bool      // a change has been seen (else changed is the first sighting)
}

func newObserver(now time.Time) *observer {
	return &observer{start: now, beats: map[string]beat{}, handoffs: map[string]time.Time{}}
}

// observe folds a reading taken at now into the observations and returns
// the snapshot to draw.
func (o *observer) observe(now time.Time, r reading) snapshot {
	s := snapshot{leases: r.leases, leader: r.leader, odd: len(r.odd)}
	if r.leaseErr != nil {
		s.errs = append(s.errs, "lease table: "+r.leaseErr.Error())
	}
	if r.workersErr != nil {
		s.errs = append(s.errs, "worker table: "+r.workersErr.Error())
	}
	beats := make(map[string]beat, len(r.workers))
	for _, w := range r.workers {
		b, ok := o.beats[w.ID]
		switch {
		case !ok:
			b = beat{session: w.SessionID, counter: w.Heartbeat, changed: now}
		case b.session != w.SessionID || b.counter != w.Heartbeat:
			b = beat{session: w.SessionID, counter: w.Heartbeat, changed: now, moved: true}
		}
		beats[w.ID] = b
		s.workers = append(s.workers, workerView{rec: w, still: now.Sub(b.changed), moved: b.moved})
	}
	o.beats = beats
	pending := map[string]time.Time{}
	for _, l := range r.leases {
		if l.CheckpointOwner == "" || l.CheckpointOwner == l.Owner {
			continue
		}
		k := l.Key + "\x00" + l.CheckpointOwner + "\x00" + l.Owner
		first, ok := o.handoffs[k]
		if !ok {
			first = now
		}
		pending[k] = first
		s.handoffs = append(s.handoffs, handoffView{shard: l.Key, from: l.CheckpointOwner, to: l.Owner, pending: now.Sub(first)})
	}
	o.handoffs = pending
	return s
}

// snapshot is what one frame shows.
type snapshot struct {
	app, leaseTable string
	at              time.Time // wall clock, for the header only
	watching        time.Duration
	failover        time.Duration
	leader          string
	leases          []leases.Lease
	workers         []workerView
	handoffs        []handoffView
	errs            []string
	odd             int // lease-table items not read as leases
}

type workerView struct {
	rec   leases.WorkerRecord
	still time.Duration // since its counter was last seen to change (or first seen)
	moved bool          // a change has been seen
}

type handoffView struct {
	shard, from, to string
	pending         time.Duration // since first seen pending
}

// render draws one frame of the live view.
func render(w io.Writer, s snapshot) error {
	fmt.Fprintf(w, "%s  lease table %s  %s  watching %s  leader %s\n", s.app, s.leaseTable,
		s.at.UTC().Format("15:04:05Z"), s.watching.Round(time.Second), dash(s.leader))
	for _, e := range s.errs {
		fmt.Fprintf(w, "read failed: %s\n", e)
	}
	if s.odd > 0 {
		fmt.Fprintf(w, "odd items: %d lease-table items not read as leases (shardwise check lists them)\n", s.odd)
	}

	held := map[string]int{}
	for _, l := range s.leases {
		if !l.IsFinished() {
			held[l.Owner]++
		}
	}
	fmt.Fprintf(w, "\nWORKERS %d\n", len(s.workers))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tSTATE\tHEARTBEAT\tCPU%\tLEASES\tMAX LAG")
	for _, v := range s.workers {
		age := "unchanged " + fmtDur(v.still)
		if v.moved {
			age = fmtDur(v.still) + " ago"
		}
		cpu := "-"
		if c := kclschema.LatestCPU(v.rec.Stats); c >= 0 {
			cpu = fmt.Sprintf("%.0f", c)
		}
		maxLag := int64(0)
		for _, ms := range v.rec.LeaseLag {
			maxLag = max(maxLag, ms)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", v.rec.ID, workerState(v, s.failover), age, cpu, held[v.rec.ID], fmtMillis(maxLag, len(v.rec.LeaseLag) > 0))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	lag := map[string]map[string]int64{}
	for _, v := range s.workers {
		lag[v.rec.ID] = v.rec.LeaseLag
	}
	fmt.Fprintf(w, "\nLEASES %d\n", len(s.leases))
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tOWNER\tCHECKPOINT\tLAG\tSTATE")
	for _, l := range s.leases {
		ms, ok := leaseLag(lag, l)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Key, dash(l.Owner), l.Checkpoint, fmtMillis(ms, ok), leaseState(l))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nHAND-OFFS IN PROGRESS %d\n", len(s.handoffs))
	if len(s.handoffs) == 0 {
		return nil
	}
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tFROM\tTO\tPENDING")
	for _, h := range s.handoffs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.shard, h.from, h.to, fmtDur(h.pending))
	}
	return tw.Flush()
}

// workerState: draining if the worker says so; stale once its counter has
// stood still for the failover time; live once it has been seen to move
// within it; "?" until then.
func workerState(v workerView, failover time.Duration) string {
	switch {
	case v.rec.Draining:
		return "draining"
	case v.still >= failover:
		return "stale"
	case v.moved:
		return "live"
	}
	return "?"
}

// fmtDur prints a duration to a tenth of a second.
func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// fmtMillis prints a lag in milliseconds, or "-" when unknown.
func fmtMillis(ms int64, known bool) string {
	switch {
	case !known:
		return "-"
	case ms < 1000:
		return fmt.Sprintf("%dms", ms)
	}
	return fmt.Sprintf("%.1fs", float64(ms)/1000)
}

// watchConfig is what -watch runs with.
type watchConfig struct {
	app, leaseTable string
	every           time.Duration // between two frames
	failover        time.Duration // a counter still this long marks the worker stale
	tty             bool          // clear the screen before each frame, else separate frames by a line
	json            bool          // one JSON document per frame, a line each, instead of the drawing
	readTimeout     time.Duration // bound on one reading of the tables
}

// clearScreen moves the cursor home and clears the screen (ANSI).
const clearScreen = "\x1b[H\x1b[2J"

// frameSeparator comes between two frames when stdout is not a terminal.
const frameSeparator = "----------------------------------------------------------------\n"

// watch draws a frame every cfg.every until ctx ends; read is
// tables.read, and only reads.
func watch(ctx context.Context, out io.Writer, read func(context.Context) reading, cfg watchConfig) error {
	obs := newObserver(time.Now())
	tick := time.NewTicker(cfg.every)
	defer tick.Stop()
	var buf bytes.Buffer
	var last reading
	for n := 0; ; n++ {
		readCtx, cancel := context.WithTimeout(ctx, cfg.readTimeout)
		r := read(readCtx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		// A failed read shows the last good one (and the error): an
		// unchanged counter then ages, as it does for the leader.
		if r.leaseErr != nil {
			r.leases = last.leases
		}
		if r.workersErr != nil {
			r.workers = last.workers
		}
		last = r
		now := time.Now()
		s := obs.observe(now, r)
		s.app, s.leaseTable, s.at, s.watching, s.failover = cfg.app, cfg.leaseTable, now, now.Sub(obs.start), cfg.failover
		buf.Reset()
		switch {
		case cfg.json:
			if err := json.NewEncoder(&buf).Encode(frameJSON(s)); err != nil {
				return err
			}
		case cfg.tty:
			buf.WriteString(clearScreen)
		case n > 0:
			buf.WriteString(frameSeparator)
		}
		if !cfg.json {
			if err := render(&buf, s); err != nil {
				return err
			}
		}
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
