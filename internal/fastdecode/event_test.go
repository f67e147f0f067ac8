package fastdecode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/shardwise/shardwise/internal/eventstream"
)

// Event-stream messages as Kinesis frames them.
func initialResponse() []byte {
	return eventstream.AppendMessage(nil, []eventstream.Header{
		eventstream.StringHeader(":event-type", "initial-response"),
		eventstream.StringHeader(":content-type", "application/json"),
		eventstream.StringHeader(":message-type", "event"),
	}, []byte("{}"))
}

func eventMessage(payload []byte) []byte {
	return eventstream.AppendMessage(nil, []eventstream.Header{
		eventstream.StringHeader(":event-type", "SubscribeToShardEvent"),
		eventstream.StringHeader(":content-type", "application/json"),
		eventstream.StringHeader(":message-type", "event"),
	}, payload)
}

func exceptionMessage(typ, payload string) []byte {
	return eventstream.AppendMessage(nil, []eventstream.Header{
		eventstream.StringHeader(":exception-type", typ),
		eventstream.StringHeader(":content-type", "application/json"),
		eventstream.StringHeader(":message-type", "exception"),
	}, []byte(payload))
}

// exceptionTypes are the exceptions of the SubscribeToShard event stream
// union, plus one the union does not name.
var exceptionTypes = []string{
	"ResourceNotFoundException", "ResourceInUseException", "KMSDisabledException",
	"KMSInvalidStateException", "KMSAccessDeniedException", "KMSNotFoundException",
	"KMSOptInRequired", "KMSThrottlingException", "InternalFailureException",
	"LimitExceededException",
}

// result is what one DeserializeEventMessage call gave.
type result struct {
	v   smithy.Deserializable
	err error
}

// readAll reads a stream's messages (after the initial response) with p
// until the first error, as the SDK's event reader does.
func readAll(p smithyhttp.ClientProtocol, stream []byte) []result {
	r := bytes.NewReader(stream)
	var out []result
	for range 10_000 {
		v, err := p.DeserializeEventMessage(schemas.SubscribeToShardEventStream, kinesis.TypeRegistry, r)
		out = append(out, result{v, err})
		if err != nil {
			return out
		}
	}
	return out
}

func sdkAll(stream []byte) (res []result, panicked any) {
	defer func() { panicked = recover() }()
	return readAll(newSDKProtocol(), stream), nil
}

func fastAll(stream []byte) []result { return fastAllWith(New(), stream) }

func fastAllWith(d *Decoder, stream []byte) []result {
	return readAll(&eventProtocol{ClientProtocol: newSDKProtocol(), dec: d}, stream)
}

// asOutput puts an event's fields where diffOutputs compares them.
func asOutput(e *types.SubscribeToShardEvent) *kinesis.GetRecordsOutput {
	return &kinesis.GetRecordsOutput{NextShardIterator: e.ContinuationSequenceNumber, MillisBehindLatest: e.MillisBehindLatest, Records: e.Records, ChildShards: e.ChildShards}
}

// diffEvents describes the first difference between two decoded values.
func diffEvents(want, got smithy.Deserializable) string {
	we, wok := want.(*types.SubscribeToShardEvent)
	ge, gok := got.(*types.SubscribeToShardEvent)
	if wok && gok {
		if d := diffOutputs(asOutput(we), asOutput(ge)); d != "" {
			return d
		}
		if !reflect.DeepEqual(we, ge) {
			return "events differ in a field the diff does not know"
		}
		return ""
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Sprintf("want %T %+v, got %T %+v", want, want, got, got)
	}
	return ""
}

// checkStreamEquivalent checks the contract on one event stream: message
// by message, where the SDK yields a value we yield a deeply equal one;
// where the SDK fails we fail with an error of the same type (an equal
// one for the SDK's API errors); a clean end of the SDK is a clean end or
// an error of ours (we report a message cut short, the SDK ends quietly).
func checkStreamEquivalent(t testing.TB, stream []byte) {
	t.Helper()
	want, sdkPanic := sdkAll(stream)
	got := fastAll(stream)
	if sdkPanic != nil {
		if last := got[len(got)-1]; last.err == nil || last.err == io.EOF {
			t.Fatalf("the SDK panics (%v) but we read the stream to its end: %q", sdkPanic, clip(stream))
		}
		return
	}
	for i, w := range want {
		if i >= len(got) {
			t.Fatalf("message %d: we stopped early", i)
		}
		g := got[i]
		switch {
		case w.err == io.EOF:
			if g.err == nil {
				t.Fatalf("message %d: the SDK ends the stream, we decode %T: %q", i, g.v, clip(stream))
			}
			return
		case w.err != nil:
			if g.err == nil {
				t.Fatalf("message %d: the SDK fails (%v), we accept: %q", i, w.err, clip(stream))
			}
			var wa smithy.APIError
			if errors.As(w.err, &wa) && !reflect.DeepEqual(w.err, g.err) {
				t.Fatalf("message %d: the SDK fails with %T %v, we with %T %v", i, w.err, w.err, g.err, g.err)
			}
			return
		case g.err != nil:
			t.Fatalf("message %d: the SDK accepts, we fail: %v\nstream: %q", i, g.err, clip(stream))
		default:
			if d := diffEvents(w.v, g.v); d != "" {
				t.Fatalf("message %d: %s\nstream: %q", i, d, clip(stream))
			}
		}
	}
}

// genStream builds a stream of n generated events (no initial response:
// the SDK reads that with DeserializeInitialResponse).
func genStream(rng *rand.Rand, n int, o genOptions) []byte {
	o.event = true
	var b []byte
	for range n {
		b = append(b, eventMessage(genResponse(rng, o))...)
	}
	return b
}

var edgeEventPayloads = []string{
	``, `{}`, `null`, ` {} `, `{"Records":[]}`, `{"Records":null}`, `[]`, `{"ContinuationSequenceNumber":null}`,
	`{"ContinuationSequenceNumber":"1","MillisBehindLatest":0,"Records":[],"ChildShards":[{"ShardId":"shardId-000000000001","ParentShards":["shardId-000000000000"],"HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"1"}}]}`,
	`{"NextShardIterator":"x","ContinuationSequenceNumber":"7"}`,
	`{"Records":[{"Data":"AAEC/w==","PartitionKey":"k","SequenceNumber":"1","ApproximateArrivalTimestamp":1.7e9,"EncryptionType":"KMS"}]}`,
	`{"Records":[{"Data":"AAE"}]}`, `{"MillisBehindLatest":1.5}`, `{} trailing`, `{"a":1}{"b":2}`,
	// Escapes in Data (see edgeBodies): the optimistic parse is wrong,
	// the strict one answers.
	`{"Records":[{"Data":"QUJ\","PartitionKey":"k"}],"ContinuationSequenceNumber":"1"}`,
	`{"Records":[{"Data":"QUJD"},{"Data":"AAEC\/w=="}],"ContinuationSequenceNumber":"1"}`,
}

func TestEventDecodeMatchesSDKOnEdgeCases(t *testing.T) {
	for _, p := range edgeEventPayloads {
		checkStreamEquivalent(t, eventMessage([]byte(p)))
	}
	for _, typ := range exceptionTypes {
		for _, p := range []string{`{"message":"m"}`, `{}`, ``, `{"message":null}`, `{"Message":"m"}`, `nope`} {
			checkStreamEquivalent(t, exceptionMessage(typ, p))
		}
	}
	// An error message, an unknown event, an unknown message type, a
	// message with no type, and an initial-response where an event belongs.
	for _, hs := range [][]eventstream.Header{
		{eventstream.StringHeader(":message-type", "error"), eventstream.StringHeader(":error-code", "InternalError"), eventstream.StringHeader(":error-message", "boom")},
		{eventstream.StringHeader(":message-type", "event"), eventstream.StringHeader(":event-type", "SomethingNew")},
		{eventstream.StringHeader(":message-type", "surprise")},
		{},
		{eventstream.StringHeader(":message-type", "event"), eventstream.StringHeader(":event-type", "initial-response")},
		{{Name: ":message-type", Type: eventstream.TypeBytes, Value: []byte("event")}, eventstream.StringHeader(":event-type", "SubscribeToShardEvent")},
		{eventstream.StringHeader(":message-type", "exception"), eventstream.StringHeader(":message-type", "event"), eventstream.StringHeader(":event-type", "SubscribeToShardEvent")},
	} {
		checkStreamEquivalent(t, eventstream.AppendMessage(nil, hs, []byte(`{"Records":[]}`)))
	}
}

// TestEventDecodeMatchesSDKOnGeneratedStreams is the differential test:
// the same bytes through the SDK's event-stream unmarshaller and ours,
// deeply equal events — records with binary data, partition keys,
// sequence numbers, encryption types and arrival timestamps,
// ContinuationSequenceNumber, MillisBehindLatest, ChildShards — and, at
// the end of some streams, one exception of every type.
func TestEventDecodeMatchesSDKOnGeneratedStreams(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	events, sdkEvents := 0, 0
	for i := range 300 {
		o := genOptions{maxRecords: 20, maxData: 3000, edgy: i%3 == 0}
		n := 1 + rng.IntN(5)
		stream := genStream(rng, n, o)
		if i%4 == 0 {
			stream = append(stream, exceptionMessage(exceptionTypes[i/4%len(exceptionTypes)], `{"message":"gone"}`)...)
		}
		checkStreamEquivalent(t, stream)
		events += n
		want, _ := sdkAll(stream)
		for _, w := range want {
			if w.err == nil {
				sdkEvents++
			}
		}
	}
	// Most generated events are valid; the edgy ones are sometimes not.
	d := New()
	fastAllWith(d, genStream(rng, 50, genOptions{maxRecords: 20, maxData: 3000}))
	if st := d.Stats(); st.Events != 50 || st.SDKFallbacks != 0 || st.Records == 0 {
		t.Fatalf("valid events are not all decoded by the fast path: %+v", st)
	}
	if sdkEvents < events*3/4 {
		t.Fatalf("only %d of %d generated events are valid: the generator is off", sdkEvents, events)
	}
	t.Logf("%d events compared, %d of them valid", events, sdkEvents)
}

func TestEventDecodeRejectsCorruption(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 2))
	msg := genStream(rng, 1, genOptions{maxRecords: 3, maxData: 50})
	if _, err := DecodeEvent(nil); err == nil {
		t.Fatal("an empty payload decodes")
	}
	for i := range msg {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(msg)
			bad[i] ^= flip
			res := fastAll(bad)
			if res[0].err == nil {
				t.Fatalf("byte %d ^ %#x: corrupted message decodes", i, flip)
			}
			if i >= 8 && i < 12 || i >= len(msg)-4 {
				var ce *eventstream.ChecksumError
				if !errors.As(res[0].err, &ce) {
					t.Fatalf("byte %d ^ %#x (a CRC): error %v is not a ChecksumError", i, flip, res[0].err)
				}
			}
		}
	}
	// Cut short anywhere: an error, never an event.
	for n := 1; n < len(msg); n++ {
		if res := fastAll(msg[:n]); res[0].err == nil || res[0].err == io.EOF {
			t.Fatalf("a message cut to %d bytes reads as %v", n, res[0].err)
		}
	}
}

// TestEventErrorsAreTheSDKsTypes checks that a caller can errors.As an
// exception event on the SDK's own types, through a real client.
func TestEventErrorsAreTheSDKsTypes(t *testing.T) {
	var riu *types.ResourceInUseException
	stream := append(initialResponse(), exceptionMessage("ResourceInUseException", `{"message":"in use"}`)...)
	for _, fast := range []bool{false, true} {
		evs, err := subscribeThroughClient(t, stream, fast)
		if len(evs) != 0 || !errors.As(err, &riu) || riu.ErrorMessage() != "in use" {
			t.Fatalf("fast %v: events %d, err %T %v", fast, len(evs), err, err)
		}
	}
}

// subscribeThroughClient answers a SubscribeToShard call of a real client
// with stream and drains its events.
func subscribeThroughClient(t *testing.T, stream []byte, fast bool) ([]types.SubscribeToShardEventStream, error) {
	t.Helper()
	ctx := context.WithValue(context.Background(), bodyKey{}, stream)
	opt := SDKSubscribeToShardOption
	if fast {
		opt = New().SubscribeToShardOption
	}
	out, err := memClient.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
		ConsumerARN:      aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:1"),
		ShardId:          aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon},
	}, opt)
	if err != nil {
		return nil, err
	}
	es := out.GetStream()
	defer es.Close()
	var evs []types.SubscribeToShardEventStream
	for ev := range es.Events() {
		evs = append(evs, ev)
	}
	return evs, es.Err()
}

// TestSubscribeToShardOptionThroughClient runs a whole stream through a
// real *kinesis.Client with each decoder: the Events() channels yield
// deeply equal SDK values.
func TestSubscribeToShardOptionThroughClient(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 3))
	stream := append(initialResponse(), genStream(rng, 30, genOptions{maxRecords: 50, maxData: 2000})...)
	sdk, sdkErr := subscribeThroughClient(t, stream, false)
	fast, fastErr := subscribeThroughClient(t, stream, true)
	if sdkErr != nil || fastErr != nil {
		t.Fatalf("errors: SDK %v, ours %v", sdkErr, fastErr)
	}
	if len(sdk) != 30 || len(fast) != 30 {
		t.Fatalf("events: SDK %d, ours %d, want 30", len(sdk), len(fast))
	}
	for i := range sdk {
		w := sdk[i].(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
		g, ok := fast[i].(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
		if !ok {
			t.Fatalf("event %d is a %T", i, fast[i])
		}
		if d := diffEvents(&w.Value, &g.Value); d != "" {
			t.Fatalf("event %d: %s", i, d)
		}
	}
	// Without an initial-response the SDK fails the call; so do we.
	for _, f := range []bool{false, true} {
		if _, err := subscribeThroughClient(t, genStream(rng, 1, genOptions{maxRecords: 1}), f); err == nil || !strings.Contains(err.Error(), "initial") {
			t.Fatalf("fast %v: no initial-response: err %v", f, err)
		}
	}
}
