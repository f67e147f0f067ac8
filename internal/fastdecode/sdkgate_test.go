package fastdecode

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"

	"github.com/shardwise/shardwise/internal/racebuild"
)

// The SDK's decoder behind a gate: the gate is told, before a message's
// body is read and in stream order, what the SDK's decoding of it
// allocates at most, then what its event keeps; an error from it ends the
// stream with that error, nothing of the message past its prelude read.
func TestSDKGatedSubscribeToShardOption(t *testing.T) {
	msgs := [][]byte{
		eventMessage([]byte(`{"Records":[],"ContinuationSequenceNumber":"1","MillisBehindLatest":0}`)),
		eventMessage([]byte(`{"Records":[{"Data":"aGVsbG8=","PartitionKey":"k","SequenceNumber":"2"}],"ContinuationSequenceNumber":"2","MillisBehindLatest":0}`)),
		eventMessage([]byte(`{"Records":[],"ContinuationSequenceNumber":"3","MillisBehindLatest":0}`)),
	}
	g := &testGate{refuse: 3, err: errors.New("no room")}
	var o kinesis.Options
	SDKGatedSubscribeToShardOption(g)(&o)
	if _, ok := o.Protocol.(*sdkGatedProtocol); !ok {
		t.Fatalf("protocol is %T, want the SDK's behind a gate", o.Protocol)
	}
	r := bytes.NewReader(bytes.Join(msgs, nil))
	for i := range 2 {
		if _, err := o.Protocol.DeserializeEventMessage(schemas.SubscribeToShardEventStream, kinesis.TypeRegistry, r); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if _, err := o.Protocol.DeserializeEventMessage(schemas.SubscribeToShardEventStream, kinesis.TypeRegistry, r); !errors.Is(err, g.err) {
		t.Fatalf("third message with the gate closed: %v, want the gate's error", err)
	}
	want := []int{sdkMessageCost(len(msgs[0])), sdkMessageCost(len(msgs[1])), sdkMessageCost(len(msgs[2]))}
	if fmt.Sprint(g.admitted) != fmt.Sprint(want) {
		t.Fatalf("gate admitted %v, want %v", g.admitted, want)
	}
	if want := []int{0, len("hello")}; fmt.Sprint(g.decoded) != fmt.Sprint(want) {
		t.Fatalf("gate told of decoded events keeping %v, want %v", g.decoded, want)
	}
	if rest := r.Len(); rest != len(msgs[2])-12 {
		t.Fatalf("%d bytes left after the refused message, want its body (%d)", rest, len(msgs[2])-12)
	}

	// On a client that decodes with ours, the gate goes to ours; a nil
	// gate is the plain SDK option.
	var mine kinesis.Options
	New().SubscribeToShardOption(&mine)
	SDKGatedSubscribeToShardOption(g)(&mine)
	if ep, ok := mine.Protocol.(*eventProtocol); !ok || ep.gate != g {
		t.Fatalf("on a client with our decoder: protocol %T, want ours with the gate", mine.Protocol)
	}
	var plain kinesis.Options
	SDKGatedSubscribeToShardOption(nil)(&plain)
	if _, ok := plain.Protocol.(*sdkGatedProtocol); ok || plain.Protocol == nil {
		t.Fatalf("a nil gate: protocol %T, want the SDK's own", plain.Protocol)
	}
}

// The gate changes nothing of what the SDK's decoder yields: message by
// message, the same values and the same errors, on generated streams,
// edge payloads, exceptions, and streams corrupted or cut anywhere
// (preludes cut short or failing their checks included).
func TestSDKGatedMatchesTheSDK(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 3))
	var streams [][]byte
	for i := range 60 {
		s := genStream(rng, 1+rng.IntN(4), genOptions{maxRecords: 10, maxData: 2000, edgy: i%3 == 0})
		if i%4 == 0 {
			s = append(s, exceptionMessage(exceptionTypes[i/4%len(exceptionTypes)], `{"message":"gone"}`)...)
		}
		streams = append(streams, s)
	}
	for _, p := range edgeEventPayloads {
		streams = append(streams, eventMessage([]byte(p)))
	}
	two := genStream(rng, 2, genOptions{maxRecords: 3, maxData: 50})
	for i := range two {
		for _, flip := range []byte{0x01, 0xff} {
			bad := bytes.Clone(two)
			bad[i] ^= flip
			streams = append(streams, bad)
		}
		streams = append(streams, two[:i])
	}
	for i, s := range streams {
		want, wantPanic := sdkAll(s)
		got, gotPanic := gatedSDKAll(s)
		if (wantPanic == nil) != (gotPanic == nil) {
			t.Fatalf("stream %d: the SDK panics: %v, behind the gate: %v", i, wantPanic, gotPanic)
		}
		if len(want) != len(got) {
			t.Fatalf("stream %d: the SDK reads %d messages, behind the gate %d: %q", i, len(want), len(got), clip(s))
		}
		for j := range want {
			if !reflect.DeepEqual(want[j].v, got[j].v) || fmt.Sprint(want[j].err) != fmt.Sprint(got[j].err) {
				t.Fatalf("stream %d message %d: the SDK gives %T %v, behind the gate %T %v: %q", i, j, want[j].v, want[j].err, got[j].v, got[j].err, clip(s))
			}
		}
	}
}

func gatedSDKAll(stream []byte) (res []result, panicked any) {
	defer func() { panicked = recover() }()
	var o kinesis.Options
	SDKGatedSubscribeToShardOption(&testGate{})(&o)
	return readAll(o.Protocol, stream), nil
}

// What the gate admits for a message bounds everything the SDK's decoder
// allocates to read and decode it, garbage included, for records of 1 KB
// and more. Not under the race detector, with which the SDK's decoding
// allocates up to half as much again.
func TestSDKGatedReadAllocatesWithinTheAdmittedCost(t *testing.T) {
	if racebuild.Enabled {
		t.Skip("the race detector changes the SDK's allocations")
	}
	for _, c := range []struct{ n, size int }{{1000, 1 << 10}, {10000, 1 << 10}, {20, 100 << 10}, {1, 1 << 20}, {1, 10 << 20}} {
		msg := recordsEvent(c.n, c.size)
		g := &testGate{}
		var o kinesis.Options
		SDKGatedSubscribeToShardOption(g)(&o)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		v, err := o.Protocol.DeserializeEventMessage(schemas.SubscribeToShardEventStream, kinesis.TypeRegistry, bytes.NewReader(msg))
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		runtime.KeepAlive(v)
		alloc := after.TotalAlloc - before.TotalAlloc
		if len(g.admitted) != 1 || alloc > uint64(g.admitted[0]) {
			t.Errorf("%d records of %d bytes (message %d bytes): admitted %v, allocated %d", c.n, c.size, len(msg), g.admitted, alloc)
		}
		if len(g.decoded) != 1 || g.decoded[0] != c.n*c.size {
			t.Errorf("%d records of %d bytes: decoded %v, want %d", c.n, c.size, g.decoded, c.n*c.size)
		}
		t.Logf("%d records of %d bytes: allocated %.2f times the message", c.n, c.size, float64(alloc)/float64(len(msg)))
	}
}
