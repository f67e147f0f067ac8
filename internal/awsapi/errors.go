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

// IsThrottle reports whether err is a throttling error worth backing off
// for (provisioned throughput, request limits, KMS throttling).
func IsThrottle(err error) bool {
	switch ErrorCode(err) {
	case "ProvisionedThroughputExceededException", "LimitExceededException",
		"ThrottlingException", "Throttling", "RequestLimitExceeded",
		"KMSThrottlingException", "TooManyRequestsException":
		return true
	}
	return false
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
