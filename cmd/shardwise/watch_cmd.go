package main

import (
	"context"
	"os"
	"time"

	"github.com/shardwise/shardwise/internal/kclschema"
)

// runWatch is `shardwise watch`: the live view (watch.go), read-only.
//
// It reads the tables every second, until interrupted or for -for, and
// draws the fleet: each worker with its state (live once its heartbeat
// counter has been seen to change, stale once it has stood still for
// -failover, draining), how long ago the counter changed (by this
// command's clock: worker clocks are never compared), CPU, leases held
// and largest lag; each lease with its owner, checkpoint and lag (from the
// owner's worker record); and the hand-offs in progress (a lease whose
// checkpoint owner is not yet its owner), with how long each has been
// pending. On a terminal each frame replaces the last; otherwise frames
// follow one another, separated by a line.
func runWatch(ctx context.Context, env *cmdEnv, args []string) error {
	var t target
	fs := newFlags(env, "watch", "-table TABLE [-failover 10s] [-for D] [-every 1s] [-json]")
	t.register(fs)
	watchFor := fs.Duration("for", 0, "stop after this long (default: until interrupted)")
	every := fs.Duration("every", time.Second, "time between two frames")
	failover := fs.Duration("failover", 10*time.Second, "mark a worker stale once its heartbeat has stood still this long (the application's FailoverTime)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := t.resolve(); err != nil {
		return err
	}
	if *every <= 0 || *failover <= 0 || *watchFor < 0 {
		return usagef("-every and -failover must be positive, -for not negative")
	}
	if *watchFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *watchFor)
		defer cancel()
	}
	client, err := t.client(ctx)
	if err != nil {
		return err
	}
	tb, err := openTables(client, &t)
	if err != nil {
		return err
	}
	// A missing lease table is an error at once, not a frame of errors
	// forever.
	if _, err := scanAll(ctx, client, t.table); err != nil {
		return err
	}
	tty := false
	if f, ok := env.stdout.(*os.File); ok {
		tty = isTerminal(f)
	}
	return watch(ctx, env.stdout, tb.read, watchConfig{app: t.app, leaseTable: t.table, every: *every, failover: *failover, tty: tty && !t.json, json: t.json, readTimeout: 10 * time.Second})
}

// watchFrame is one frame in -json.
type watchFrame struct {
	App        string         `json:"app"`
	LeaseTable string         `json:"lease_table"`
	At         time.Time      `json:"at"`
	WatchingMs int64          `json:"watching_ms"`
	Leader     string         `json:"leader,omitempty"`
	Errors     []string       `json:"errors,omitempty"`
	OddItems   int            `json:"odd_items,omitempty"`
	Workers    []watchWorker  `json:"workers"`
	Leases     []leaseRow     `json:"leases"`
	Handoffs   []watchHandoff `json:"handoffs"`
}

type watchWorker struct {
	ID           string   `json:"id"`
	State        string   `json:"state"`
	UnchangedMs  int64    `json:"heartbeat_unchanged_ms"`
	CPUPercent   *float64 `json:"cpu_percent,omitempty"`
	Leases       int      `json:"leases"`
	MaxLagMillis int64    `json:"max_lag_ms"`
}

type watchHandoff struct {
	Shard     string `json:"shard"`
	From      string `json:"from"`
	To        string `json:"to"`
	PendingMs int64  `json:"pending_ms"`
}

func frameJSON(s snapshot) watchFrame {
	f := watchFrame{App: s.app, LeaseTable: s.leaseTable, At: s.at.UTC(), WatchingMs: s.watching.Milliseconds(), Leader: s.leader, Errors: s.errs, OddItems: s.odd,
		Workers: []watchWorker{}, Handoffs: []watchHandoff{}}
	held := map[string]int{}
	for _, l := range s.leases {
		if !l.IsFinished() {
			held[l.Owner]++
		}
	}
	lag := map[string]map[string]int64{}
	for _, v := range s.workers {
		w := watchWorker{ID: v.rec.ID, State: workerState(v, s.failover), UnchangedMs: v.still.Milliseconds(), Leases: held[v.rec.ID]}
		if c := kclschema.LatestCPU(v.rec.Stats); c >= 0 {
			w.CPUPercent = &c
		}
		for _, ms := range v.rec.LeaseLag {
			w.MaxLagMillis = max(w.MaxLagMillis, ms)
		}
		f.Workers = append(f.Workers, w)
		lag[v.rec.ID] = v.rec.LeaseLag
	}
	f.Leases = leaseRows(s.leases, lag)
	for _, h := range s.handoffs {
		f.Handoffs = append(f.Handoffs, watchHandoff{Shard: h.shard, From: h.from, To: h.to, PendingMs: h.pending.Milliseconds()})
	}
	return f
}
