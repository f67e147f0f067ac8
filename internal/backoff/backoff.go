// Package backoff computes exponential backoff delays with full jitter and
// waits for them in a context-aware way.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff yields growing delays: attempt n waits a random duration in
// [d/2, d] where d = min(Base * 2^n, Max). Half-jitter keeps a floor so
// retries do not hammer a throttled service, while still spreading
// synchronized callers apart. The zero value is not usable; set Base and
// Max.
type Backoff struct {
	Base, Max time.Duration
	attempt   int
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
