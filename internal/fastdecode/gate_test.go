package fastdecode

import (
	"bytes"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
)

// The gate sees every message's whole length before its body is read,
// in stream order; an error from it ends the stream with that error,
// nothing of the message's body read.
func TestGatedSubscribeToShardOption(t *testing.T) {
	msgs := [][]byte{
		eventMessage([]byte(`{"Records":[],"ContinuationSequenceNumber":"1","MillisBehindLatest":0}`)),
		eventMessage([]byte(`{"Records":[{"Data":"aGVsbG8=","PartitionKey":"k","SequenceNumber":"2"}],"ContinuationSequenceNumber":"2","MillisBehindLatest":0}`)),
		eventMessage([]byte(`{"Records":[],"ContinuationSequenceNumber":"3","MillisBehindLatest":0}`)),
	}
	stop := errors.New("no room")
	var seen []int
	opt := New().GatedSubscribeToShardOption(func(n int) error {
		seen = append(seen, n)
		if len(seen) == 3 {
			return stop
		}
		return nil
	})
	var o kinesis.Options
	opt(&o)
	opt(&o) // given twice: still one gate, called once a message
	r := bytes.NewReader(bytes.Join(msgs, nil))
	for i := range 2 {
		if _, err := o.Protocol.DeserializeEventMessage(schemas.SubscribeToShardEventStream, kinesis.TypeRegistry, r); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if _, err := o.Protocol.DeserializeEventMessage(schemas.SubscribeToShardEventStream, kinesis.TypeRegistry, r); !errors.Is(err, stop) {
		t.Fatalf("third message with the gate closed: %v, want the gate's error", err)
	}
	if len(seen) != 3 || seen[0] != len(msgs[0]) || seen[1] != len(msgs[1]) || seen[2] != len(msgs[2]) {
		t.Fatalf("gate saw %v, want the messages' lengths %d, %d, %d", seen, len(msgs[0]), len(msgs[1]), len(msgs[2]))
	}
	if rest := r.Len(); rest != len(msgs[2])-12 {
		t.Fatalf("%d bytes left after the refused message, want its body (%d)", rest, len(msgs[2])-12)
	}
}
