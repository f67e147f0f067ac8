package cloudwatch

import (
	"errors"
	"fmt"
	"strings"
)

// ErrClosed is returned by Flush after Close.
var ErrClosed = errors.New("shardwise: CloudWatch publisher closed")

// UndeliveredError reports observations that were accepted but never
// reached CloudWatch (the batch was rejected, retries ran out, or Close's
// context ended first).
type UndeliveredError struct {
	// Observations is the number of observations lost.
	Observations int64
	// Err is the last send error, the context's error, or ErrClosed for
	// observations recorded while the publisher was closing.
	Err error
}

// Error says how many observations were lost and why.
func (e *UndeliveredError) Error() string {
	// Err may be one of ours, already prefixed: say "shardwise: " once.
	return fmt.Sprintf("shardwise: %d observations not delivered to CloudWatch: %s",
		e.Observations, strings.TrimPrefix(fmt.Sprint(e.Err), "shardwise: "))
}

// Unwrap returns Err.
func (e *UndeliveredError) Unwrap() error { return e.Err }
