package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/rs/zerolog"
)

// CloudWatchAPI is the one CloudWatch call the publisher makes.
// *cloudwatch.Client implements it; tests substitute fakes.
type CloudWatchAPI interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

var _ CloudWatchAPI = (*cloudwatch.Client)(nil)

// Clock tells the time used for datum timestamps. Tests inject a fixed one.
type Clock interface {
	Now() time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// AllDimensions, as the only entry of CloudWatchConfig.Dimensions, publishes
// every dimension a metric was recorded with (KCL's "ALL").
const AllDimensions = "ALL"

// Limits of PutMetricData (CloudWatch API reference).
const (
	// MaxDatumsPerRequestLimit is the most metrics one PutMetricData call
	// may carry.
	MaxDatumsPerRequestLimit = 1000
	// MaxDimensionsPerMetric is the most dimensions one metric may have.
	MaxDimensionsPerMetric = 30
	// maxRequestBytes is the payload budget per request. The service
	// limit is 1 MB per request; we count the uncompressed body (gzip is
	// only applied above RequestMinCompressSizeBytes, and the limit may be
	// checked before decompression or after) and use the decimal megabyte,
	// so the budget holds under either reading.
	maxRequestBytes = 1_000_000
)

// Defaults of CloudWatchConfig, those of the Java KCL where it has one.
const (
	DefaultFlushInterval       = 10 * time.Second
	DefaultQueueSize           = 10_000
	DefaultMaxDatumsPerRequest = MaxDatumsPerRequestLimit
	DefaultMaxRetries          = 3
	DefaultRetryBaseDelay      = 200 * time.Millisecond
	DefaultRetryMaxDelay       = 5 * time.Second
	DefaultRequestTimeout      = 30 * time.Second
)

// CloudWatchConfig configures the CloudWatch publisher. Zero values take
// the stated defaults.
type CloudWatchConfig struct {
	// Client sends PutMetricData. Required. Each call is made with the
	// SDK's own retries turned off (one attempt): the publisher retries
	// whole batches itself, with its own backoff, so attempts do not
	// multiply.
	Client CloudWatchAPI

	// Namespace of every metric: the application name, as in KCL.
	// Required; at most 255 characters, no control characters, and not
	// starting with "AWS/" (reserved for AWS services).
	Namespace string

	// Level of detail published. Default (zero value) LevelDetailed, as
	// in KCL; LevelNone publishes nothing and sends no requests.
	Level Level

	// Dimensions lists the dimension names published; dimensions of other
	// names are removed before sending, and the series they leave
	// identical are merged. Default: Operation and ShardId, KCL's default,
	// which keeps the dimension sets of existing KCL dashboards and alarms.
	// Add WorkerIdentifier for per-worker series, or give only
	// AllDimensions to publish every dimension. Operation is always
	// published.
	Dimensions []string

	// FlushInterval is how long observations are aggregated into one
	// statistic set before being queued for sending. Default 10 s.
	FlushInterval time.Duration

	// QueueSize bounds the datums held at once: series aggregating in the
	// current interval plus datums waiting to be sent. When it is full,
	// observations that would need a new datum are dropped and counted
	// (Dropped); Record never waits. Default 10 000.
	QueueSize int

	// MaxDatumsPerRequest caps the metrics per PutMetricData call.
	// Default and maximum 1000 (the service limit). Requests are also cut
	// to stay under the 1 MB payload limit.
	MaxDatumsPerRequest int

	// MaxRetries is how many times a batch is re-sent after throttling or
	// a transient failure (server error, timeout, connection error),
	// waiting an exponential backoff with jitter between attempts.
	// Default 3; negative means no retries. A batch the service rejects
	// for a client error is not retried. A batch that is not delivered is
	// dropped and counted.
	MaxRetries int

	// RetryBaseDelay is the first backoff; each retry doubles it, up to
	// RetryMaxDelay, and waits a random time between half of it and all
	// of it. Defaults 200 ms and 5 s.
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration

	// RequestTimeout bounds one PutMetricData call, so a receiver that
	// stalls cannot hold the publisher forever. Default 30 s.
	RequestTimeout time.Duration

	// Logger receives drop, failure and shutdown reports: at most one
	// warning per flush interval, nothing per observation. Default
	// (zero value) discards everything.
	Logger zerolog.Logger

	// Clock stamps datums. Default the wall clock.
	Clock Clock
}

// ConfigError reports an invalid configuration field.
type ConfigError struct {
	Field   string // the field's name, e.g. "CloudWatchConfig.Namespace"
	Problem string
}

func (e *ConfigError) Error() string {
	return "metrics: invalid " + e.Field + ": " + e.Problem
}

// ErrClosed is returned by calls made on a sink after Close.
var ErrClosed = errors.New("metrics: sink closed")

// UndeliveredError reports observations that were accepted but never
// reached CloudWatch (the batch was rejected, retries ran out, or Close's
// context ended first).
type UndeliveredError struct {
	Observations int64 // observations lost
	Err          error // the last send error or the context's error
}

func (e *UndeliveredError) Error() string {
	return fmt.Sprintf("metrics: %d observations not delivered to CloudWatch: %v", e.Observations, e.Err)
}

func (e *UndeliveredError) Unwrap() error { return e.Err }

// withDefaults returns c with zero fields set to their defaults.
func (c CloudWatchConfig) withDefaults() CloudWatchConfig {
	if c.Dimensions == nil {
		c.Dimensions = []string{DimensionOperation, DimensionShardID}
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.MaxDatumsPerRequest == 0 {
		c.MaxDatumsPerRequest = DefaultMaxDatumsPerRequest
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.MaxRetries < 0 {
		c.MaxRetries = -1
	}
	if c.RetryBaseDelay == 0 {
		c.RetryBaseDelay = DefaultRetryBaseDelay
	}
	if c.RetryMaxDelay == 0 {
		c.RetryMaxDelay = max(DefaultRetryMaxDelay, c.RetryBaseDelay)
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Clock == nil {
		c.Clock = wallClock{}
	}
	return c
}

// Validate reports the first invalid field of c (after defaults), as a
// *ConfigError.
func (c CloudWatchConfig) Validate() error {
	c = c.withDefaults()
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: "CloudWatchConfig." + field, Problem: fmt.Sprintf(format, args...)}
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
	case !c.Level.valid():
		return bad("Level", "%d is not LevelDetailed, LevelSummary or LevelNone", int8(c.Level))
	case c.FlushInterval < 0:
		return bad("FlushInterval", "%v is negative", c.FlushInterval)
	case c.QueueSize < 0:
		return bad("QueueSize", "%d is negative", c.QueueSize)
	case c.MaxDatumsPerRequest < 0 || c.MaxDatumsPerRequest > MaxDatumsPerRequestLimit:
		return bad("MaxDatumsPerRequest", "%d is outside 1..%d", c.MaxDatumsPerRequest, MaxDatumsPerRequestLimit)
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
