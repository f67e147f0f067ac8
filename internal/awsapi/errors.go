package awsapi

import (
	"errors"

	"github.com/aws/smithy-go"
)

// ErrorCode returns the AWS error code of err ("" if err carries none).
// Errors are always classified by code, never by message.
func ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// throttleCodes are the error codes with which Kinesis, DynamoDB,
// CloudWatch, KMS and the AWS front end say "slow down". It is the one list
// of them in Shardwise: every caller classifies throttling with IsThrottle.
var throttleCodes = map[string]bool{
	// Kinesis GetRecords/GetShardIterator over a shard's limits; DynamoDB
	// over a table's provisioned capacity.
	"ProvisionedThroughputExceededException": true,
	// Kinesis control-plane calls over their rate (ListShards,
	// DescribeStreamSummary); DynamoDB too many table operations at once.
	"LimitExceededException": true,
	// DynamoDB over the account's request rate.
	"RequestLimitExceeded": true,
	// Request-rate throttling by the service front end. Under the RPC v2
	// CBOR protocol in query-compatible mode (CloudWatch) the code comes
	// from the X-Amzn-Query-Error header ("Throttling") or the body's
	// __type ("ThrottlingException").
	"Throttling":                true,
	"ThrottlingException":       true,
	"ThrottledException":        true,
	"RequestThrottled":          true,
	"RequestThrottledException": true,
	"TooManyRequestsException":  true,
	"SlowDown":                  true,
	// KMS throttling the decryption of an encrypted stream's records.
	"KMSThrottlingException": true,
}

// IsThrottle reports whether err is a throttling error worth backing off
// for (provisioned throughput, request rates, KMS throttling), by its code.
func IsThrottle(err error) bool {
	return throttleCodes[ErrorCode(err)]
}

// IsExpiredIterator reports whether err says the shard iterator expired.
func IsExpiredIterator(err error) bool {
	return ErrorCode(err) == "ExpiredIteratorException"
}

// IsNotFound reports whether err says the resource does not exist.
func IsNotFound(err error) bool {
	return ErrorCode(err) == "ResourceNotFoundException"
}

// IsAccessDenied reports whether err is a permissions error.
func IsAccessDenied(err error) bool {
	switch ErrorCode(err) {
	case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation",
		"UnrecognizedClientException", "InvalidSignatureException":
		return true
	}
	return false
}

// IsConditionFailed reports whether err is a failed DynamoDB condition.
func IsConditionFailed(err error) bool {
	return ErrorCode(err) == "ConditionalCheckFailedException"
}

// IsResourceInUse reports whether err says the table (or stream) already
// exists or is being changed.
func IsResourceInUse(err error) bool {
	return ErrorCode(err) == "ResourceInUseException"
}

// IsUnsupported reports whether the service does not know the operation
// (as emulators answer for calls they do not implement).
func IsUnsupported(err error) bool {
	switch ErrorCode(err) {
	case "UnknownOperationException", "UnknownOperation", "InvalidAction":
		return true
	}
	return false
}
