package fastdecode

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/middleware"
)

// memHTTP is an in-memory kinesis.HTTPClient answering every request with
// a 200 and the body the request's context carries.
type memHTTP struct{}

type bodyKey struct{}

func (memHTTP) Do(req *http.Request) (*http.Response, error) {
	body, _ := req.Context().Value(bodyKey{}).([]byte)
	return &http.Response{
		StatusCode:    200,
		Status:        "200 OK",
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// memClient is a kinesis client over memHTTP that never retries.
var memClient = kinesis.New(kinesis.Options{
	Region:           "us-east-1",
	Credentials:      aws.AnonymousCredentials{},
	BaseEndpoint:     aws.String("http://127.0.0.1:1"),
	HTTPClient:       memHTTP{},
	RetryMaxAttempts: 1,
})

var getRecordsInput = &kinesis.GetRecordsInput{ShardIterator: aws.String("it")}

// sdkDecode decodes body with the SDK's own deserializer (through a real
// client), reporting a panic of the SDK as such.
func sdkDecode(body []byte) (out *kinesis.GetRecordsOutput, panicked any, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, panicked, err = nil, r, nil
		}
	}()
	ctx := context.WithValue(context.Background(), bodyKey{}, body)
	out, err = memClient.GetRecords(ctx, getRecordsInput)
	if out != nil {
		out.ResultMetadata = middleware.Metadata{}
	}
	return out, nil, err
}

// fastClientDecode decodes body through the same client with the fast
// path installed.
func fastClientDecode(d *Decoder, body []byte) (*kinesis.GetRecordsOutput, error) {
	ctx := context.WithValue(context.Background(), bodyKey{}, body)
	out, err := memClient.GetRecords(ctx, getRecordsInput, d.Option)
	if out != nil {
		out.ResultMetadata = middleware.Metadata{}
	}
	return out, err
}

// diffOutputs describes the first difference between two outputs (with
// ResultMetadata ignored), or returns "" when they are deeply equal,
// nil-versus-empty slices included.
func diffOutputs(want, got *kinesis.GetRecordsOutput) string {
	if (want == nil) != (got == nil) {
		return fmt.Sprintf("output nil: want %v, got %v", want == nil, got == nil)
	}
	if want == nil {
		return ""
	}
	w, g := *want, *got
	w.ResultMetadata, g.ResultMetadata = middleware.Metadata{}, middleware.Metadata{}
	if reflect.DeepEqual(w, g) {
		return ""
	}
	if d := diffPtr("NextShardIterator", w.NextShardIterator, g.NextShardIterator); d != "" {
		return d
	}
	if d := diffPtr("MillisBehindLatest", w.MillisBehindLatest, g.MillisBehindLatest); d != "" {
		return d
	}
	if (w.Records == nil) != (g.Records == nil) || len(w.Records) != len(g.Records) {
		return fmt.Sprintf("Records: want %d (nil %v), got %d (nil %v)", len(w.Records), w.Records == nil, len(g.Records), g.Records == nil)
	}
	for i := range w.Records {
		if d := diffRecord(&w.Records[i], &g.Records[i]); d != "" {
			return fmt.Sprintf("Records[%d].%s", i, d)
		}
	}
	if !reflect.DeepEqual(w.ChildShards, g.ChildShards) {
		return fmt.Sprintf("ChildShards: want %s, got %s", showChildren(w.ChildShards), showChildren(g.ChildShards))
	}
	return "outputs differ in a field the diff does not know"
}

func diffRecord(w, g *types.Record) string {
	if (w.Data == nil) != (g.Data == nil) || !bytes.Equal(w.Data, g.Data) {
		return fmt.Sprintf("Data: want %d bytes (nil %v), got %d bytes (nil %v)", len(w.Data), w.Data == nil, len(g.Data), g.Data == nil)
	}
	if d := diffPtr("PartitionKey", w.PartitionKey, g.PartitionKey); d != "" {
		return d
	}
	if d := diffPtr("SequenceNumber", w.SequenceNumber, g.SequenceNumber); d != "" {
		return d
	}
	if w.EncryptionType != g.EncryptionType {
		return fmt.Sprintf("EncryptionType: want %q, got %q", w.EncryptionType, g.EncryptionType)
	}
	if (w.ApproximateArrivalTimestamp == nil) != (g.ApproximateArrivalTimestamp == nil) {
		return "ApproximateArrivalTimestamp: presence differs"
	}
	if w.ApproximateArrivalTimestamp != nil && !reflect.DeepEqual(*w.ApproximateArrivalTimestamp, *g.ApproximateArrivalTimestamp) {
		return fmt.Sprintf("ApproximateArrivalTimestamp: want %v, got %v", w.ApproximateArrivalTimestamp.Format(time.RFC3339Nano), g.ApproximateArrivalTimestamp.Format(time.RFC3339Nano))
	}
	return ""
}

func diffPtr[T comparable](name string, w, g *T) string {
	switch {
	case (w == nil) != (g == nil):
		return fmt.Sprintf("%s: want nil %v, got nil %v", name, w == nil, g == nil)
	case w != nil && *w != *g:
		return fmt.Sprintf("%s: want %#v, got %#v", name, *w, *g)
	}
	return ""
}

func showChildren(cs []types.ChildShard) string {
	if cs == nil {
		return "nil"
	}
	var parts []string
	for _, c := range cs {
		s := fmt.Sprintf("{id=%v parents=%#v", deref(c.ShardId), c.ParentShards)
		if c.HashKeyRange != nil {
			s += fmt.Sprintf(" range=%v..%v", deref(c.HashKeyRange.StartingHashKey), deref(c.HashKeyRange.EndingHashKey))
		}
		parts = append(parts, s+"}")
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// checkEquivalent checks the contract on one body: where the SDK decodes,
// Decode yields the same output; where the SDK fails (or panics), Decode
// fails. It calls decode, not Decode, so that a panic of ours surfaces.
func checkEquivalent(t testing.TB, body []byte) {
	t.Helper()
	want, sdkPanic, wantErr := sdkDecode(body)
	got, gotErr := decode(body)
	switch {
	case sdkPanic != nil:
		if gotErr == nil {
			t.Fatalf("the SDK panics (%v) but Decode accepts the body %q", sdkPanic, clip(body))
		}
	case wantErr != nil:
		if gotErr == nil {
			t.Fatalf("the SDK rejects the body (%v) but Decode accepts it: %q", wantErr, clip(body))
		}
	case gotErr != nil:
		t.Fatalf("the SDK accepts the body but Decode fails: %v\nbody: %q", gotErr, clip(body))
	default:
		if d := diffOutputs(want, got); d != "" {
			t.Fatalf("outputs differ: %s\nbody: %q", d, clip(body))
		}
	}
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return string(b)
}
