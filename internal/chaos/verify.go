package chaos

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shardwise/shardwise/internal/seqnum"
)

// Fault is one step of a schedule as it was carried out.
type Fault struct {
	N      int    // 1, 2, ... in schedule order
	Kind   string // see the Kind constants
	At     int64  // Now() when the fault was applied (the signal sent, the reshard asked)
	Until  int64  // SIGSTOP: when SIGCONT was sent; 0 otherwise
	Target string // the process hit ("worker#incarnation"); for a join, the new process
	Shards []string
}

// Kinds of fault.
const (
	KindKill        = "sigkill"         // SIGKILL; the worker id starts again later as a new incarnation
	KindStop        = "sigstop"         // SIGSTOP for longer than FailoverTime, then SIGCONT
	KindTermRestart = "sigterm-restart" // SIGTERM (graceful), then a new incarnation under the same id
	KindJoin        = "join"            // a new worker id joins
	KindSplit       = "split"           // SplitShard of Shards[0] at the middle of its range
	KindMerge       = "merge"           // MergeShards of Shards[0] and Shards[1]
)

// Shard is a shard of the stream, with its parents (from ListShards at the
// end of the run).
type Shard struct {
	ID      string
	Parents []string
}

// TableRow is one lease's checkpoint as the driver read it from the lease
// table at time T (it reads the table every few hundred milliseconds and
// once more at the end).
type TableRow struct {
	T          int64
	Key        string
	Checkpoint string
	Owner      string
}

// Process is one journal: one incarnation of one worker id.
type Process struct {
	Name   string // worker#incarnation
	Worker string
	Inc    int
	Events []Event
}

// Input is everything the verifier reads.
type Input struct {
	Processes []Process
	Produced  []Produced
	Faults    []Fault
	Shards    []Shard
	Table     []TableRow
	// FencingWindow is the overlap of two owners of one shard that the
	// design tolerates: FenceMargin, the slack between a worker fencing
	// itself and the leader moving its leases.
	FencingWindow time.Duration
}

// Violation is one broken property, described for a person.
type Violation struct {
	Kind   string // lost, order, concurrent, regression, duplicate-below-checkpoint
	Detail string
}

// FaultReport is what one fault cost.
type FaultReport struct {
	Fault
	Moved      int           // shards the fault moved (held by the target, children of a reshard, taken by a joiner)
	Unresumed  int           // of those, shards that processed no record after the fault
	Stall      time.Duration // the longest time from the fault to a moved shard's next record
	Duplicates int           // re-processings of records the target had processed before the fault
}

// Report is the verifier's result.
type Report struct {
	Produced             int
	Processed            int // records processed, duplicates included
	ProcessedUnacked     int // processings of records the producer never saw acknowledged (a put whose response was lost)
	Lost                 int
	Duplicates           int
	DuplicatesInWindow   int // the first processing was by a process a fault then hit, the second after the fault
	DuplicatesOther      int
	DuplicatesBelowCkpt  int // re-processed although a checkpoint covering it was acknowledged before the re-processing began
	OrderViolations      int
	Skips                int // of the order violations: a record of the shard skipped inside one processing sequence
	ConcurrentOwners     int
	ConcurrentOutside    int
	MaxOverlap           time.Duration
	CheckpointRegression int
	Processes            int
	Sequences            int
	Faults               []FaultReport
	Violations           []Violation
}

// maxListed bounds the violations listed one by one (all are counted).
const maxListed = 20

func (r *Report) violate(kind, format string, args ...any) {
	if len(r.Violations) < maxListed {
		r.Violations = append(r.Violations, Violation{Kind: kind, Detail: fmt.Sprintf(format, args...)})
	}
}

// Failures lists what makes a run fail: any loss, order violation,
// checkpoint regression, duplicate below an acknowledged checkpoint, or
// two owners of one shard overlapping by more than the fencing window.
func (r *Report) Failures() []string {
	var out []string
	add := func(n int, what string) {
		if n > 0 {
			out = append(out, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(r.Lost, "records lost")
	add(r.OrderViolations, "per-key order violations")
	add(r.CheckpointRegression, "checkpoint regressions")
	add(r.DuplicatesBelowCkpt, "records re-processed below an acknowledged checkpoint")
	add(r.ConcurrentOutside, "concurrent owners outside the fencing window")
	return out
}

// Lines returns the report as key=value lines.
func (r *Report) Lines() []string {
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	out := []string{
		fmt.Sprintf("produced=%d", r.Produced),
		fmt.Sprintf("processed=%d", r.Processed),
		fmt.Sprintf("processed_unacknowledged=%d", r.ProcessedUnacked),
		fmt.Sprintf("lost=%d", r.Lost),
		fmt.Sprintf("duplicates=%d", r.Duplicates),
		fmt.Sprintf("duplicates_in_fault_window=%d", r.DuplicatesInWindow),
		fmt.Sprintf("duplicates_other=%d", r.DuplicatesOther),
		fmt.Sprintf("duplicates_below_checkpoint=%d", r.DuplicatesBelowCkpt),
		fmt.Sprintf("order_violations=%d", r.OrderViolations),
		fmt.Sprintf("order_skips=%d", r.Skips),
		fmt.Sprintf("concurrent_owners=%d", r.ConcurrentOwners),
		fmt.Sprintf("concurrent_owners_outside_window=%d", r.ConcurrentOutside),
		fmt.Sprintf("concurrent_max_overlap_ms=%d", ms(r.MaxOverlap)),
		fmt.Sprintf("checkpoint_regressions=%d", r.CheckpointRegression),
		fmt.Sprintf("processes=%d", r.Processes),
		fmt.Sprintf("processing_sequences=%d", r.Sequences),
		fmt.Sprintf("faults=%d", len(r.Faults)),
	}
	worst := map[string]time.Duration{}
	var kinds []string
	for _, f := range r.Faults {
		p := fmt.Sprintf("fault.%d.", f.N)
		out = append(out,
			p+"kind="+f.Kind,
			p+"target="+f.Target,
			fmt.Sprintf("%smoved_shards=%d", p, f.Moved),
			fmt.Sprintf("%sunresumed_shards=%d", p, f.Unresumed),
			fmt.Sprintf("%sstall_ms=%d", p, ms(f.Stall)),
			fmt.Sprintf("%sduplicates=%d", p, f.Duplicates),
		)
		if _, ok := worst[f.Kind]; !ok {
			kinds = append(kinds, f.Kind)
		}
		worst[f.Kind] = max(worst[f.Kind], f.Stall)
	}
	for _, k := range kinds {
		out = append(out, fmt.Sprintf("stall_max_ms.%s=%d", k, ms(worst[k])))
	}
	for _, v := range r.Violations {
		out = append(out, fmt.Sprintf("violation.%s=%q", v.Kind, v.Detail))
	}
	return out
}

// seqn is one processing sequence: the records one processor (one lease
// acquisition in one process) was given, in order.
type seqn struct {
	proc     *Process
	n        int
	shard    string
	start    string // the checkpoint it was initialized at ("" if no I line)
	initT    int64
	recs     []*rec
	end      string
	endT     int64
	hasEnd   bool
	firstRec int64
	lastRec  int64
}

type rec struct {
	Event
	s *seqn
}

// cmpPos orders checkpoint positions: the starting sentinels, then
// sequence numbers, then SHARD_END.
func cmpPos(a, b string) int {
	rank := func(p string) int {
		switch {
		case p == "SHARD_END":
			return 2
		case seqnum.Valid(p):
			return 1
		default:
			return 0
		}
	}
	ra, rb := rank(a), rank(b)
	if ra != rb || ra != 1 {
		return ra - rb
	}
	return seqnum.Compare(a, b)
}

// Verify checks a run. The properties, precisely:
//
//   - Lost: a (key, counter) the producer had acknowledged that no journal
//     holds.
//   - Duplicate: a record (shard, sequence number) processed more than
//     once; each processing after the first counts. It is "in a fault's
//     window" when the earlier processing was by a process that a fault
//     then hit (kill, stop, terminate) and the later one came after that
//     fault, or when the later one was by a process stopped before it (a
//     paused process processing on after it resumed); "below checkpoint" when a checkpoint at or past the record had
//     been acknowledged (its call returned ok) before the re-processing
//     sequence was initialized: at-least-once delivery allows re-delivery
//     after the last checkpoint only, so that one is a violation.
//   - Order violation: within one processing sequence, a key's counter
//     that does not increase (or a sequence number that does not); a
//     record at or below the checkpoint its sequence was initialized at; a
//     record of the shard skipped between two records one sequence
//     delivered, or between its starting checkpoint and its first record
//     (the shard's records are all the producer acknowledged for it plus
//     all anyone processed); or a key's record in a shard processed after
//     the same key's record in a descendant shard (a parent re-processed
//     after its child started). A new sequence starting over from a
//     checkpoint re-delivers what followed it: that is a duplicate, not an
//     order violation; reordering never is.
//   - Concurrent owners: two sequences of one shard whose processing
//     times overlap (the earlier one still processing after the later one
//     processed its first record), by how much; outside the window when
//     the overlap exceeds FencingWindow. All times are one host's
//     CLOCK_MONOTONIC (Now), read by every process.
//   - Checkpoint regression: a lease's checkpoint in the table lower than
//     an earlier reading of it; a checkpoint acknowledged lower than one
//     acknowledged (sent) earlier for the same shard; a sequence
//     initialized below a checkpoint acknowledged before it.
//   - Stall of a fault: the longest, over the shards it moved, time from
//     the fault to that shard's next record processed by another process
//     (kill, stop, terminate: the shards the target held; split, merge:
//     the children, from the reshard; join: for each shard the joiner took
//     from another worker before the next fault, from the shard's last
//     record elsewhere, or the join if later, to the joiner's first).
func Verify(in Input) *Report {
	r := &Report{Produced: len(in.Produced), Processes: len(in.Processes)}

	// Sequences and records.
	var seqs []*seqn
	var recs []*rec
	ckpts := map[string][]Event{} // shard -> acknowledged checkpoints (C ok)
	for pi := range in.Processes {
		p := &in.Processes[pi]
		byN := map[int]*seqn{}
		get := func(n int, shard string) *seqn {
			s := byN[n]
			if s == nil {
				s = &seqn{proc: p, n: n, shard: shard}
				byN[n] = s
				seqs = append(seqs, s)
			}
			return s
		}
		for _, ev := range p.Events {
			switch ev.Kind {
			case 'I':
				s := get(ev.N, ev.Shard)
				s.start, s.initT = ev.Pos, ev.T
			case 'R':
				s := get(ev.N, ev.Shard)
				rc := &rec{Event: ev, s: s}
				if len(s.recs) == 0 {
					s.firstRec = ev.T
				}
				s.lastRec = ev.T
				s.recs = append(s.recs, rc)
				recs = append(recs, rc)
			case 'C':
				if ev.What == "ok" && ev.Pos != "-" {
					ckpts[ev.Shard] = append(ckpts[ev.Shard], ev)
				}
			case 'E':
				s := get(ev.N, ev.Shard)
				s.end, s.endT, s.hasEnd = ev.What, ev.T, true
			}
		}
	}
	r.Sequences = len(seqs)
	r.Processed = len(recs)
	// ackedBefore is the highest checkpoint of shard whose call returned
	// ok before t.
	ackedBefore := func(shard string, t int64) string {
		best := ""
		for _, c := range ckpts[shard] {
			if c.T < t && (best == "" || cmpPos(c.Pos, best) > 0) {
				best = c.Pos
			}
		}
		return best
	}

	// Lost, and processings of unacknowledged records.
	type kc struct {
		key string
		c   int64
	}
	processed := map[kc]bool{}
	for _, rc := range recs {
		processed[kc{rc.Key, rc.Counter}] = true
	}
	acked := map[kc]bool{}
	for _, p := range in.Produced {
		acked[kc{p.Key, p.Counter}] = true
		if !processed[kc{p.Key, p.Counter}] {
			r.Lost++
			r.violate("lost", "%s counter %d (shard %s, sequence number %s) acknowledged, never processed", p.Key, p.Counter, p.Shard, p.Seq)
		}
	}
	for _, rc := range recs {
		if !acked[kc{rc.Key, rc.Counter}] {
			r.ProcessedUnacked++
		}
	}

	// Faults that hit a process.
	hits := map[string][]Fault{}
	for _, f := range in.Faults {
		switch f.Kind {
		case KindKill, KindStop, KindTermRestart:
			hits[f.Target] = append(hits[f.Target], f)
		}
	}
	faultReports := make([]FaultReport, len(in.Faults))
	faultIdx := map[int]int{}
	for i, f := range in.Faults {
		faultReports[i].Fault = f
		faultIdx[f.N] = i
	}

	// Duplicates.
	type sk struct{ shard, seq string }
	byRecord := map[sk][]*rec{}
	for _, rc := range recs {
		k := sk{rc.Shard, rc.Pos}
		byRecord[k] = append(byRecord[k], rc)
	}
	for _, group := range byRecord {
		if len(group) < 2 {
			continue
		}
		slices.SortStableFunc(group, func(a, b *rec) int { return cmpInt(a.T, b.T) })
		first := group[0]
		for _, later := range group[1:] {
			r.Duplicates++
			if ack := ackedBefore(later.Shard, later.s.initT); later.s.initT > 0 && ack != "" && cmpPos(ack, later.Pos) >= 0 {
				r.DuplicatesBelowCkpt++
				r.violate("duplicate-below-checkpoint", "shard %s record %s re-processed by %s (sequence initialized at %s) after checkpoint %s was acknowledged", later.Shard, later.Pos, later.s.proc.Name, later.s.start, ack)
				continue
			}
			// The fault whose window it falls in: one that hit the first
			// processor's process between the two processings (its
			// uncheckpointed work is delivered again), else the last
			// pause of the second processor's process before it (a
			// paused process that processed on after resuming).
			var win *Fault
			for _, f := range hits[first.s.proc.Name] {
				if first.T <= f.At && f.At <= later.T {
					win = &f
					break
				}
			}
			if win == nil {
				for _, f := range hits[later.s.proc.Name] {
					if f.Kind == KindStop && f.At <= later.T {
						win = &f
					}
				}
			}
			if win != nil {
				r.DuplicatesInWindow++
				faultReports[faultIdx[win.N]].Duplicates++
			} else {
				r.DuplicatesOther++
			}
		}
	}

	// Order within sequences, and against the starting checkpoint.
	known := map[string][]string{} // shard -> every sequence number known, sorted
	{
		seen := map[sk]bool{}
		add := func(shard, seq string) {
			if !seen[sk{shard, seq}] {
				seen[sk{shard, seq}] = true
				known[shard] = append(known[shard], seq)
			}
		}
		for _, p := range in.Produced {
			add(p.Shard, p.Seq)
		}
		for _, rc := range recs {
			add(rc.Shard, rc.Pos)
		}
		for _, l := range known {
			slices.SortFunc(l, seqnum.Compare)
		}
	}
	index := func(shard, seq string) int {
		i, _ := slices.BinarySearchFunc(known[shard], seq, seqnum.Compare)
		return i
	}
	for _, s := range seqs {
		last := map[string]int64{}
		prevPos := ""
		prevIdx := -1
		if len(s.recs) > 0 {
			// The first record must be the shard's first known record
			// after the starting checkpoint.
			want := 0
			if seqnum.Valid(s.start) {
				want, _ = slices.BinarySearchFunc(known[s.shard], s.start, seqnum.Compare)
				if want < len(known[s.shard]) && known[s.shard][want] == s.start {
					want++
				}
			}
			if s.start != "" {
				prevIdx = want - 1
			}
		}
		for _, rc := range s.recs {
			if seqnum.Valid(s.start) && seqnum.Compare(rc.Pos, s.start) <= 0 {
				r.OrderViolations++
				r.violate("order", "%s processor %d on %s delivered %s at or below its starting checkpoint %s", s.proc.Name, s.n, s.shard, rc.Pos, s.start)
			}
			if prevPos != "" && seqnum.Compare(rc.Pos, prevPos) <= 0 {
				r.OrderViolations++
				r.violate("order", "%s processor %d on %s delivered %s after %s", s.proc.Name, s.n, s.shard, rc.Pos, prevPos)
			}
			if c, ok := last[rc.Key]; ok && rc.Counter <= c {
				r.OrderViolations++
				r.violate("order", "%s processor %d on %s: %s counter %d after %d", s.proc.Name, s.n, s.shard, rc.Key, rc.Counter, c)
			}
			if idx := index(s.shard, rc.Pos); prevIdx >= -1 && idx > prevIdx+1 && (prevPos != "" || s.start != "") {
				r.OrderViolations++
				r.Skips++
				r.violate("order", "%s processor %d on %s skipped %d record(s) before %s (after %s)", s.proc.Name, s.n, s.shard, idx-prevIdx-1, rc.Pos, orStart(prevPos, s.start))
			}
			prevIdx = index(s.shard, rc.Pos)
			prevPos = rc.Pos
			last[rc.Key] = rc.Counter
		}
	}

	// A parent's record processed after a child's, per key.
	parents := map[string][]string{}
	for _, sh := range in.Shards {
		parents[sh.ID] = sh.Parents
	}
	isAncestor := func(a, d string) bool { // a is a strict ancestor of d
		stack := slices.Clone(parents[d])
		seen := map[string]bool{}
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if x == a {
				return true
			}
			if !seen[x] {
				seen[x] = true
				stack = append(stack, parents[x]...)
			}
		}
		return false
	}
	byKey := map[string][]*rec{}
	for _, rc := range recs {
		byKey[rc.Key] = append(byKey[rc.Key], rc)
	}
	for key, l := range byKey {
		slices.SortStableFunc(l, func(a, b *rec) int { return cmpInt(a.T, b.T) })
		seenShards := map[string]int64{} // shard -> counter first processed there
		for _, rc := range l {
			for d, c := range seenShards {
				if d != rc.Shard && isAncestor(rc.Shard, d) {
					r.OrderViolations++
					r.violate("order", "%s counter %d processed in parent %s after counter %d was processed in its descendant %s", key, rc.Counter, rc.Shard, c, d)
					break
				}
			}
			if _, ok := seenShards[rc.Shard]; !ok {
				seenShards[rc.Shard] = rc.Counter
			}
		}
	}

	// Concurrent owners.
	byShard := map[string][]*seqn{}
	for _, s := range seqs {
		if len(s.recs) > 0 {
			byShard[s.shard] = append(byShard[s.shard], s)
		}
	}
	for shard, l := range byShard {
		sort.SliceStable(l, func(i, j int) bool { return l[i].firstRec < l[j].firstRec })
		for j, b := range l {
			for _, a := range l[:j] {
				ov := time.Duration(a.lastRec - b.firstRec)
				if ov <= 0 {
					continue
				}
				r.ConcurrentOwners++
				r.MaxOverlap = max(r.MaxOverlap, ov)
				if ov > in.FencingWindow {
					r.ConcurrentOutside++
					r.violate("concurrent", "shard %s processed by %s (processor %d) %v after %s (processor %d) started processing it", shard, a.proc.Name, a.n, ov.Round(time.Millisecond), b.proc.Name, b.n)
				}
			}
		}
	}

	// Checkpoint regressions: the table, the acknowledged checkpoints,
	// and sequences initialized below an acknowledged checkpoint.
	rows := slices.Clone(in.Table)
	slices.SortStableFunc(rows, func(a, b TableRow) int { return cmpInt(a.T, b.T) })
	high := map[string]string{}
	for _, row := range rows {
		if h, ok := high[row.Key]; ok && cmpPos(row.Checkpoint, h) < 0 {
			r.CheckpointRegression++
			r.violate("regression", "lease %s checkpoint %s in the table after %s", row.Key, row.Checkpoint, h)
			continue
		}
		high[row.Key] = row.Checkpoint
	}
	for shard, l := range ckpts {
		l = slices.Clone(l)
		slices.SortStableFunc(l, func(a, b Event) int { return cmpInt(a.Sent, b.Sent) })
		for i := 1; i < len(l); i++ {
			if cmpPos(l[i].Pos, l[i-1].Pos) < 0 {
				r.CheckpointRegression++
				r.violate("regression", "shard %s checkpoint %s acknowledged after %s", shard, l[i].Pos, l[i-1].Pos)
			}
		}
	}
	for _, s := range seqs {
		if s.initT == 0 {
			continue
		}
		if ack := ackedBefore(s.shard, s.initT); ack != "" && cmpPos(s.start, ack) < 0 {
			r.CheckpointRegression++
			r.violate("regression", "%s processor %d on %s initialized at %s after checkpoint %s was acknowledged", s.proc.Name, s.n, s.shard, s.start, ack)
		}
	}

	// Stalls.
	children := map[string][]string{}
	for _, sh := range in.Shards {
		for _, p := range sh.Parents {
			children[p] = append(children[p], sh.ID)
		}
	}
	// nextRecord is the first record of shard after t not processed by
	// the process named except.
	nextRecord := func(shard string, t int64, except string) (int64, bool) {
		best, ok := int64(0), false
		for _, s := range byShard[shard] {
			if s.proc.Name == except {
				continue
			}
			for _, rc := range s.recs {
				if rc.T > t {
					if !ok || rc.T < best {
						best, ok = rc.T, true
					}
					break
				}
			}
		}
		return best, ok
	}
	for i := range faultReports {
		fr := &faultReports[i]
		f := fr.Fault
		stall := func(shard string, from int64, except string) {
			fr.Moved++
			if t, ok := nextRecord(shard, f.At, except); ok {
				fr.Stall = max(fr.Stall, time.Duration(t-from))
			} else {
				fr.Unresumed++
			}
		}
		switch f.Kind {
		case KindKill, KindStop, KindTermRestart:
			held := map[string]bool{}
			for _, s := range seqs {
				if s.proc.Name == f.Target && s.initT > 0 && s.initT < f.At && (!s.hasEnd || s.endT > f.At) && s.end != "ended" {
					held[s.shard] = true
				}
			}
			for shard := range held {
				stall(shard, f.At, f.Target)
			}
		case KindSplit, KindMerge:
			kids := map[string]bool{}
			for _, p := range f.Shards {
				for _, c := range children[p] {
					kids[c] = true
				}
			}
			for c := range kids {
				stall(c, f.At, "")
			}
		case KindJoin:
			// The shards the joiner took from others before the next
			// fault: from the last record elsewhere to its first.
			next := int64(1<<63 - 1)
			for _, g := range in.Faults {
				if g.At > f.At {
					next = min(next, g.At)
				}
			}
			for _, s := range seqs {
				if s.proc.Name != f.Target || len(s.recs) == 0 || s.initT >= next {
					continue
				}
				lastElsewhere, moved := f.At, false
				for _, o := range byShard[s.shard] {
					if o.proc.Name != f.Target && o.firstRec < s.firstRec {
						lastElsewhere, moved = max(lastElsewhere, min(o.lastRec, s.firstRec)), true
					}
				}
				if moved {
					fr.Moved++
					fr.Stall = max(fr.Stall, time.Duration(s.firstRec-lastElsewhere))
				}
			}
		}
	}
	r.Faults = faultReports
	return r
}

func orStart(prev, start string) string {
	if prev != "" {
		return prev
	}
	return "starting checkpoint " + start
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// String is the report's lines joined.
func (r *Report) String() string { return strings.Join(r.Lines(), "\n") }
