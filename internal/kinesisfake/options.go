package kinesisfake

import "time"

// Option configures a Fake.
type Option func(*config)

type config struct {
	now                 func() time.Time
	region              string
	account             string
	getRecordsPerSecond int           // per shard; 0 = unlimited
	iteratorsPerSecond  int           // GetShardIterator per shard; 0 = unlimited
	readBytesPerSecond  int           // per shard; 0 = unlimited
	iteratorLifetime    time.Duration // age at which a shard iterator expires
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

func defaultConfig() config {
	return config{
		now:                 time.Now,
		region:              defaultRegion,
		account:             defaultAccount,
		getRecordsPerSecond: defaultCallsPerSecond,
		iteratorsPerSecond:  defaultCallsPerSecond,
		iteratorLifetime:    defaultIteratorLifetime,
		maxRecordsPerCall:   maxLimit,
		maxBytesPerCall:     defaultMaxBytesPerCall,
		maxRecordSize:       defaultMaxRecordSize,
	}
}

// WithClock sets the clock for arrival timestamps, iterator and token
// expiry, rate limits and MillisBehindLatest. Default time.Now, which under
// testing/synctest is the bubble's fake clock. The clock should not go
// backwards; a clock that never moves makes every shard throttle after its
// fifth GetRecords call unless the limit is disabled.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithRegion sets the region used in stream ARNs. Default "us-east-1".
func WithRegion(region string) Option { return func(c *config) { c.region = region } }

// WithAccount sets the account id used in stream ARNs and error messages.
// Default "000000000000".
func WithAccount(account string) Option { return func(c *config) { c.account = account } }

// WithGetRecordsRateLimit sets how many GetRecords calls per second one
// shard accepts before answering ProvisionedThroughputExceededException
// (shared by every reader of the shard, as in the service). Default 5;
// 0 disables the limit.
func WithGetRecordsRateLimit(callsPerSecond int) Option {
	return func(c *config) { c.getRecordsPerSecond = max(callsPerSecond, 0) }
}

// WithGetShardIteratorRateLimit sets how many GetShardIterator calls per
// second one shard accepts. Default 5, as in the service; 0 disables it.
func WithGetShardIteratorRateLimit(callsPerSecond int) Option {
	return func(c *config) { c.iteratorsPerSecond = max(callsPerSecond, 0) }
}

// WithReadThroughputLimit makes each shard serve at most bytesPerSecond of
// record data (data + partition key) to GetRecords, the service's 2 MB/s
// read limit: a call may return up to the per-call maximum, and the shard
// then refuses calls until the bytes are paid off at the rate (a 10 MB read
// at 2 MB/s throttles the shard for 5 s). Default 0 (no limit), so tests
// that pour data through a wall-clock fake are not slowed down; turn it on
// to test read pacing.
func WithReadThroughputLimit(bytesPerSecond int) Option {
	return func(c *config) { c.readBytesPerSecond = max(bytesPerSecond, 0) }
}

// WithIteratorLifetime sets the age at which a shard iterator expires.
// Default 5 minutes.
func WithIteratorLifetime(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.iteratorLifetime = d
		}
	}
}

// WithMaxRecordsPerCall caps the records one GetRecords call returns,
// whatever its Limit. Default 10,000.
func WithMaxRecordsPerCall(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxRecordsPerCall = n
		}
	}
}

// WithMaxBytesPerCall caps the bytes (data + partition key) one GetRecords
// call returns; a single larger record is still returned alone. Default
// 10 MiB.
func WithMaxBytesPerCall(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxBytesPerCall = n
		}
	}
}

// WithMaxRecordSize sets the largest record (data + partition key) the put
// methods accept. Default 1 MiB, the service's default; raise it to 10 MiB
// to imitate a stream with large records enabled.
func WithMaxRecordSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxRecordSize = n
		}
	}
}

// IgnoreShardFilter makes ListShards ignore ShardFilter and list every
// shard, as kinesalite does, for testing that callers tolerate it.
func IgnoreShardFilter() Option { return func(c *config) { c.ignoreShardFilter = true } }

// IgnoreMaxResults makes ListShards return every shard in one page whatever
// MaxResults says, as kinesalite does.
func IgnoreMaxResults() Option { return func(c *config) { c.ignoreMaxResults = true } }

// OmitChildShards makes GetRecords leave ChildShards empty at the end of a
// closed shard (NextShardIterator is still nil), as kinesalite does, for
// testing the ListShards fallback.
func OmitChildShards() Option { return func(c *config) { c.omitChildShards = true } }
