package cloudwatch

import (
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/shardwise/shardwise/internal/metricagg"
	"github.com/shardwise/shardwise/metrics"
)

// aggregate is one datum in the making: a series after dimension filtering,
// merged with the others that filtering made identical.
type aggregate struct {
	name  string
	unit  metrics.Unit
	dims  metrics.Dims
	stats metricagg.Stats
}

// collect closes the current aggregation interval: it detaches every
// series from the table, filters dimensions, merges, validates against the
// CloudWatch limits, and appends the datums to pending. A series' table
// slot passes to its datum, so QueueSize keeps bounding the total.
func (c *publisher) collect() {
	now := c.now()
	var aggs []aggregate
	index := make(map[metricagg.Key]int)
	c.tab.Drain(func(k metricagg.Key, dims metrics.Dims, s metricagg.Stats) {
		if c.keep != nil {
			dims = filterDims(dims, c.keep)
			k.Dims = dims.Key()
		}
		if i, ok := index[k]; ok {
			aggs[i].stats.Merge(s)
			c.tab.Release(1) // merged into an existing datum's slot
			return
		}
		index[k] = len(aggs)
		aggs = append(aggs, aggregate{name: k.Name, unit: metrics.Unit(k.Unit), dims: dims, stats: s})
	})
	for _, a := range aggs {
		if problem := invalidDatum(a); problem != "" {
			c.dropped.Add(int64(a.stats.SampleCount))
			c.tab.Release(1)
			c.logState.invalid++
			c.logState.invalidReason = problem
			continue
		}
		c.pending = append(c.pending, pendingDatum{
			datum:   toDatum(a, now),
			samples: int64(a.stats.SampleCount),
			size:    datumSize(a.name, a.unit, a.dims),
		})
	}
	c.report(time.Now())
}

// filterDims returns the subset of d whose names keep accepts. It returns
// d itself (no allocation) when nothing is removed.
func filterDims(d metrics.Dims, keep func(name string) bool) metrics.Dims {
	drop := 0
	for x := range d.All() {
		if !keep(x.Name) {
			drop++
		}
	}
	if drop == 0 {
		return d
	}
	kept := make([]metrics.Dimension, 0, d.Len()-drop)
	for x := range d.All() {
		if keep(x.Name) {
			kept = append(kept, x)
		}
	}
	return metrics.NewDims(kept...)
}

// invalidDatum returns why CloudWatch would reject a (failing the whole
// request it is in), or "".
func invalidDatum(a aggregate) string {
	switch {
	case a.name == "" || len(a.name) > 255:
		return "metric name must have 1 to 255 characters"
	case a.dims.Len() > maxDimensionsPerMetric:
		return "more than 30 dimensions"
	}
	for d := range a.dims.All() {
		if d.Name == "" || len(d.Name) > 255 || d.Value == "" || len(d.Value) > 1024 {
			return "dimension names must have 1 to 255 characters and values 1 to 1024"
		}
	}
	for _, v := range [...]float64{a.stats.Sum, a.stats.Minimum, a.stats.Maximum} {
		// CloudWatch accepts magnitudes up to 2^360; a sum can overflow
		// even when every observation was finite.
		if math.IsNaN(v) || math.Abs(v) > 0x1p360 {
			return "value outside the range CloudWatch accepts"
		}
	}
	return ""
}

// toDatum builds the PutMetricData form of a.
func toDatum(a aggregate, ts time.Time) types.MetricDatum {
	name := a.name
	st := a.stats
	d := types.MetricDatum{
		MetricName: &name,
		Timestamp:  &ts,
		StatisticValues: &types.StatisticSet{
			SampleCount: &st.SampleCount,
			Sum:         &st.Sum,
			Minimum:     &st.Minimum,
			Maximum:     &st.Maximum,
		},
		Unit: types.StandardUnit(a.unit),
	}
	if n := a.dims.Len(); n > 0 {
		d.Dimensions = make([]types.Dimension, 0, n)
		for x := range a.dims.All() {
			d.Dimensions = append(d.Dimensions, types.Dimension{Name: &x.Name, Value: &x.Value})
		}
	}
	return d
}

// Encoded-size estimates for the payload limit. The SDK encodes
// PutMetricData as CBOR: each map key and string is its bytes plus a header
// of at most 3 bytes (for strings up to 64 KiB), each float 9 bytes, the
// timestamp a tag plus a float. The constants round the fixed parts up
// generously; a test checks them against real requests.
const (
	datumFixedBytes     = 256 // datum map, its field names, 4 statistics, timestamp, unit and list headers
	dimensionFixedBytes = 32  // dimension map, "Name"/"Value" keys, two string headers
)

func datumSize(name string, unit metrics.Unit, d metrics.Dims) int {
	n := datumFixedBytes + len(name) + len(unit)
	for x := range d.All() {
		n += dimensionFixedBytes + len(x.Name) + len(x.Value)
	}
	return n
}

func requestOverhead(namespace string) int {
	return 64 + len(namespace) // request map, "Namespace" and "MetricData" keys, list header
}

// logState accumulates what went wrong between two reports, so problems are
// logged at most once per flush interval however often they happen.
type logState struct {
	lastReport    time.Time
	droppedSeen   int64 // Dropped() at the last report
	retries       int
	throttles     int
	lostBatches   int
	invalid       int
	invalidReason string
}

// report logs one warning summarising drops, retries and failures since the
// previous report, at most once per flush interval. It is rate-limited on
// the wall clock, not the publisher's clock, which only stamps datums.
func (c *publisher) report(now time.Time) {
	ls := &c.logState
	if !ls.lastReport.IsZero() && now.Sub(ls.lastReport) < c.cfg.FlushInterval*9/10 { // tolerate tick jitter
		return
	}
	dropped := c.dropped.Load()
	if dropped == ls.droppedSeen && ls.retries == 0 {
		ls.lastReport = now
		return
	}
	ev := c.log.Warn()
	if dropped != ls.droppedSeen {
		ev = ev.Int64("dropped", dropped-ls.droppedSeen).Int64("dropped_total", dropped).
			Int("queue_size", c.cfg.QueueSize)
	}
	if ls.retries > 0 {
		ev = ev.Int("retries", ls.retries).Int("throttled", ls.throttles)
	}
	if ls.lostBatches > 0 {
		ev = ev.Int("lost_batches", ls.lostBatches).AnErr("last_error", c.lastErr)
	}
	if ls.invalid > 0 {
		ev = ev.Int("invalid_datums", ls.invalid).Str("invalid_reason", ls.invalidReason)
	}
	ev.Msg("metrics: observations dropped or delayed")
	*ls = logState{lastReport: now, droppedSeen: dropped}
}
