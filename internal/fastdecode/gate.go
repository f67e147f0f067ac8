package fastdecode

import (
	"math/bits"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// Gate holds what the reader of one SubscribeToShard event stream reads
// ahead within a byte budget (GatedSubscribeToShardOption). The stream's
// reader calls it from its one goroutine, message by message, in stream
// order: Admit before it reads a message's body, then, once the message
// is decoded, Decoded.
type Gate interface {
	// Admit is called with the most memory reading and decoding the next
	// message will hold, in bytes (its length is known from its prelude,
	// nothing of its body is read yet); the reader reads on only once it
	// returns nil. An error ends the stream with that error.
	Admit(n int) error
	// Decoded is called once the message admitted last is decoded, with
	// what its value keeps: the bytes of its records' data (0 for any
	// other message). The rest of what Admit was told is free again.
	Decoded(n int)
}

// messageCost is what Admit is told for a message of n bytes decoded by
// Shardwise's decoder: the pooled buffer it is read into (n rounded up to
// the buffer's size class) and the decoded records, which take up to about
// 1.3 times the message for 1-byte records and less from a few hundred
// bytes up (base64 is 4/3 of the data; the parser's scratch memory is
// pooled apart; TestGatedReadAllocatesWithinTheAdmittedCost).
func messageCost(n int) int { return bufferCap(n) + n + n/2 }

// bufferCap is the capacity getBuffer gives a buffer for n bytes.
func bufferCap(n int) int {
	c := max(minClass, bits.Len(uint(max(n, 1)-1)))
	if c > maxClass {
		return n
	}
	return 1 << c
}

// keptBytes is what a decoded message's value keeps: its records' data.
func keptBytes(v smithy.Deserializable) int {
	ev, ok := v.(*types.SubscribeToShardEvent)
	if !ok {
		return 0
	}
	n := 0
	for i := range ev.Records {
		n += len(ev.Records[i].Data)
	}
	return n
}
