package kinesistest

import (
	"strconv"
	"time"

	"github.com/shardwise/shardwise/consumer"
)

// Config configures a Fake. The zero value is a fake with the service's
// limits and time.Now as its clock; every field's zero value means its
// default.
type Config struct {
	// Now is the clock for arrival timestamps, iterator and NextToken
	// expiry, rate limits and MillisBehindLatest. Under testing/synctest,
	// time.Now is the bubble's fake clock. The clock should not go
	// backwards; a clock that never moves makes every shard throttle after
	// its fifth GetRecords call unless GetRecordsPerSecond is negative.
	// Default: time.Now.
	Now func() time.Time

	// Region is the region in stream ARNs. Default: "us-east-1".
	Region string
	// Account is the account id in stream ARNs and error messages.
	// Default: "000000000000".
	Account string

	// GetRecordsPerSecond is how many GetRecords calls per second one
	// shard accepts (shared by every reader of the shard, as in the
	// service) before it answers ProvisionedThroughputExceededException.
	// A negative value turns the limit off, which tests that pour records
	// through a real clock usually want. Default: 5.
	GetRecordsPerSecond int
	// GetShardIteratorPerSecond is how many GetShardIterator calls per
	// second one shard accepts. A negative value turns the limit off.
	// Default: 5.
	GetShardIteratorPerSecond int
	// ReadBytesPerSecond makes each shard serve at most this many bytes
	// (data + partition key) a second to GetRecords, like the service's
	// 2 MB/s read limit: one call may return up to MaxBytesPerCall, and the
	// shard then refuses calls until the bytes are paid off at this rate
	// (a 10 MB read at 2 MB/s throttles the shard for 5 s). Set it to test
	// read pacing. Default: 0 (no limit).
	ReadBytesPerSecond int

	// IteratorLifetime is the age at which a shard iterator expires.
	// Default: 5m.
	IteratorLifetime time.Duration
	// MaxRecordsPerCall caps the records one GetRecords call returns,
	// whatever its Limit; at most 10,000. Default: 10,000.
	MaxRecordsPerCall int
	// MaxBytesPerCall caps the bytes (data + partition key) one GetRecords
	// call returns; a single larger record is still returned alone.
	// Default: 10 MiB.
	MaxBytesPerCall int
	// MaxRecordSize is the largest record (data + partition key), in
	// bytes, the put methods accept; 10 MiB imitates a stream with large
	// records enabled. Default: 1 MiB.
	MaxRecordSize int

	// SubscriptionLifetime is how long a SubscribeToShard subscription
	// lasts before the fake ends it (cleanly, as the service does after
	// 5 minutes). Default: 5m.
	SubscriptionLifetime time.Duration

	// IgnoreShardFilter makes ListShards ignore ShardFilter and list every
	// shard, as kinesalite does, to test that callers tolerate it.
	// Default: false.
	IgnoreShardFilter bool
	// IgnoreMaxResults makes ListShards return every shard in one page
	// whatever MaxResults says, as kinesalite does. Default: false.
	IgnoreMaxResults bool
	// OmitChildShards makes GetRecords leave ChildShards empty at the end
	// of a closed shard (NextShardIterator is still nil), as kinesalite
	// does, to test the ListShards fallback; the last SubscribeToShard
	// event of the shard too. Default: false.
	OmitChildShards bool
}

// Validate reports the first invalid field as a *consumer.ConfigError.
func (c Config) Validate() error {
	bad := func(field, reason string) error { return &consumer.ConfigError{Field: field, Reason: reason} }
	switch {
	case c.ReadBytesPerSecond < 0:
		return bad("ReadBytesPerSecond", "is negative")
	case c.SubscriptionLifetime < 0:
		return bad("SubscriptionLifetime", "is negative")
	case c.IteratorLifetime < 0:
		return bad("IteratorLifetime", "is negative")
	case c.MaxRecordsPerCall < 0 || c.MaxRecordsPerCall > maxLimit:
		return bad("MaxRecordsPerCall", "is outside [0, "+strconv.Itoa(maxLimit)+"]")
	case c.MaxBytesPerCall < 0:
		return bad("MaxBytesPerCall", "is negative")
	case c.MaxRecordSize < 0:
		return bad("MaxRecordSize", "is negative")
	}
	return nil
}

// config is a Config with its defaults applied; a rate of 0 means no limit.
type config struct {
	now                 func() time.Time
	region              string
	account             string
	getRecordsPerSecond int // per shard; 0 = unlimited
	iteratorsPerSecond  int // GetShardIterator per shard; 0 = unlimited
	readBytesPerSecond  int // per shard; 0 = unlimited
	iteratorLifetime    time.Duration
	subLifetime         time.Duration
	maxRecordsPerCall   int
	maxBytesPerCall     int
	maxRecordSize       int
	ignoreShardFilter   bool
	ignoreMaxResults    bool
	omitChildShards     bool
}

// Service figures (see KCL-REFERENCE.md, "Kinesis limits").
const (
	defaultRegion           = "us-east-1"
	defaultAccount          = "000000000000"
	defaultCallsPerSecond   = 5
	defaultIteratorLifetime = 5 * time.Minute
	maxLimit                = 10000            // GetRecords Limit upper bound
	defaultMaxBytesPerCall  = 10 * 1024 * 1024 // GetRecords response cap
	defaultMaxRecordSize    = 1024 * 1024      // data + partition key
	nextTokenLifetime       = 300 * time.Second
	defaultMaxResults       = 1000 // ListShards page size when unset, and its cap
	maxMaxResults           = 10000
)

// withDefaults resolves c, which Validate accepted. It is the one place
// defaults are applied.
func (c Config) withDefaults() config {
	or := func(v, def int) int {
		if v == 0 {
			return def
		}
		return v
	}
	rate := func(v int) int {
		switch {
		case v == 0:
			return defaultCallsPerSecond
		case v < 0:
			return 0
		}
		return v
	}
	r := config{
		now:                 c.Now,
		region:              c.Region,
		account:             c.Account,
		getRecordsPerSecond: rate(c.GetRecordsPerSecond),
		iteratorsPerSecond:  rate(c.GetShardIteratorPerSecond),
		readBytesPerSecond:  c.ReadBytesPerSecond,
		iteratorLifetime:    c.IteratorLifetime,
		maxRecordsPerCall:   or(c.MaxRecordsPerCall, maxLimit),
		maxBytesPerCall:     or(c.MaxBytesPerCall, defaultMaxBytesPerCall),
		maxRecordSize:       or(c.MaxRecordSize, defaultMaxRecordSize),
		ignoreShardFilter:   c.IgnoreShardFilter,
		ignoreMaxResults:    c.IgnoreMaxResults,
		omitChildShards:     c.OmitChildShards,
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.region == "" {
		r.region = defaultRegion
	}
	if r.account == "" {
		r.account = defaultAccount
	}
	r.subLifetime = c.SubscriptionLifetime
	if r.subLifetime == 0 {
		r.subLifetime = defaultSubLifetime
	}
	if r.iteratorLifetime == 0 {
		r.iteratorLifetime = defaultIteratorLifetime
	}
	return r
}
