// Package metricagg aggregates metric observations into one statistic set
// per series (metric name, unit and dimension set). It is the shared core
// of the in-memory sink (package metrics) and the CloudWatch publisher
// (package metrics/cloudwatch).
//
// A Table is generic over the dimension value it keeps for each series, so
// it needs nothing from package metrics: a series is identified by the
// dimension set's canonical key (a string), and the dimension value itself
// is only stored, to be handed back when the table is drained.
package metricagg

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
)

// Stats summarises the observations of one metric over an interval, in
// the form CloudWatch's PutMetricData accepts.
type Stats struct {
	SampleCount float64
	Sum         float64
	Minimum     float64
	Maximum     float64
}

// Average is Sum/SampleCount (0 for an empty set).
func (s Stats) Average() float64 {
	if s.SampleCount == 0 {
		return 0
	}
	return s.Sum / s.SampleCount
}

// Observe adds one observation.
func (s *Stats) Observe(v float64) {
	if s.SampleCount == 0 {
		*s = Stats{SampleCount: 1, Sum: v, Minimum: v, Maximum: v}
		return
	}
	s.SampleCount++
	s.Sum += v
	if v < s.Minimum {
		s.Minimum = v
	}
	if v > s.Maximum {
		s.Maximum = v
	}
}

// Merge folds o into s.
func (s *Stats) Merge(o Stats) {
	if o.SampleCount == 0 {
		return
	}
	if s.SampleCount == 0 {
		*s = o
		return
	}
	s.SampleCount += o.SampleCount
	s.Sum += o.Sum
	s.Minimum = math.Min(s.Minimum, o.Minimum)
	s.Maximum = math.Max(s.Maximum, o.Maximum)
}

// Key identifies one series. All three fields are strings the caller
// already holds (the dimension key is computed once, when the dimension set
// is built), so a lookup hashes them without building a combined string.
type Key struct {
	Name string
	Unit string
	Dims string // the dimension set's canonical key
}

// entry is one series' running aggregate. Its fields are guarded by the
// mutex of the shard whose map holds it.
//
// stats is the only field written after creation, and it comes first,
// followed by padding: whatever the size of D, the stats of two entries are
// then more than a cache line apart, so two goroutines updating their own
// series never write the same cache line (false sharing doubled the
// parallel cost of Record).
type entry[D any] struct {
	stats Stats
	_     [64]byte
	dims  D
}

// numShards spreads contention from many shard goroutines over several
// locks; a series' shard is picked from a hash of its dimension key, so one
// scope always lands on the same lock.
const numShards = 16

type shard[D any] struct {
	mu    sync.Mutex
	m     map[Key]*entry[D] // guarded by mu
	spare map[Key]*entry[D] // guarded by mu; an emptied map reused by the next drain
	_     [104]byte         // 128 bytes per shard: neighbouring shards' locks never share a cache line (or an adjacent-line prefetch pair)
}

// seed spreads dimension sets over shards. It only has to be stable within
// one process.
var seed = maphash.MakeSeed()

func shardOf(dimsKey string) uint8 {
	return uint8(maphash.String(seed, dimsKey) % numShards)
}

// Table aggregates observations by series. It is safe for concurrent use,
// except that only one goroutine may Drain at a time.
type Table[D any] struct {
	shards [numShards]shard[D]

	// limit bounds how many series (plus whatever the owner accounts
	// through Reserve/Release) may exist at once; 0 means unbounded.
	limit int64
	// used counts series in the maps plus slots the owner reserved.
	used atomic.Int64
}

// New returns an empty table holding at most limit series and reserved
// slots at once (0: unbounded).
func New[D any](limit int64) *Table[D] {
	t := &Table[D]{limit: limit}
	for i := range t.shards {
		t.shards[i].m = make(map[Key]*entry[D])
	}
	return t
}

// Add records v into the series k (whose dimensions are dims) and reports
// whether it was kept; it is false only when the series is new and the
// table is at its limit.
func (t *Table[D]) Add(k Key, dims D, v float64) bool {
	sh := &t.shards[shardOf(k.Dims)]
	sh.mu.Lock()
	if e := sh.m[k]; e != nil {
		e.stats.Observe(v)
		sh.mu.Unlock()
		return true
	}
	if !t.Reserve(1) {
		sh.mu.Unlock()
		return false
	}
	sh.m[k] = &entry[D]{stats: Stats{SampleCount: 1, Sum: v, Minimum: v, Maximum: v}, dims: dims}
	sh.mu.Unlock()
	return true
}

// Reserve takes n slots if they are free.
func (t *Table[D]) Reserve(n int64) bool {
	if t.used.Add(n) > t.limit && t.limit > 0 {
		t.used.Add(-n)
		return false
	}
	return true
}

// Release frees n slots.
func (t *Table[D]) Release(n int64) { t.used.Add(-n) }

// Drain detaches every series and hands each to fn, outside the locks.
// The series' slots stay taken: fn's owner releases them once it is done
// with what it made of them. Only one goroutine may drain at a time.
func (t *Table[D]) Drain(fn func(k Key, dims D, s Stats)) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		old := sh.m
		if sh.spare != nil {
			sh.m, sh.spare = sh.spare, nil
		} else {
			sh.m = make(map[Key]*entry[D], len(old))
		}
		sh.mu.Unlock()
		// No Add can reach old any more: it was swapped out under the
		// lock every writer takes, so reading it here is race-free.
		for k, e := range old {
			fn(k, e.dims, e.stats)
		}
		clear(old)
		sh.mu.Lock()
		sh.spare = old
		sh.mu.Unlock()
	}
}

// Each calls fn with every series, shard by shard under the shard's lock
// (fn must not call back into the table).
func (t *Table[D]) Each(fn func(k Key, dims D, s Stats)) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			fn(k, e.dims, e.stats)
		}
		sh.mu.Unlock()
	}
}

// Lookup returns the statistics of the metric name with exactly the
// dimension set dimsKey, merged across units, and whether any were
// recorded.
func (t *Table[D]) Lookup(name, dimsKey string) (Stats, bool) {
	var out Stats
	found := false
	sh := &t.shards[shardOf(dimsKey)]
	sh.mu.Lock()
	for k, e := range sh.m {
		if k.Name == name && k.Dims == dimsKey {
			out.Merge(e.stats)
			found = true
		}
	}
	sh.mu.Unlock()
	return out, found
}

// Reset forgets every series.
func (t *Table[D]) Reset() {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		t.used.Add(-int64(len(sh.m)))
		clear(sh.m)
		sh.mu.Unlock()
	}
}
