package prommetrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/metricmap"
	"github.com/shardwise/shardwise/metrics"
)

// Config configures a sink. A zero field takes the default its comment
// states.
type Config struct {
	// Registerer receives the sink's collectors, one per metric, each
	// registered when its metric is first recorded. To add a prefix or
	// constant labels (an application name, say), wrap it with
	// prometheus.WrapRegistererWithPrefix or prometheus.WrapRegistererWith.
	// Default: prometheus.DefaultRegisterer.
	Registerer prometheus.Registerer

	// Level of detail published: metrics recorded at a more detailed
	// level are dropped, and per-shard series (the shard_id label) exist
	// only at metrics.LevelDetailed. metrics.LevelNone publishes nothing.
	// Default: metrics.LevelDetailed (as KCL; it is the zero value).
	Level metrics.Level
}

// withDefaults returns c with zero fields set to their defaults. It is the
// only place defaults are applied.
func (c Config) withDefaults() Config {
	if c.Registerer == nil {
		c.Registerer = prometheus.DefaultRegisterer
	}
	return c
}

// Validate reports the first invalid field of c (with defaults applied to
// its zero fields) as a *consumer.ConfigError, which matches
// consumer.ErrInvalidConfig with errors.Is.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Level < metrics.LevelDetailed || c.Level > metrics.LevelNone {
		return &consumer.ConfigError{Field: "Level", Reason: fmt.Sprintf("%d is not LevelDetailed, LevelSummary or LevelNone", int8(c.Level))}
	}
	return nil
}

// sink is the metrics.Sink New returns; it is safe for concurrent use.
type sink struct {
	reg      prometheus.Registerer
	level    metrics.Level
	detailed bool
	closed   atomic.Bool
	dropped  atomic.Int64

	series metricmap.Cache[*series]

	mu       sync.Mutex // guards the maps below; taken when a series is new
	families map[string]*family
	groups   map[string]*metricmap.GaugeGroup
	errs     []error // registration failures, reported by Close
}

// family is one Prometheus metric: its collector and the label names it
// was registered with.
type family struct {
	labels    []string // label names, fixed at registration (outcome last for an outcome metric)
	counter   *prometheus.CounterVec
	histogram *prometheus.HistogramVec
	gauge     *prometheus.GaugeVec
	err       error // registration failed: its observations are dropped
}

// series is what one (metric name, dimensions) records into: the child
// collectors, resolved once.
type series struct {
	m      metricmap.Metric
	ok     prometheus.Counter // counter; outcome success
	fail   prometheus.Counter // outcome failure
	obs    prometheus.Observer
	gauge  prometheus.Gauge
	group  *metricmap.GaugeGroup
	member int
	broken bool // the family could not be registered or the labels were invalid
}

var _ metrics.Sink = (*sink)(nil)

// New returns a metrics.Sink registering its collectors on cfg.Registerer.
//
// The sink also has Dropped() int64, the observations it dropped
// (non-finite values, negative counter values, records after Close),
// reached with a type assertion to an interface with the method.
func New(cfg Config) (metrics.Sink, error) {
	s, err := buildSink(cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newSink is New returning the concrete sink.
func buildSink(cfg Config) (*sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &sink{
		reg:      cfg.Registerer,
		level:    cfg.Level,
		detailed: cfg.Level == metrics.LevelDetailed,
		families: map[string]*family{},
		groups:   map[string]*metricmap.GaugeGroup{},
	}, nil
}

// Enabled reports whether an observation recorded at level is kept.
func (s *sink) Enabled(level metrics.Level) bool {
	return s.level.Publishes(level) && !s.closed.Load()
}

// Record adds one observation to the metric's collector, mapped as the
// package documentation's table says. The first observation of a series
// registers its metric (if new) and resolves its labelled child; later
// ones only look it up, without locking or allocating (gauges take a short
// lock to fold shards). Non-finite values, negative counter values,
// observations of a metric whose registration failed, and observations
// after Close are dropped and counted (Dropped).
func (s *sink) Record(name string, value float64, unit metrics.Unit, level metrics.Level, dims metrics.Dims) {
	if !s.level.Publishes(level) {
		return
	}
	if s.closed.Load() || math.IsNaN(value) || math.IsInf(value, 0) {
		s.dropped.Add(1)
		return
	}
	k := metricmap.SeriesKey{Name: name, Dims: dims.Key()}
	se, ok := s.series.Get(k)
	if !ok {
		se = s.series.Add(k, func() *series { return s.newSeries(name, unit, dims) })
	}
	if se.broken {
		s.dropped.Add(1)
		return
	}
	v := value * se.m.Scale
	switch se.m.Kind {
	case metricmap.Counter:
		if v < 0 {
			s.dropped.Add(1)
			return
		}
		se.ok.Add(v)
	case metricmap.Outcome:
		if value != 0 {
			se.ok.Inc()
		} else {
			se.fail.Inc()
		}
	case metricmap.Gauge:
		se.group.Set(se.member, v, se.gauge.Set)
	default:
		se.obs.Observe(v)
	}
}

// newSeries resolves the children a series records into, registering its
// family on first use.
func (s *sink) newSeries(name string, unit metrics.Unit, dims metrics.Dims) *series {
	m := metricmap.Lookup(name, unit)
	labels := metricmap.Labels(dims, s.detailed)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.family(m, labels)
	se := &series{m: m, broken: f.err != nil}
	if se.broken {
		return se
	}
	// The family's label names were fixed by its first series; a later
	// series fills those it has and leaves the others empty (Prometheus's
	// "absent"), and its dimensions of other names are not exported.
	values := make([]string, len(f.labels))
	for i, n := range f.labels {
		for _, l := range labels {
			if l.Prom == n {
				values[i] = l.Value
			}
		}
	}
	var err error
	switch m.Kind {
	case metricmap.Counter:
		se.ok, err = f.counter.GetMetricWithLabelValues(values...)
	case metricmap.Outcome:
		values[len(values)-1] = metricmap.OutcomeSuccess
		se.ok, err = f.counter.GetMetricWithLabelValues(values...)
		if err == nil {
			values[len(values)-1] = metricmap.OutcomeFailure
			se.fail, err = f.counter.GetMetricWithLabelValues(values...)
		}
	case metricmap.Gauge:
		se.gauge, err = f.gauge.GetMetricWithLabelValues(values...)
		gk := metricmap.GroupKey(m.Prom, labels)
		g := s.groups[gk]
		if g == nil {
			g = &metricmap.GaugeGroup{}
			s.groups[gk] = g
		}
		se.group, se.member = g, g.Join()
	default:
		se.obs, err = f.histogram.GetMetricWithLabelValues(values...)
	}
	if err != nil { // label values that are not valid UTF-8
		s.errs = append(s.errs, fmt.Errorf("shardwise: prommetrics: %s%v: %w", m.Prom, values, err))
		se.broken = true
	}
	return se
}

// family returns the family of m, registering it the first time with the
// label names of labels. A collector already registered under the same
// name and labels (by another sink on the same registry, or an earlier
// one) is shared. Called with s.mu held.
func (s *sink) family(m metricmap.Metric, labels []metricmap.Label) *family {
	if f, ok := s.families[m.Prom]; ok {
		return f
	}
	f := &family{}
	seen := map[string]bool{}
	for _, l := range labels {
		if !seen[l.Prom] { // two dimensions mapped to one label: keep the first
			seen[l.Prom] = true
			f.labels = append(f.labels, l.Prom)
		}
	}
	if m.Kind == metricmap.Outcome {
		f.labels = append(f.labels, metricmap.OutcomeLabel)
	}
	var c prometheus.Collector
	switch m.Kind {
	case metricmap.Counter, metricmap.Outcome:
		f.counter = prometheus.NewCounterVec(prometheus.CounterOpts{Name: m.Prom, Help: m.Help}, f.labels)
		c = f.counter
	case metricmap.Gauge:
		f.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: m.Prom, Help: m.Help}, f.labels)
		c = f.gauge
	default:
		f.histogram = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: m.Prom, Help: m.Help, Buckets: m.Buckets}, f.labels)
		c = f.histogram
	}
	if err := s.reg.Register(c); err != nil {
		f.err = fmt.Errorf("shardwise: prommetrics: registering %s: %w", m.Prom, err)
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			switch existing := are.ExistingCollector.(type) {
			case *prometheus.CounterVec:
				f.counter, f.err = existing, nil
			case *prometheus.GaugeVec:
				f.gauge, f.err = existing, nil
			case *prometheus.HistogramVec:
				f.histogram, f.err = existing, nil
			}
		}
		if f.err != nil {
			s.errs = append(s.errs, f.err)
		}
	}
	s.families[m.Prom] = f
	return f
}

// Dropped is the number of observations recorded at a published level
// that were not exported: non-finite values, negative values of a
// counter, observations of a metric that could not be registered (Close
// reports why), and observations after Close.
func (s *sink) Dropped() int64 { return s.dropped.Load() }

// Close stops recording: later observations are dropped. The collectors
// stay registered, so a scrape after Run returns still reads the last
// values, and a new sink on the same registry continues them. Close
// returns the registration failures that made metrics go unexported, if
// any.
func (s *sink) Close(context.Context) error {
	s.closed.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}
