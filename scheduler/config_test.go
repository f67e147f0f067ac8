package scheduler

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

func validConfig() Config {
	return Config{
		ApplicationName: "orders-app",
		StreamName:      "orders",
		AWSConfig:       &aws.Config{Region: "us-east-1"},
	}
}

func TestConfigValidationNamesTheField(t *testing.T) {
	cases := []struct {
		field string
		edit  func(*Config)
	}{
		{"ApplicationName", func(c *Config) { c.ApplicationName = "" }},
		{"LeaseTableName", func(c *Config) { c.LeaseTableName = "a" }},
		{"LeaseTableName", func(c *Config) { c.LeaseTableName = "bad name!" }},
		{"StreamName", func(c *Config) { c.StreamName = "" }},
		{"StreamName", func(c *Config) { c.StreamName = "has space" }},
		{"StreamARN", func(c *Config) { c.StreamARN = "not-an-arn" }},
		{"StreamARN", func(c *Config) { c.StreamARN = "arn:aws:kinesis:us-east-1:123456789012:stream/other" }},
		{"StreamARN", func(c *Config) { c.StreamARN = "arn:aws:sqs:us-east-1:123456789012:queue" }},
		{"ConsumerARN", func(c *Config) { c.ConsumerARN = "arn:aws:kinesis:us-east-1:123456789012:stream/orders/consumer/app:1" }},
		{"ConsumerARN", func(c *Config) {
			c.FanOut, c.ConsumerARN = true, "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
		}},
		{"ConsumerARN", func(c *Config) {
			c.FanOut, c.ConsumerARN = true, "arn:aws:kinesis:us-east-1:123456789012:stream/other/consumer/app:1"
		}},
		{"ConsumerName", func(c *Config) { c.FanOut, c.ConsumerName = true, "has space" }},
		{"SubscriptionIdleTimeout", func(c *Config) { c.SubscriptionIdleTimeout = -time.Second }},
		{"InitialPosition", func(c *Config) { c.InitialPosition = consumer.InitialPosition{Kind: consumer.PositionAtTimestamp} }},
		{"InitialPosition", func(c *Config) { c.InitialPosition = consumer.InitialPosition{Kind: 42} }},
		{"AWSConfig", func(c *Config) { c.AWSConfig = nil }},
		{"WorkerID", func(c *Config) { c.WorkerID = " padded " }},
		{"MaxRecords", func(c *Config) { c.MaxRecords = 10001 }},
		{"MaxRecords", func(c *Config) { c.MaxRecords = -1 }},
		{"MinGetRecordsInterval", func(c *Config) { c.MinGetRecordsInterval = -time.Second }},
		{"IdleTimeBetweenReads", func(c *Config) { c.IdleTimeBetweenReads = -time.Second }},
		{"FailoverTime", func(c *Config) { c.FailoverTime = 10 * time.Millisecond }},
		{"LeaseDiscoveryInterval", func(c *Config) { c.LeaseDiscoveryInterval = time.Minute }},
		{"HeartbeatInterval", func(c *Config) { c.HeartbeatInterval = 9 * time.Second }},
		{"FenceMargin", func(c *Config) { c.FenceMargin = 20 * time.Second }},
		{"LeaderScanInterval", func(c *Config) { c.LeaderScanInterval = 6 * time.Second }},
		{"LeaseAssignmentInterval", func(c *Config) { c.LeaseAssignmentInterval = -1 }},
		{"GracefulHandoffTimeout", func(c *Config) { c.GracefulHandoffTimeout = -1 }},
		{"MaxLeasesForWorker", func(c *Config) { c.MaxLeasesForWorker = -1 }},
		{"RebalanceThresholdPercent", func(c *Config) { c.RebalanceThresholdPercent = -3 }},
		{"RebalanceDampeningPercent", func(c *Config) { c.RebalanceDampeningPercent = 150 }},
		{"BalanceEvery", func(c *Config) { c.BalanceEvery = -2 }},
		{"WorkerMetricsTableName", func(c *Config) { c.WorkerMetricsTableName = "x" }},
		{"LeaseTableName", func(c *Config) { c.CoordinatorTableName = "orders-app" }},
		{"Stores", func(c *Config) { c.Stores.Leases = leases.NewMemoryStores().Leases }},
		{"ShardSyncInterval", func(c *Config) { c.ShardSyncInterval = -1 }},
		{"ParentPollInterval", func(c *Config) { c.ParentPollInterval = -1 }},
		{"ProcessorRetryMaxBackoff", func(c *Config) { c.ProcessorRetryBackoff = time.Minute; c.ProcessorRetryMaxBackoff = time.Second }},
		{"ThrottleMaxBackoff", func(c *Config) { c.ThrottleBackoff = time.Minute; c.ThrottleMaxBackoff = time.Second }},
		{"ShutdownTimeout", func(c *Config) { c.ShutdownTimeout = -1 }},
		{"MaxPendingRecords", func(c *Config) { c.MaxPendingRecords = -5 }},
		{"MaxPendingBytes", func(c *Config) { c.MaxPendingBytes = -5 }},
		{"MaxTotalPendingBytes", func(c *Config) { c.MaxPendingBytes = 1 << 30; c.MaxTotalPendingBytes = 1 << 20 }},
		{"MaxConcurrentFetches", func(c *Config) { c.MaxConcurrentFetches = -1 }},
	}
	for _, tc := range cases {
		cfg := validConfig()
		tc.edit(&cfg)
		err := cfg.Validate()
		var ce *consumer.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: err = %v, want *consumer.ConfigError", tc.field, err)
			continue
		}
		if ce.Field != tc.field || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error names %q: %v", tc.field, ce.Field, err)
		}
		if !errors.Is(err, consumer.ErrInvalidConfig) {
			t.Errorf("%s: errors.Is(err, consumer.ErrInvalidConfig) is false", tc.field)
		}
		// New must refuse the same config with the same error, not panic.
		if s, err := New(cfg, nopFactory()); err == nil || s != nil {
			t.Errorf("%s: New accepted an invalid config", tc.field)
		}
	}
}

func TestConfigValidAndDefaults(t *testing.T) {
	cfg := validConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d := cfg.withDefaults()
	if d.LeaseTableName != "orders-app" || d.MaxRecords != 10000 || d.FailoverTime != 10*time.Second ||
		d.LeaseDiscoveryInterval != 500*time.Millisecond || d.HeartbeatInterval != 5*time.Second ||
		d.WorkerMetricsTableName != "orders-app-WorkerMetricStats" || d.CoordinatorTableName != "orders-app-CoordinatorState" || d.WorkerID == "" || d.InitialPosition.Kind != consumer.PositionLatest {
		t.Fatalf("defaults not applied: %+v", d)
	}
	// A stream named only by ARN takes its name from the ARN.
	cfg = validConfig()
	cfg.StreamName = ""
	cfg.StreamARN = "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := cfg.withDefaults().StreamName; got != "orders" {
		t.Fatalf("StreamName from ARN = %q", got)
	}
}

func TestNewRejectsNilFactory(t *testing.T) {
	_, err := New(validConfig(), nil)
	var ce *consumer.ConfigError
	if !errors.As(err, &ce) || ce.Field != "factory" {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigFanOut(t *testing.T) {
	c := validConfig()
	c.FanOut = true
	if err := c.Validate(); err != nil {
		t.Fatalf("fan-out with defaults: %v", err)
	}
	if d := c.withDefaults(); d.ConsumerName != c.ApplicationName || d.SubscriptionIdleTimeout != 30*time.Second {
		t.Fatalf("fan-out defaults: ConsumerName %q, SubscriptionIdleTimeout %v", d.ConsumerName, d.SubscriptionIdleTimeout)
	}
	c.ConsumerARN = "arn:aws:kinesis:us-east-1:123456789012:stream/orders/consumer/orders-app:1700000000"
	if err := c.Validate(); err != nil {
		t.Fatalf("fan-out with a ConsumerARN: %v", err)
	}
}
