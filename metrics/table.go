package metrics

import (
	"math"
	"sync"
	"sync/atomic"
)

// StatisticSet summarises the observations of one metric over an interval,
// in the form PutMetricData accepts.
type StatisticSet struct {
	SampleCount float64
	Sum         float64
	Minimum     float64
	Maximum     float64
}

// Average is Sum/SampleCount (0 for an empty set).
func (s StatisticSet) Average() float64 {
	if s.SampleCount == 0 {
		return 0
	}
	return s.Sum / s.SampleCount
}

func (s *StatisticSet) observe(v float64) {
	s.SampleCount++
	s.Sum += v
	if v < s.Minimum {
		s.Minimum = v
	}
	if v > s.Maximum {
		s.Maximum = v
	}
}

func (s *StatisticSet) merge(o StatisticSet) {
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

// seriesKey identifies one aggregated series. All three fields are strings
// the caller already holds (the dims key is precomputed in Dims), so a
// lookup hashes them without building a combined string.
type seriesKey struct {
	name string
	unit Unit
	dims string
}

// series is one metric's running aggregate. Its fields are guarded by the
// mutex of the tableShard whose map holds it.
type series struct {
	name  string
	unit  Unit
	dims  Dims
	stats StatisticSet
	// Pads the struct to 128 bytes, a size class whose objects are
	// 128-byte aligned: two goroutines updating their own series never
	// write the same cache line (false sharing doubled the parallel cost).
	_ [16]byte
}

// numShards spreads contention from many shard goroutines over several
// locks; a Dims picks its shard from a hash of its key, so one scope always
// lands on the same lock.
const numShards = 16

type tableShard struct {
	mu    sync.Mutex
	m     map[seriesKey]*series // guarded by mu
	spare map[seriesKey]*series // guarded by mu; an emptied map reused by the next drain
	_     [104]byte             // 128 bytes per shard: neighbouring shards' locks never share a cache line (or an adjacent-line prefetch pair)
}

// table aggregates observations by series. It is the shared core of the
// Memory and CloudWatch sinks.
type table struct {
	shards [numShards]tableShard

	// limit bounds how many series (plus whatever the owner accounts
	// through reserve/release) may exist at once; 0 means unbounded.
	limit int64
	// used counts series in the maps plus slots the owner reserved.
	used atomic.Int64
}

func newTable(limit int64) *table {
	t := &table{limit: limit}
	for i := range t.shards {
		t.shards[i].m = make(map[seriesKey]*series)
	}
	return t
}

// add records v into its series and reports whether it was kept; it is
// false only when the series is new and the table is at its limit.
func (t *table) add(name string, unit Unit, d Dims, v float64) bool {
	sh := &t.shards[d.shard]
	k := seriesKey{name: name, unit: unit, dims: d.key}
	sh.mu.Lock()
	if s := sh.m[k]; s != nil {
		s.stats.observe(v)
		sh.mu.Unlock()
		return true
	}
	if !t.reserve(1) {
		sh.mu.Unlock()
		return false
	}
	sh.m[k] = &series{name: name, unit: unit, dims: d, stats: StatisticSet{SampleCount: 1, Sum: v, Minimum: v, Maximum: v}}
	sh.mu.Unlock()
	return true
}

// reserve takes n slots if they are free.
func (t *table) reserve(n int64) bool {
	if t.used.Add(n) > t.limit && t.limit > 0 {
		t.used.Add(-n)
		return false
	}
	return true
}

// release frees n slots.
func (t *table) release(n int64) { t.used.Add(-n) }

// drain detaches every series and hands each to fn, outside the locks.
// The series' slots stay taken: fn's owner releases them once it is done
// with what it made of them. Only one goroutine may drain at a time.
func (t *table) drain(fn func(*series)) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		old := sh.m
		if sh.spare != nil {
			sh.m, sh.spare = sh.spare, nil
		} else {
			sh.m = make(map[seriesKey]*series, len(old))
		}
		sh.mu.Unlock()
		// No Record can reach old any more: it was swapped out under the
		// lock every writer takes, so reading it here is race-free.
		for _, s := range old {
			fn(s)
		}
		clear(old)
		sh.mu.Lock()
		sh.spare = old
		sh.mu.Unlock()
	}
}

// each calls fn with a copy of every series, shard by shard under the lock.
func (t *table) each(fn func(s series)) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for _, s := range sh.m {
			fn(*s)
		}
		sh.mu.Unlock()
	}
}

// reset forgets every series.
func (t *table) reset() {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		t.used.Add(-int64(len(sh.m)))
		clear(sh.m)
		sh.mu.Unlock()
	}
}
