package fastdecode

import (
	"fmt"
	"math"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// DecodeEvent decodes the JSON payload of a SubscribeToShardEvent message
// into the event the SDK's event-stream unmarshaller would produce, or
// returns an error where the SDK's would. Records are decoded exactly as
// in Decode (the payload carries the same Record shape as a GetRecords
// response); ContinuationSequenceNumber takes NextShardIterator's place.
//
// The event shares no memory with payload, which the caller may reuse at
// once.
func DecodeEvent(payload []byte) (ev *types.SubscribeToShardEvent, err error) {
	if len(payload) > math.MaxInt32 {
		return nil, fmt.Errorf("shardwise: event payload of %d bytes is too large", len(payload))
	}
	defer func() {
		if r := recover(); r != nil {
			ev, err = nil, fmt.Errorf("shardwise: internal error: %v", r)
		}
	}()
	return decodeEvent(payload)
}

func decodeEvent(payload []byte) (*types.SubscribeToShardEvent, error) {
	if len(payload) == 0 {
		// The SDK's JSON deserializer finds no '{' in an empty payload.
		return nil, &SyntaxError{Msg: "empty event payload"}
	}
	p := parserPool.Get().(*parser)
	defer p.release()
	p.b, p.next, p.nextKey = payload, absent, "ContinuationSequenceNumber"
	out, err := p.run()
	if err != nil {
		return nil, err
	}
	return &types.SubscribeToShardEvent{
		ContinuationSequenceNumber: out.NextShardIterator,
		MillisBehindLatest:         out.MillisBehindLatest,
		Records:                    out.Records,
		ChildShards:                out.ChildShards,
	}, nil
}
