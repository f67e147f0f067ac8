package otelmetrics

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/metricmap"
	"github.com/shardwise/shardwise/metrics"
)

// scopeName is the instrumentation scope of the sink's meter.
const scopeName = "github.com/shardwise/shardwise/metrics/otelmetrics"

// Config configures a sink. A zero field takes the default its comment
// states.
type Config struct {
	// MeterProvider creates the sink's meter (instrumentation scope
	// "github.com/shardwise/shardwise/metrics/otelmetrics"). The sink does
	// not shut it down: the program that made it does, after the sink is
	// closed. Default: otel.GetMeterProvider() (the global provider, as
	// OpenTelemetry instrumentation libraries do).
	MeterProvider metric.MeterProvider

	// Level of detail published: metrics recorded at a more detailed
	// level are dropped, and per-shard series (the shard.id attribute)
	// exist only at metrics.LevelDetailed. metrics.LevelNone publishes
	// nothing. Default: metrics.LevelDetailed (as KCL; it is the zero
	// value).
	Level metrics.Level
}

// withDefaults returns c with zero fields set to their defaults. It is the
// only place defaults are applied.
func (c Config) withDefaults() Config {
	if c.MeterProvider == nil {
		c.MeterProvider = otel.GetMeterProvider()
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
	meter    metric.Meter
	level    metrics.Level
	detailed bool
	closed   atomic.Bool
	dropped  atomic.Int64

	series metricmap.Cache[*series]

	mu          sync.Mutex // guards the maps below; taken when a series is new
	instruments map[string]any
	groups      map[string]*metricmap.GaugeGroup
}

// series is what one (metric name, dimensions) records with: the
// instrument, the scale to the exported unit, and the attribute set built
// once (two for an outcome metric).
type series struct {
	m        metricmap.Metric
	counter  metric.Float64Counter
	hist     metric.Float64Histogram
	gauge    metric.Float64Gauge
	opts     []metric.AddOption    // counter / outcome success
	failOpts []metric.AddOption    // outcome failure
	recOpts  []metric.RecordOption // histogram / gauge
	group    *metricmap.GaugeGroup
	member   int
}

var _ metrics.Sink = (*sink)(nil)

// New returns a metrics.Sink recording into a meter of cfg.MeterProvider.
// Instruments are created when a metric is first recorded.
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
		meter:       cfg.MeterProvider.Meter(scopeName),
		level:       cfg.Level,
		detailed:    cfg.Level == metrics.LevelDetailed,
		instruments: map[string]any{},
		groups:      map[string]*metricmap.GaugeGroup{},
	}, nil
}

// Enabled reports whether an observation recorded at level is kept.
func (s *sink) Enabled(level metrics.Level) bool {
	return s.level.Publishes(level) && !s.closed.Load()
}

// Record adds one observation to the metric's instrument, mapped as the
// package documentation's table says. The first observation of a series
// creates its instrument and attribute set; later ones only look them up,
// without locking or allocating (gauges take a short lock to fold shards).
// Non-finite values, negative counter values and observations after Close
// are dropped and counted (Dropped).
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
	ctx := context.Background()
	v := value * se.m.Scale
	switch se.m.Kind {
	case metricmap.Counter:
		if v < 0 {
			s.dropped.Add(1)
			return
		}
		se.counter.Add(ctx, v, se.opts...)
	case metricmap.Outcome:
		if value != 0 {
			se.counter.Add(ctx, 1, se.opts...)
		} else {
			se.counter.Add(ctx, 1, se.failOpts...)
		}
	case metricmap.Gauge:
		se.group.Set(se.member, v, func(m float64) { se.gauge.Record(ctx, m, se.recOpts...) })
	default:
		se.hist.Record(ctx, v, se.recOpts...)
	}
}

// newSeries builds the instrument and attributes of a series.
func (s *sink) newSeries(name string, unit metrics.Unit, dims metrics.Dims) *series {
	m := metricmap.Lookup(name, unit)
	labels := metricmap.Labels(dims, s.detailed)
	kv := make([]attribute.KeyValue, 0, len(labels)+1)
	for _, l := range labels {
		kv = append(kv, attribute.String(l.OTel, l.Value))
	}
	se := &series{m: m}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.instrument(m)
	switch m.Kind {
	case metricmap.Counter:
		se.counter = inst.(metric.Float64Counter)
		se.opts = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
	case metricmap.Outcome:
		se.counter = inst.(metric.Float64Counter)
		ok := append(kv[:len(kv):len(kv)], attribute.String(metricmap.OutcomeLabel, metricmap.OutcomeSuccess))
		bad := append(kv[:len(kv):len(kv)], attribute.String(metricmap.OutcomeLabel, metricmap.OutcomeFailure))
		se.opts = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(ok...))}
		se.failOpts = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(bad...))}
	case metricmap.Gauge:
		se.gauge = inst.(metric.Float64Gauge)
		se.recOpts = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
		gk := metricmap.GroupKey(m.OTel, labels)
		g := s.groups[gk]
		if g == nil {
			g = &metricmap.GaugeGroup{}
			s.groups[gk] = g
		}
		se.group, se.member = g, g.Join()
	default:
		se.hist = inst.(metric.Float64Histogram)
		se.recOpts = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
	}
	return se
}

// instrument returns the instrument of m, creating it the first time.
// Called with s.mu held. A creation error (the SDK still returns a
// working instrument, or a no-op one) goes to OpenTelemetry's error
// handler, as instrumentation libraries report such errors.
func (s *sink) instrument(m metricmap.Metric) any {
	key := m.OTel + "\x00" + m.Kind.String() // a name clash of two kinds must not mix them
	if inst, ok := s.instruments[key]; ok {
		return inst
	}
	var inst any
	var err error
	switch m.Kind {
	case metricmap.Counter, metricmap.Outcome:
		inst, err = s.meter.Float64Counter(m.OTel, metric.WithUnit(m.OTelUnit), metric.WithDescription(m.Help))
	case metricmap.Gauge:
		inst, err = s.meter.Float64Gauge(m.OTel, metric.WithUnit(m.OTelUnit), metric.WithDescription(m.Help))
	default:
		inst, err = s.meter.Float64Histogram(m.OTel, metric.WithUnit(m.OTelUnit), metric.WithDescription(m.Help),
			metric.WithExplicitBucketBoundaries(m.Buckets...))
	}
	if err != nil {
		otel.Handle(fmt.Errorf("shardwise: otelmetrics: instrument %s: %w", m.OTel, err))
	}
	s.instruments[key] = inst
	return inst
}

// Dropped is the number of observations recorded at a published level
// that were not exported: non-finite values, negative values of a
// counter, and observations after Close.
func (s *sink) Dropped() int64 { return s.dropped.Load() }

// Close stops recording: later observations are dropped. It does not
// shut the MeterProvider down (its owner does, which exports what is
// pending) and returns nil.
func (s *sink) Close(context.Context) error {
	s.closed.Store(true)
	return nil
}
