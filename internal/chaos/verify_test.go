package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// s is a sequence number of the test's shard: the emulators' are 56
// digits; these compare the same way.
func s(n int) string { return fmt.Sprintf("4960%06d", n) }

// world is a run built by hand: the verifier's own tests.
type world struct{ in Input }

const ms = int64(time.Millisecond)

// clean: one shard, keys a and b; p1 processes 1..4, checkpoints 2, is
// killed; p2 starts at 2 and processes 3..6 (3 and 4 again).
func clean() *world {
	w := &world{in: Input{FencingWindow: 500 * time.Millisecond}}
	for i := 1; i <= 6; i++ {
		w.in.Produced = append(w.in.Produced, Produced{Key: []string{"a", "b"}[i%2], Counter: int64((i + 1) / 2), Shard: "sh0", Seq: s(i)})
	}
	r := func(t int64, n, i int) Event {
		return Event{Kind: 'R', T: t * ms, N: n, Shard: "sh0", Pos: s(i), Key: []string{"a", "b"}[i%2], Counter: int64((i + 1) / 2)}
	}
	w.in.Processes = []Process{
		{Name: "w1#1", Events: []Event{
			{Kind: 'I', T: 1 * ms, N: 1, Shard: "sh0", Pos: "TRIM_HORIZON"},
			r(10, 1, 1), r(10, 1, 2),
			{Kind: 'C', Sent: 11 * ms, T: 12 * ms, N: 1, Shard: "sh0", Pos: s(2), What: "ok"},
			r(20, 1, 3), r(20, 1, 4),
		}},
		{Name: "w2#1", Events: []Event{
			{Kind: 'I', T: 4000 * ms, N: 1, Shard: "sh0", Pos: s(2)},
			r(4010, 1, 3), r(4010, 1, 4), r(4010, 1, 5), r(4010, 1, 6),
			{Kind: 'C', Sent: 4011 * ms, T: 4012 * ms, N: 1, Shard: "sh0", Pos: s(6), What: "ok"},
		}},
	}
	w.in.Faults = []Fault{{N: 1, Kind: KindKill, At: 25 * ms, Target: "w1#1"}}
	w.in.Shards = []Shard{{ID: "sh0"}}
	w.in.Table = []TableRow{{T: 0, Key: "sh0", Checkpoint: "TRIM_HORIZON"}, {T: 13 * ms, Key: "sh0", Checkpoint: s(2)}, {T: 5000 * ms, Key: "sh0", Checkpoint: s(6)}}
	return w
}

func TestVerifyCleanRun(t *testing.T) {
	r := Verify(clean().in)
	if f := r.Failures(); len(f) > 0 {
		t.Fatalf("failures on a clean run: %v\n%s", f, r)
	}
	if r.Duplicates != 2 || r.DuplicatesInWindow != 2 || r.Faults[0].Duplicates != 2 {
		t.Errorf("duplicates %d (in window %d, of the fault %d), want 2, 2, 2", r.Duplicates, r.DuplicatesInWindow, r.Faults[0].Duplicates)
	}
	if r.Faults[0].Moved != 1 || r.Faults[0].Stall != 3985*time.Millisecond {
		t.Errorf("fault: moved %d, stall %v; want 1, 3.985s", r.Faults[0].Moved, r.Faults[0].Stall)
	}
}

func TestVerifyFindsEachViolation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(w *world)
		check func(r *Report) bool
	}{
		{"lost", func(w *world) {
			w.in.Produced = append(w.in.Produced, Produced{Key: "a", Counter: 9, Shard: "sh0", Seq: s(9)})
		}, func(r *Report) bool { return r.Lost == 1 }},
		{"reordered within a sequence", func(w *world) {
			ev := w.in.Processes[1].Events
			ev[2], ev[3] = ev[3], ev[2] // 4 before 3
		}, func(r *Report) bool { return r.OrderViolations >= 1 }},
		{"record skipped", func(w *world) {
			ev := w.in.Processes[1].Events
			w.in.Processes[1].Events = append(ev[:2:2], ev[3:]...) // 3, 5, 6: 4 skipped (processed earlier by w1 only)
		}, func(r *Report) bool { return r.Skips == 1 && r.Lost == 0 }},
		{"first record skipped after the checkpoint", func(w *world) {
			ev := w.in.Processes[1].Events
			w.in.Processes[1].Events = append(ev[:1:1], ev[2:]...) // starts at 4, after checkpoint 2
		}, func(r *Report) bool { return r.Skips == 1 }},
		{"delivered below its starting checkpoint", func(w *world) {
			w.in.Processes[1].Events[0].Pos = s(3)
		}, func(r *Report) bool { return r.OrderViolations >= 1 }},
		{"initialized below an acknowledged checkpoint", func(w *world) {
			w.in.Processes[1].Events[0].Pos = s(1)
			ev := w.in.Processes[1].Events
			w.in.Processes[1].Events = append([]Event{ev[0], {Kind: 'R', T: 4005 * ms, N: 1, Shard: "sh0", Pos: s(2), Key: "a", Counter: 1}}, ev[1:]...)
		}, func(r *Report) bool { return r.CheckpointRegression >= 1 && r.DuplicatesBelowCkpt == 1 }},
		{"checkpoint backwards in the table", func(w *world) {
			w.in.Table = append(w.in.Table, TableRow{T: 6000 * ms, Key: "sh0", Checkpoint: s(4)})
		}, func(r *Report) bool { return r.CheckpointRegression == 1 }},
		{"checkpoint acknowledged backwards", func(w *world) {
			p := &w.in.Processes[1]
			p.Events = append(p.Events, Event{Kind: 'C', Sent: 4100 * ms, T: 4101 * ms, N: 1, Shard: "sh0", Pos: s(5), What: "ok"})
		}, func(r *Report) bool { return r.CheckpointRegression == 1 }},
		{"two owners outside the fencing window", func(w *world) {
			// The killed worker was only stopped, and processed on after
			// resuming: 4 again at 4.6 s, 600 ms after w2 started.
			p := &w.in.Processes[0]
			p.Events = append(p.Events, Event{Kind: 'R', T: 4610 * ms, N: 1, Shard: "sh0", Pos: s(5), Key: "b", Counter: 3})
		}, func(r *Report) bool { return r.ConcurrentOutside == 1 && r.MaxOverlap == 600*time.Millisecond }},
		{"two owners inside the fencing window", func(w *world) {
			p := &w.in.Processes[0]
			p.Events = append(p.Events, Event{Kind: 'R', T: 4110 * ms, N: 1, Shard: "sh0", Pos: s(5), Key: "b", Counter: 3})
		}, func(r *Report) bool { return r.ConcurrentOwners == 1 && r.ConcurrentOutside == 0 }},
		{"parent processed after its child", func(w *world) {
			w.in.Shards = append(w.in.Shards, Shard{ID: "sh1", Parents: []string{"sh0"}})
			w.in.Produced = append(w.in.Produced, Produced{Key: "a", Counter: 4, Shard: "sh1", Seq: s(7)})
			w.in.Processes = append(w.in.Processes, Process{Name: "w3#1", Events: []Event{
				{Kind: 'I', T: 3000 * ms, N: 1, Shard: "sh1", Pos: "TRIM_HORIZON"},
				{Kind: 'R', T: 3001 * ms, N: 1, Shard: "sh1", Pos: s(7), Key: "a", Counter: 4},
			}})
		}, func(r *Report) bool { return r.OrderViolations >= 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := clean()
			tc.spoil(w)
			r := Verify(w.in)
			if !tc.check(r) || len(r.Failures()) == 0 && !strings.Contains(tc.name, "inside") {
				t.Errorf("not found as expected:\n%s", r)
			}
			if strings.Contains(tc.name, "inside") && len(r.Failures()) > 0 {
				t.Errorf("an overlap inside the window fails the run: %v", r.Failures())
			}
		})
	}
}

func TestVerifyStallOfASplit(t *testing.T) {
	w := clean()
	w.in.Shards = append(w.in.Shards, Shard{ID: "sh1", Parents: []string{"sh0"}}, Shard{ID: "sh2", Parents: []string{"sh0"}})
	w.in.Faults = append(w.in.Faults, Fault{N: 2, Kind: KindSplit, At: 5000 * ms, Shards: []string{"sh0"}})
	w.in.Produced = append(w.in.Produced, Produced{Key: "a", Counter: 4, Shard: "sh1", Seq: s(7)}, Produced{Key: "b", Counter: 4, Shard: "sh2", Seq: s(8)})
	w.in.Processes = append(w.in.Processes, Process{Name: "w3#1", Events: []Event{
		{Kind: 'I', T: 5100 * ms, N: 1, Shard: "sh1", Pos: "TRIM_HORIZON"},
		{Kind: 'R', T: 5200 * ms, N: 1, Shard: "sh1", Pos: s(7), Key: "a", Counter: 4},
		{Kind: 'I', T: 5100 * ms, N: 2, Shard: "sh2", Pos: "TRIM_HORIZON"},
		{Kind: 'R', T: 5700 * ms, N: 2, Shard: "sh2", Pos: s(8), Key: "b", Counter: 4},
	}})
	r := Verify(w.in)
	if f := r.Failures(); len(f) > 0 {
		t.Fatalf("failures: %v\n%s", f, r)
	}
	if got := r.Faults[1]; got.Moved != 2 || got.Stall != 700*time.Millisecond {
		t.Errorf("split: moved %d, stall %v; want 2, 700ms", got.Moved, got.Stall)
	}
}

func TestJournalRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, err := CreateJournal(path, "w1", 2)
	if err != nil {
		t.Fatal(err)
	}
	tl := &tailer{path: path}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(j.Init(1, "sh0", "TRIM_HORIZON"))
	must(j.Records(1, "sh0", 42, []Processed{{Seq: s(1), Key: "a", Counter: 1}, {Seq: s(2), Key: "b", Counter: 7}}))
	evs, err := tl.read()
	must(err)
	if len(evs) != 4 || evs[0].Kind != 'P' || evs[0].What != "w1" || evs[0].Inc != 2 || evs[3].Key != "b" || evs[3].Counter != 7 || evs[3].T != 42 {
		t.Fatalf("read %+v", evs)
	}
	// A line written in part (a process killed mid-write) is read once
	// complete, not before.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	must(err)
	_, err = f.WriteString("E\t50\t1\tsh0\tlo")
	must(err)
	if evs, err := tl.read(); err != nil || len(evs) != 0 {
		t.Fatalf("partial line: %v %v", evs, err)
	}
	_, err = f.WriteString("st\n")
	must(err)
	f.Close()
	must(j.Checkpoint(1, "sh0", 60, 61, s(2), fmt.Errorf("shardwise: lease lost")))
	evs, err = tl.read()
	must(err)
	if len(evs) != 2 || evs[0].What != "lost" || evs[1].Kind != 'C' || evs[1].Sent != 60 || evs[1].T != 61 || evs[1].What != "shardwise:_lease_lost" {
		t.Fatalf("read %+v", evs)
	}
	must(j.Close())
}

// A paused process that processes on after resuming: its re-processing
// falls in the pause's window, and its overlap with the new owner fails
// the run.
func TestVerifyPausedProcessProcessingOn(t *testing.T) {
	w := clean()
	w.in.Faults = []Fault{{N: 1, Kind: KindStop, At: 25 * ms, Until: 4500 * ms, Target: "w1#1"}}
	p := &w.in.Processes[0]
	p.Events = append(p.Events, Event{Kind: 'R', T: 4610 * ms, N: 1, Shard: "sh0", Pos: s(5), Key: "b", Counter: 3})
	r := Verify(w.in)
	if r.ConcurrentOutside != 1 || len(r.Failures()) != 1 {
		t.Errorf("concurrent outside the window %d, failures %v; want 1 and one failure", r.ConcurrentOutside, r.Failures())
	}
	// 3 and 4 re-processed by w2 (w1 processed them before the pause),
	// 5 re-processed by w1 after it resumed: all three in the window.
	if r.Duplicates != 3 || r.DuplicatesInWindow != 3 || r.Faults[0].Duplicates != 3 {
		t.Errorf("duplicates %d, in the window %d, of the pause %d; want 3, 3, 3\n%s", r.Duplicates, r.DuplicatesInWindow, r.Faults[0].Duplicates, r)
	}
}

// A join's stall is the gap in each shard it took from another worker.
func TestVerifyStallOfAJoin(t *testing.T) {
	w := clean()
	w.in.Faults = append(w.in.Faults, Fault{N: 2, Kind: KindJoin, At: 4500 * ms, Target: "w3#1"})
	w.in.Produced = append(w.in.Produced, Produced{Key: "a", Counter: 4, Shard: "sh0", Seq: s(7)})
	w.in.Processes[1].Events = append(w.in.Processes[1].Events, Event{Kind: 'E', T: 5000 * ms, N: 1, Shard: "sh0", What: "shutdown"})
	w.in.Processes = append(w.in.Processes, Process{Name: "w3#1", Events: []Event{
		{Kind: 'I', T: 5100 * ms, N: 1, Shard: "sh0", Pos: s(6)},
		{Kind: 'R', T: 5250 * ms, N: 1, Shard: "sh0", Pos: s(7), Key: "a", Counter: 4},
	}})
	r := Verify(w.in)
	if f := r.Failures(); len(f) > 0 {
		t.Fatalf("failures: %v\n%s", f, r)
	}
	// w2's last record was at 4.01 s, before the join at 4.5 s: the gap
	// counts from the join.
	if got := r.Faults[1]; got.Moved != 1 || got.Stall != 750*time.Millisecond {
		t.Errorf("join: moved %d, stall %v; want 1, 750ms", got.Moved, got.Stall)
	}
}
