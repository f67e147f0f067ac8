package cloudwatch

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestUndeliveredErrorSaysShardwiseOnce(t *testing.T) {
	for _, cause := range []error{ErrClosed, context.DeadlineExceeded, errors.New("api error InvalidParameterValue")} {
		err := error(&UndeliveredError{Observations: 3, Err: cause})
		msg := err.Error()
		if !strings.HasPrefix(msg, "shardwise: 3 observations") || strings.Count(msg, "shardwise: ") != 1 {
			t.Errorf("UndeliveredError{Err: %v}.Error() = %q, want one \"shardwise: \" prefix", cause, msg)
		}
		if !errors.Is(err, cause) {
			t.Errorf("errors.Is(%q, %v) = false", msg, cause)
		}
	}
}
