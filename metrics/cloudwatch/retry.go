package cloudwatch

import (
	"errors"
	"net/http"

	"github.com/aws/smithy-go"

	"github.com/shardwise/shardwise/internal/awsapi"
)

// retryable reports whether sending the same batch again may succeed:
// throttling, a server-side fault, HTTP 429/5xx, or a failure with no
// service answer at all (connection error, timeout). A client-side API
// error (invalid parameter, missing permission) is not retryable.
func retryable(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if awsapi.IsThrottle(err) || ae.ErrorFault() == smithy.FaultServer {
			return true
		}
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		sc := re.HTTPStatusCode()
		return sc == http.StatusTooManyRequests || sc >= 500
	}
	return ae == nil
}
