// Package backoff computes exponential backoff delays with "equal jitter"
// (half the delay fixed, half random) and waits for them in a
// context-aware way. It is the one backoff of Shardwise: the scheduler's
// throttling and processor retries, the batch handler's retries and the
// CloudWatch publisher's retries all use it.
//
// Why equal jitter rather than full jitter (a random delay in [0, d]):
// full jitter spreads callers best, but it sometimes retries almost at
// once, and the callers here back off from a service that told them to
// slow down (a throttled shard, CloudWatch's request rate) or from a
// processor that just failed; the fixed half guarantees each retry waits at
// least d/2, while the random half still spreads callers that failed
// together.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff yields growing delays: attempt n (from 0) waits a random
// duration in [d/2, d] where d = min(Base * 2^n, Max), as the package doc
// explains. The zero value is not usable; set Base and Max. A Backoff is
// not safe for concurrent use: each retry loop owns one.
type Backoff struct {
	// Base is the delay before the first retry, before jitter.
	Base time.Duration
	// Max caps the delay, before jitter.
	Max     time.Duration
	attempt int
}

// Next returns the next delay and advances the attempt count.
func (b *Backoff) Next() time.Duration {
	d := b.Base
	for i := 0; i < b.attempt && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	if b.attempt < 62 {
		b.attempt++
	}
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Attempts is how many delays were handed out since the last Reset.
func (b *Backoff) Attempts() int { return b.attempt }

// Reset starts over at Base.
func (b *Backoff) Reset() { b.attempt = 0 }

// Sleep waits for d or until ctx ends, and reports whether the full wait
// elapsed.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
