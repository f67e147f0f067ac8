package metricmap

import (
	"maps"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// SeriesKey identifies one recorded series: the KCL metric name and the
// Key of its dimensions.
type SeriesKey struct {
	Name, Dims string
}

// Cache maps series to what a sink records them with. Get is a lock-free
// load and a map lookup (no allocation); a new series is added by copying
// the map under a lock, which happens once per series.
type Cache[E any] struct {
	m  atomic.Pointer[map[SeriesKey]E]
	mu sync.Mutex // serialises Add
}

// Get returns the entry of k.
func (c *Cache[E]) Get(k SeriesKey) (E, bool) {
	if m := c.m.Load(); m != nil {
		e, ok := (*m)[k]
		return e, ok
	}
	var zero E
	return zero, false
}

// Add returns the entry of k, calling make to build it if it is new. make
// runs under the cache's lock, at most once per key.
func (c *Cache[E]) Add(k SeriesKey, build func() E) E {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if e, ok := (*old)[k]; ok {
			return e
		}
	}
	next := make(map[SeriesKey]E, 1)
	if old != nil {
		next = maps.Clone(*old)
	}
	e := build()
	next[k] = e
	c.m.Store(&next)
	return e
}

// Len is the number of series.
func (c *Cache[E]) Len() int {
	if m := c.m.Load(); m != nil {
		return len(*m)
	}
	return 0
}

// GaugeGroup is the series a gauge exports for several recorded series:
// with per-shard series off, the shards of one worker share the worker's
// series, whose value is the largest of their last values (the worst lag,
// as KCL's Maximum statistic over the shards is).
type GaugeGroup struct {
	mu   sync.Mutex
	last []float64 // last value of each member, by member index
}

// Join adds a member and returns its index.
func (g *GaugeGroup) Join() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.last = append(g.last, math.Inf(-1))
	return len(g.last) - 1
}

// Set records member i's value v and calls export with the group's
// maximum, under the group's lock, so exports happen in the order of the
// maxima they carry.
func (g *GaugeGroup) Set(i int, v float64, export func(float64)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.last[i] = v
	m := v
	for _, x := range g.last {
		m = max(m, x)
	}
	export(m)
}

// GroupKey is an identity of a label set (length-prefixed, so no two sets
// collide), for finding a gauge's group.
func GroupKey(name string, labels []Label) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(name)))
	b.WriteByte(':')
	b.WriteString(name)
	for _, l := range labels {
		for _, s := range [2]string{l.Prom, l.Value} {
			b.WriteString(strconv.Itoa(len(s)))
			b.WriteByte(':')
			b.WriteString(s)
		}
	}
	return b.String()
}
