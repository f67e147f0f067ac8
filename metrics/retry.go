package metrics

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/aws/smithy-go"
)

// throttleCodes are the error codes CloudWatch and the AWS front end use
// for request-rate throttling. Under the RPC v2 CBOR protocol in query
// compatible mode the code comes from the X-Amzn-Query-Error header
// ("Throttling") or the body's __type ("ThrottlingException").
var throttleCodes = map[string]bool{
	"Throttling":                true,
	"ThrottlingException":       true,
	"ThrottledException":        true,
	"RequestThrottled":          true,
	"RequestThrottledException": true,
	"TooManyRequestsException":  true,
	"RequestLimitExceeded":      true,
	"SlowDown":                  true,
}

// isThrottle reports whether err is a throttling error, by its code.
func isThrottle(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && throttleCodes[ae.ErrorCode()]
}

// retryable reports whether sending the same batch again may succeed:
// throttling, a server-side fault, HTTP 429/5xx, or a failure with no
// service answer at all (connection error, timeout). A client-side API
// error (invalid parameter, missing permission) is not retryable.
func retryable(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if throttleCodes[ae.ErrorCode()] || ae.ErrorFault() == smithy.FaultServer {
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

// backoffDelay is the wait before retry number attempt (1-based): the
// exponential delay d = min(base*2^(attempt-1), max), jittered uniformly
// in [d/2, d]. The floor keeps retries from hammering a throttled service;
// the jitter spreads workers that were throttled together.
func backoffDelay(base, maxDelay time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	if d <= 1 {
		return max(d, 1)
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
