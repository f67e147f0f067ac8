package awsapi

import (
	"errors"
	"fmt"
	"testing"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

func TestIsThrottle(t *testing.T) {
	throttles := []error{
		&kintypes.ProvisionedThroughputExceededException{},
		&kintypes.LimitExceededException{},
		&kintypes.KMSThrottlingException{},
		&ddbtypes.ProvisionedThroughputExceededException{},
		&ddbtypes.RequestLimitExceeded{},
		&ddbtypes.LimitExceededException{},
		&smithy.GenericAPIError{Code: "Throttling"},          // CloudWatch, query-compatible header
		&smithy.GenericAPIError{Code: "ThrottlingException"}, // CloudWatch, CBOR body; DynamoDB control plane
		&smithy.GenericAPIError{Code: "TooManyRequestsException"},
		fmt.Errorf("shardwise: GetRecords: %w", &kintypes.ProvisionedThroughputExceededException{}),
	}
	for _, err := range throttles {
		if !IsThrottle(err) {
			t.Errorf("IsThrottle(%T %v) = false", err, err)
		}
	}
	others := []error{
		nil,
		errors.New("Throttling"), // no code: never classified by message
		&kintypes.ExpiredIteratorException{},
		&ddbtypes.ConditionalCheckFailedException{},
		&smithy.GenericAPIError{Code: "InvalidParameterValue"},
		&smithy.GenericAPIError{Code: "InternalServiceFault", Fault: smithy.FaultServer},
	}
	for _, err := range others {
		if IsThrottle(err) {
			t.Errorf("IsThrottle(%T %v) = true", err, err)
		}
	}
}
