package kinesistest

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/consumer"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg   Config
		field string
	}{
		{Config{ReadBytesPerSecond: -1}, "ReadBytesPerSecond"},
		{Config{IteratorLifetime: -1}, "IteratorLifetime"},
		{Config{MaxRecordsPerCall: -1}, "MaxRecordsPerCall"},
		{Config{MaxRecordsPerCall: maxLimit + 1}, "MaxRecordsPerCall"},
		{Config{MaxBytesPerCall: -1}, "MaxBytesPerCall"},
		{Config{MaxRecordSize: -1}, "MaxRecordSize"},
	}
	for _, tc := range tests {
		_, err := New(tc.cfg)
		var ce *consumer.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, consumer.ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v, want a ConfigError for %s", tc.cfg, err, tc.field)
		}
	}
	// Negative call rates are valid: they turn the limits off.
	if _, err := New(Config{GetRecordsPerSecond: -1, GetShardIteratorPerSecond: -1}); err != nil {
		t.Fatal(err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.getRecordsPerSecond != 5 || c.iteratorsPerSecond != 5 || c.readBytesPerSecond != 0 ||
		c.iteratorLifetime != defaultIteratorLifetime || c.maxRecordsPerCall != maxLimit ||
		c.maxBytesPerCall != defaultMaxBytesPerCall || c.maxRecordSize != defaultMaxRecordSize ||
		c.region != defaultRegion || c.account != defaultAccount || c.now == nil {
		t.Fatalf("defaults: %+v", c)
	}
	if c := (Config{GetRecordsPerSecond: -1, GetShardIteratorPerSecond: -3}).withDefaults(); c.getRecordsPerSecond != 0 || c.iteratorsPerSecond != 0 {
		t.Fatalf("negative rates not turned into no limit: %+v", c)
	}
}

// A negative GetRecordsPerSecond serves any number of calls on a clock
// that stands still; the default throttles the sixth.
func TestNegativeRateTurnsLimitOff(t *testing.T) {
	for _, tc := range []struct {
		rate      int
		throttled bool
	}{{0, true}, {-1, false}} {
		clk := newManualClock()
		f := mustNew(t, Config{Now: clk.Now, GetRecordsPerSecond: tc.rate, GetShardIteratorPerSecond: -1})
		mustCreate(t, f, "s", 1)
		iter := mustIterator(t, f, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
		var err error
		for range 6 {
			if _, err = f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iter)}); err != nil {
				break
			}
		}
		var pt *types.ProvisionedThroughputExceededException
		if got := errors.As(err, &pt); got != tc.throttled {
			t.Errorf("GetRecordsPerSecond %d: sixth call err = %v, want throttled %v", tc.rate, err, tc.throttled)
		}
	}
}
