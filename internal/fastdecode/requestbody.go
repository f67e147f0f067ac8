package fastdecode

import (
	"context"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The "use of closed network connection" that cuts GetRecords responses
// short (aws-sdk-go-v2 issues #1825 and #2737 report it for DynamoDB) is a
// race between net/http's write loop and the SDK, and it is not in the
// response at all:
//
//  1. net/http writes the request body (Content-Length bytes), then copies
//     the rest of the body to io.Discard to check that it has ended.
//  2. The server has the whole request after step 1's first part and
//     answers at once; the transport hands the response to the SDK, whose
//     ClientHandler closes the request body as soon as Do returns.
//  3. If that close lands before the write loop's check in step 1, the
//     check calls the SDK body's WriteTo, which on a closed body returns
//     io.EOF as an error (a Read would return io.EOF as the end, which
//     io.Copy accepts). The write loop takes it for a failed write and
//     closes the connection — under the response body the SDK is reading.
//
// The read fails with "use of closed network connection", which the SDK's
// retryer deems retryable, so the whole response (up to 10 MB) is fetched
// again after a backoff, a retry token spent and the shard's read limit
// charged twice. The window is tiny when the server is a network round
// trip away, but wide open against a local endpoint: 1 to 4% of
// responses over ~150 KB here. Step 3 needs WriteTo, so hiding it from
// net/http closes the race; the body stays seekable, so signing, retries
// and rewinding work as before.

// RequestBodyFix is a per-operation option (for any operation) that gives
// net/http the request body without its WriteTo method, which closes the
// race above. Decoder.Option installs it for GetRecords; use it alone to
// get the fix with the SDK's decoder.
func RequestBodyFix(o *kinesis.Options) {
	o.APIOptions = append(o.APIOptions, installRequestBodyFix)
}

const requestBodyFixID = "fastdecode.RequestBodyWithoutWriteTo"

func installRequestBodyFix(stack *middleware.Stack) error {
	if _, ok := stack.Serialize.Get(requestBodyFixID); ok {
		return nil
	}
	return stack.Serialize.Insert(requestBodyFix{}, "OperationSerializer", middleware.After)
}

type requestBodyFix struct{}

func (requestBodyFix) ID() string { return requestBodyFixID }

func (requestBodyFix) HandleSerialize(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (
	middleware.SerializeOutput, middleware.Metadata, error,
) {
	if req, ok := in.Request.(*smithyhttp.Request); ok {
		if s, ok := req.GetStream().(io.ReadSeeker); ok {
			if _, ok := s.(io.WriterTo); ok {
				r, err := req.SetStream(readSeeker{s})
				if err != nil {
					return middleware.SerializeOutput{}, middleware.Metadata{}, err
				}
				in.Request = r
			}
		}
	}
	return next.HandleSerialize(ctx, in)
}

// readSeeker exposes only Read and Seek of what it wraps.
type readSeeker struct{ io.ReadSeeker }
