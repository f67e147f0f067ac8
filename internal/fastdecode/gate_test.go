package fastdecode

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
)

// testGate records what the reader tells it and refuses the message
// numbered refuse (1-based; 0 refuses none).
type testGate struct {
	admitted, decoded []int
	refuse            int
	err               error
}

func (g *testGate) Admit(n int) error {
	g.admitted = append(g.admitted, n)
	if len(g.admitted) == g.refuse {
		return g.err
	}
	return nil
}

func (g *testGate) Decoded(n int) { g.decoded = append(g.decoded, n) }

// The gate is told, before a message's body is read and in stream order,
// the most reading and decoding it holds, then what its event keeps (its
// records' data); an error from it ends the stream with that error,
// nothing of the message's body read.
func TestGatedSubscribeToShardOption(t *testing.T) {
	msgs := [][]byte{
		eventMessage([]byte(`{"Records":[],"ContinuationSequenceNumber":"1","MillisBehindLatest":0}`)),
		eventMessage([]byte(`{"Records":[{"Data":"aGVsbG8=","PartitionKey":"k","SequenceNumber":"2"}],"ContinuationSequenceNumber":"2","MillisBehindLatest":0}`)),
		eventMessage([]byte(`{"Records":[],"ContinuationSequenceNumber":"3","MillisBehindLatest":0}`)),
	}
	g := &testGate{refuse: 3, err: errors.New("no room")}
	opt := New().GatedSubscribeToShardOption(g)
	var o kinesis.Options
	opt(&o)
	opt(&o) // given twice: still one gate, called once a message
	r := bytes.NewReader(bytes.Join(msgs, nil))
	for i := range 2 {
		if _, err := o.Protocol.DeserializeEventMessage(schemas.SubscribeToShardEventStream, kinesis.TypeRegistry, r); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if _, err := o.Protocol.DeserializeEventMessage(schemas.SubscribeToShardEventStream, kinesis.TypeRegistry, r); !errors.Is(err, g.err) {
		t.Fatalf("third message with the gate closed: %v, want the gate's error", err)
	}
	want := []int{messageCost(len(msgs[0])), messageCost(len(msgs[1])), messageCost(len(msgs[2]))}
	if fmt.Sprint(g.admitted) != fmt.Sprint(want) {
		t.Fatalf("gate admitted %v, want %v", g.admitted, want)
	}
	if want := []int{0, len("hello")}; fmt.Sprint(g.decoded) != fmt.Sprint(want) {
		t.Fatalf("gate told of decoded events keeping %v, want %v", g.decoded, want)
	}
	if rest := r.Len(); rest != len(msgs[2])-12 {
		t.Fatalf("%d bytes left after the refused message, want its body (%d)", rest, len(msgs[2])-12)
	}
}

// recordsEvent is an event message of n records of size bytes each.
func recordsEvent(n, size int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"Records":[`)
	data := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'x'}, size))
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"Data":"%s","PartitionKey":"key-%d","SequenceNumber":"4959033827149025660855969253836157109592157598913658%04d","ApproximateArrivalTimestamp":1.7e9}`, data, i, i)
	}
	sb.WriteString(`],"ContinuationSequenceNumber":"2","MillisBehindLatest":0}`)
	return eventMessage([]byte(sb.String()))
}

// What the gate admits for a message bounds everything our decoder
// allocates to read and decode it, garbage included, so a byte budget that
// admits it holds the decode's memory too. Allocations are measured with
// the message's buffer allocated afresh (the worst case; a small one may
// still come from another P's pool, but the 10 MB case's free list is
// drained for sure). The parser's
// scratch memory (about 260 bytes a record, pooled apart and reused) is in
// the measure as well but matters only for small records, whose decoded
// records alone take up to 1.3 times the message (1-byte records): the
// cases start at 1 KB, where it cannot tip the comparison whether the
// parser comes warm from its pool or not (the race detector drops pooled
// items at random, and a pooled parser is only found again on the same P).
func TestGatedReadAllocatesWithinTheAdmittedCost(t *testing.T) {
	for _, c := range []struct{ n, size int }{{1000, 1 << 10}, {10000, 1 << 10}, {20, 100 << 10}, {1, 1 << 20}, {1, 10 << 20}} {
		msg := recordsEvent(c.n, c.size)
		g := &testGate{}
		var o kinesis.Options
		New().GatedSubscribeToShardOption(g)(&o)
		drainBuffers()
		g.admitted, g.decoded = nil, nil
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
	}
}

// drainBuffers empties the buffer pools: the large buffers' free lists
// and the small ones' sync.Pools.
func drainBuffers() {
	for i := range bigFree {
		for len(bigFree[i]) > 0 {
			<-bigFree[i]
		}
	}
	for i := range bodyPools {
		for bodyPools[i].Get() != nil {
		}
	}
}
