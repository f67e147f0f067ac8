package fastdecode

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/aws/smithy-go/tracing"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// sdkDeserializerID is the ID of the SDK's deserialize middleware of every
// operation. Ours takes its place under the same ID, so middleware that
// others insert relative to it still finds it.
const sdkDeserializerID = "OperationDeserializer"

// Decoder installs the fast GetRecords decoder into GetRecords calls and
// counts what it does. Its methods are safe for concurrent use; one Decoder
// serves any number of clients and calls.
type Decoder struct {
	decoded, records, bytes  atomic.Int64
	salvaged, bodyReadErrors atomic.Int64
	retries, retriesAfterErr atomic.Int64
	fallbacks                atomic.Int64
	events, sdkMessages      atomic.Int64
}

// New returns a Decoder with its counters at zero.
func New() *Decoder { return &Decoder{} }

// Stats are a Decoder's running totals.
type Stats struct {
	// Decoded counts 2xx responses decoded by the fast path, with the
	// records and body bytes in them.
	Decoded, Records, Bytes int64
	// Salvaged counts responses whose body read failed only after the
	// whole JSON document had arrived — e.g. the connection was closed
	// under net/http's read loop ("use of closed network connection",
	// "connection reset") or a chunked body lost its terminating chunk.
	// The SDK fails such a response with a deserialization error, which
	// its retryer retries: the same up-to-10 MB read again, a retry token
	// spent, a backoff slept, and the shard's read limit charged twice.
	// The fast path uses the document it already has instead, which is
	// exactly what the SDK would have decoded from the complete body (it
	// ignores anything after the first JSON value).
	Salvaged int64
	// BodyReadErrors counts responses whose body read failed before the
	// document was whole. They fail as with the SDK (a
	// *smithy.DeserializationError wrapping the read error), and its
	// retryer retries those it deems retryable.
	BodyReadErrors int64
	// Retries counts GetRecords attempts after the first of a call, for
	// any reason (throttling, 5xx, connection errors); RetriesAfterBodyError
	// those that followed a BodyReadError.
	Retries, RetriesAfterBodyError int64
	// SDKFallbacks counts 2xx bodies the fast decoder rejected and handed
	// to the SDK's deserializer, which then had the last word (so a caller
	// always sees the SDK's own error). Only malformed bodies get here.
	SDKFallbacks int64
	// Events counts SubscribeToShardEvent messages decoded by the fast
	// path (their records and message bytes are in Records and Bytes).
	// SDKMessages counts event-stream messages handed to the SDK's
	// decoder: exceptions, unknown events, and payloads the fast path
	// rejected (those are in SDKFallbacks too).
	Events, SDKMessages int64
}

// Stats returns the running totals.
func (d *Decoder) Stats() Stats {
	return Stats{
		Decoded:               d.decoded.Load(),
		Records:               d.records.Load(),
		Bytes:                 d.bytes.Load(),
		Salvaged:              d.salvaged.Load(),
		BodyReadErrors:        d.bodyReadErrors.Load(),
		Retries:               d.retries.Load(),
		RetriesAfterBodyError: d.retriesAfterErr.Load(),
		SDKFallbacks:          d.fallbacks.Load(),
		Events:                d.events.Load(),
		SDKMessages:           d.sdkMessages.Load(),
	}
}

// Default is the Decoder behind GetRecordsOption.
var Default = New()

// GetRecordsOption is Default.Option: pass it to GetRecords of any
// *kinesis.Client:
//
//	out, err := client.GetRecords(ctx, in, fastdecode.GetRecordsOption)
func GetRecordsOption(o *kinesis.Options) { Default.Option(o) }

// Option is a per-operation option for (*kinesis.Client).GetRecords that
// decodes successful responses with the fast path. Given to any other
// operation it does nothing; given twice, it installs once.
func (d *Decoder) Option(o *kinesis.Options) {
	// o.APIOptions is the call's own copy (Options.Copy makes a new
	// slice), so appending never reaches the client's options.
	o.APIOptions = append(o.APIOptions, d.install)
}

func (d *Decoder) install(stack *middleware.Stack) error {
	if stack.ID() != "GetRecords" {
		return nil
	}
	if err := installRequestBodyFix(stack); err != nil {
		return err
	}
	sdk, ok := stack.Deserialize.Get(sdkDeserializerID)
	if !ok {
		return fmt.Errorf("shardwise: the GetRecords stack has no %s middleware to replace", sdkDeserializerID)
	}
	if _, ours := sdk.(*deserializer); ours {
		return nil
	}
	_, err := stack.Deserialize.Swap(sdkDeserializerID, &deserializer{dec: d, sdk: sdk})
	return err
}

// deserializer replaces the SDK's OperationDeserializer of one GetRecords
// call. The stack, and so this value, is built for each call, and the
// retry middleware runs the call's attempts one after another through it.
//
// It sits where the SDK's did: below the retry loop (so its errors are
// classified by the retryer like the SDK's), below the middleware that
// wraps errors with the HTTP status and request ID and records the raw
// response in the metadata, and above the transport. It handles only a
// 2xx response that reached it without error; it hands everything else to
// the SDK's own middleware, which then runs exactly as it would have:
// error codes and types, body closing, tracing.
type deserializer struct {
	dec *Decoder
	sdk middleware.DeserializeMiddleware

	attempts int  // attempts of this call so far
	bodyErr  bool // the previous attempt failed reading its body
}

func (*deserializer) ID() string { return sdkDeserializerID }

func (m *deserializer) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	out middleware.DeserializeOutput, md middleware.Metadata, err error,
) {
	m.attempts++
	if m.attempts > 1 {
		m.dec.retries.Add(1)
		if m.bodyErr {
			m.dec.retriesAfterErr.Add(1)
		}
	}
	m.bodyErr = false

	out, md, err = next.HandleDeserialize(ctx, in)
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if err != nil || !ok || resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return m.sdk.HandleDeserialize(ctx, in, replay{out, md, err})
	}

	_, span := tracing.StartSpan(ctx, sdkDeserializerID)
	defer span.End()

	bp, readErr := readBody(resp.Body, resp.ContentLength)
	defer putBuffer(bp)
	_ = resp.Body.Close()
	body := *bp
	result, decErr := Decode(body)

	switch {
	case decErr == nil && (readErr == nil || len(body) > 0):
		if readErr != nil {
			m.dec.salvaged.Add(1)
		}
		m.dec.decoded.Add(1)
		m.dec.records.Add(int64(len(result.Records)))
		m.dec.bytes.Add(int64(len(body)))
		out.Result = result
		return out, md, nil

	case readErr != nil:
		m.dec.bodyReadErrors.Add(1)
		m.bodyErr = true
		return out, md, &smithy.DeserializationError{Err: readErr}

	default:
		m.dec.fallbacks.Add(1)
		return m.sdkDecode(ctx, in, out, md, body)
	}
}

// sdkDecode runs the SDK's deserializer on a body the fast path rejected.
// The SDK copies what it keeps, so body may be reused after it returns.
func (m *deserializer) sdkDecode(ctx context.Context, in middleware.DeserializeInput, out middleware.DeserializeOutput, md middleware.Metadata, body []byte) (
	_ middleware.DeserializeOutput, _ middleware.Metadata, err error,
) {
	defer func() {
		// The SDK's deserializer panics on some bodies (a NaN
		// timestamp reaches big.NewFloat); a response must not take the
		// process down.
		if r := recover(); r != nil {
			err = &smithy.DeserializationError{Err: fmt.Errorf("shardwise: the SDK's deserializer panicked: %v", r)}
		}
	}()
	resp := out.RawResponse.(*smithyhttp.Response)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return m.sdk.HandleDeserialize(ctx, in, replay{out, md, nil})
}

// replay is the "next" handler given to the SDK's deserializer: it returns
// the response that already came back from the transport.
type replay struct {
	out middleware.DeserializeOutput
	md  middleware.Metadata
	err error
}

func (r replay) HandleDeserialize(context.Context, middleware.DeserializeInput) (middleware.DeserializeOutput, middleware.Metadata, error) {
	return r.out, r.md, r.err
}
