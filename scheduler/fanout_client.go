package scheduler

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// fanOutStreamBuffer is the HTTP/2 receive window of each stream (each
// SubscribeToShard subscription) of the Kinesis client a fan-out worker
// builds from AWSConfig. What the transport has received and the event
// reader has not read yet is outside the worker's byte budget: Go's
// default lets every stream run 4 MB ahead (256 MB over 64 shards); 256 KB
// bounds it at 16 MB over 64 shards and still carries a shard's 2 MB/s at
// round trips up to about 100 ms (the window is refilled as it is read).
const fanOutStreamBuffer = 256 << 10

// fanOutHTTPClient is the HTTP client of the Kinesis client a fan-out
// worker builds from AWSConfig: hc (AWSConfig.HTTPClient, nil when unset)
// with fanOutStreamBuffer as its per-stream HTTP/2 receive buffer.
//
// The SDK's buildable client (what config.LoadDefaultConfig sets, and what
// the SDK builds when none is set) gets the setting on its transport
// unless its HTTP2 config already sets one; everything else of it is kept,
// including ForceAttemptHTTP2, which is how the SDK's default transport
// negotiates HTTP/2 over TLS (SubscribeToShard requires it) despite its
// custom dialer and TLS config. A client of any other type is the user's
// own and is returned unchanged.
func fanOutHTTPClient(hc aws.HTTPClient) aws.HTTPClient {
	var b *awshttp.BuildableClient
	switch c := hc.(type) {
	case nil:
		b = awshttp.NewBuildableClient()
	case *awshttp.BuildableClient:
		b = c
	default:
		return hc
	}
	return b.WithTransportOptions(func(tr *http.Transport) {
		if tr.HTTP2 == nil {
			tr.HTTP2 = &http.HTTP2Config{}
		}
		if tr.HTTP2.MaxReceiveBufferPerStream == 0 {
			tr.HTTP2.MaxReceiveBufferPerStream = fanOutStreamBuffer
		}
	})
}
