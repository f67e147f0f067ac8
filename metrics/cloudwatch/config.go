package cloudwatch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/metrics"
)

// API is the one CloudWatch call the publisher makes. *cloudwatch.Client
// (package github.com/aws/aws-sdk-go-v2/service/cloudwatch) implements it;
// tests substitute fakes.
type API interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

var _ API = (*cloudwatch.Client)(nil)

// AllDimensions, as the only entry of Config.Dimensions, publishes every
// dimension a metric was recorded with (KCL's "ALL").
const AllDimensions = "ALL"

// Limits of PutMetricData (CloudWatch API reference).
const (
	// maxDatumsPerRequest is the most metrics one PutMetricData call may
	// carry.
	maxDatumsPerRequest = 1000
	// maxDimensionsPerMetric is the most dimensions one metric may have.
	maxDimensionsPerMetric = 30
	// maxRequestBytes is the payload budget per request. The service
	// limit is 1 MB per request; we count the uncompressed body (gzip is
	// only applied above RequestMinCompressSizeBytes, and the limit may be
	// checked before decompression or after) and use the decimal megabyte,
	// so the budget holds under either reading.
	maxRequestBytes = 1_000_000
)

// Defaults of Config, those of the Java KCL where it has one.
const (
	defaultFlushInterval  = 10 * time.Second
	defaultQueueSize      = 10_000
	defaultMaxRetries     = 3
	defaultRetryBaseDelay = 200 * time.Millisecond
	defaultRetryMaxDelay  = 5 * time.Second
	defaultRequestTimeout = 30 * time.Second
)

// Config configures a publisher. A zero field takes the default its
// comment states.
type Config struct {
	// Client sends PutMetricData, typically a *cloudwatch.Client of the
	// AWS SDK. Each call is made with the SDK's own retries turned off
	// (one attempt): the publisher retries whole batches itself, with its
	// own backoff, so attempts do not multiply. Required.
	Client API

	// Namespace of every metric: the application name, as in KCL. At
	// most 255 characters, no control characters, and not starting with
	// "AWS/" (reserved for AWS services). Required.
	Namespace string

	// Level of detail published; metrics.LevelNone publishes nothing and
	// sends no requests. Default: metrics.LevelDetailed (as KCL; it is the
	// zero value).
	Level metrics.Level

	// Dimensions lists the dimension names published; dimensions of other
	// names are removed before sending, and the series they leave
	// identical are merged. Operation is always published. Add
	// WorkerIdentifier for per-worker series, or give only AllDimensions
	// to publish every dimension. Default: Operation and ShardId (KCL's
	// default, which keeps the dimension sets of existing KCL dashboards
	// and alarms).
	Dimensions []string

	// FlushInterval is how long observations are aggregated into one
	// statistic set before being queued for sending. Default: 10s.
	FlushInterval time.Duration

	// QueueSize bounds the datums held at once: series aggregating in the
	// current interval plus datums waiting to be sent. When it is full,
	// observations that would need a new datum are dropped and counted
	// (Dropped); Record never waits. Default: 10000.
	QueueSize int

	// MaxDatumsPerRequest caps the metrics per PutMetricData call, at
	// most 1000 (the service limit). Requests are also cut to stay under
	// the 1 MB payload limit. Default: 1000.
	MaxDatumsPerRequest int

	// MaxRetries is how many times a batch is sent again after throttling
	// or a transient failure (server error, timeout, connection error),
	// waiting an exponential backoff between attempts; negative means no
	// retries. A batch the service rejects for a client error is not
	// retried. A batch that is not delivered is dropped and counted.
	// Default: 3.
	MaxRetries int

	// RetryBaseDelay is the backoff before the first retry; each further
	// retry doubles it, up to RetryMaxDelay, and waits a random time
	// between half of it and all of it. Default: 200ms.
	RetryBaseDelay time.Duration

	// RetryMaxDelay caps the backoff between retries (at least
	// RetryBaseDelay). Default: the larger of 5s and RetryBaseDelay.
	RetryMaxDelay time.Duration

	// RequestTimeout bounds one PutMetricData call, so a receiver that
	// stalls cannot hold the publisher forever. Default: 30s.
	RequestTimeout time.Duration

	// Logger receives drop, failure and shutdown reports: at most one
	// warning per flush interval, nothing per observation. Default: none
	// (the zero Logger discards everything).
	Logger zerolog.Logger
}

// withDefaults returns c with zero fields set to their defaults. It is the
// only place defaults are applied.
func (c Config) withDefaults() Config {
	if c.Dimensions == nil {
		c.Dimensions = []string{metricnames.DimensionOperation, metricnames.DimensionShardID}
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = defaultFlushInterval
	}
	if c.QueueSize == 0 {
		c.QueueSize = defaultQueueSize
	}
	if c.MaxDatumsPerRequest == 0 {
		c.MaxDatumsPerRequest = maxDatumsPerRequest
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = defaultMaxRetries
	}
	if c.MaxRetries < 0 {
		c.MaxRetries = -1
	}
	if c.RetryBaseDelay == 0 {
		c.RetryBaseDelay = defaultRetryBaseDelay
	}
	if c.RetryMaxDelay == 0 {
		c.RetryMaxDelay = max(defaultRetryMaxDelay, c.RetryBaseDelay)
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = defaultRequestTimeout
	}
	return c
}

// Validate reports the first invalid field of c (with defaults applied to
// its zero fields) as a *consumer.ConfigError, which matches
// consumer.ErrInvalidConfig with errors.Is.
func (c Config) Validate() error {
	return c.withDefaults().validate()
}

// validate checks a Config whose defaults are applied.
func (c Config) validate() error {
	bad := func(field, format string, args ...any) error {
		return &consumer.ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.Client == nil:
		return bad("Client", "required")
	case c.Namespace == "":
		return bad("Namespace", "required (the application name)")
	case len(c.Namespace) > 255:
		return bad("Namespace", "%d bytes, at most 255 allowed", len(c.Namespace))
	case strings.HasPrefix(c.Namespace, "AWS/"):
		return bad("Namespace", "%q: the AWS/ prefix is reserved for AWS services", c.Namespace)
	case strings.ContainsFunc(c.Namespace, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return bad("Namespace", "%q contains control characters", c.Namespace)
	case c.Level < metrics.LevelDetailed || c.Level > metrics.LevelNone:
		return bad("Level", "%d is not LevelDetailed, LevelSummary or LevelNone", int8(c.Level))
	case c.FlushInterval < 0:
		return bad("FlushInterval", "%v is negative", c.FlushInterval)
	case c.QueueSize < 0:
		return bad("QueueSize", "%d is negative", c.QueueSize)
	case c.MaxDatumsPerRequest < 0 || c.MaxDatumsPerRequest > maxDatumsPerRequest:
		return bad("MaxDatumsPerRequest", "%d is outside 1..%d", c.MaxDatumsPerRequest, maxDatumsPerRequest)
	case c.RetryBaseDelay < 0:
		return bad("RetryBaseDelay", "%v is negative", c.RetryBaseDelay)
	case c.RetryMaxDelay < c.RetryBaseDelay:
		return bad("RetryMaxDelay", "%v is below RetryBaseDelay %v", c.RetryMaxDelay, c.RetryBaseDelay)
	case c.RequestTimeout < 0:
		return bad("RequestTimeout", "%v is negative", c.RequestTimeout)
	}
	for i, d := range c.Dimensions {
		if d == "" {
			return bad(fmt.Sprintf("Dimensions[%d]", i), "empty name")
		}
		if d == AllDimensions && len(c.Dimensions) > 1 {
			return bad("Dimensions", "%q must be the only entry", AllDimensions)
		}
	}
	return nil
}
