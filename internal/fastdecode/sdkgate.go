package fastdecode

import (
	"bytes"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/shardwise/shardwise/internal/eventstream"
)

// SDKGatedSubscribeToShardOption is SDKSubscribeToShardOption (the SDK's
// decoder, a protocol of its own per call) with a Gate, as
// GatedSubscribeToShardOption gives our decoder one: before the SDK's
// decoder reads a message, the option reads the message's prelude (its
// first 12 bytes, which hold its length), asks gate.Admit for room for
// what the SDK's decoding will allocate (sdkMessageCost), and only then
// hands the SDK's decoder the prelude and the rest of the stream; once the
// message is decoded it tells gate.Decoded what the event keeps. The SDK's
// decoder reads exactly one message per call, so it sees the stream it
// would have read; a prelude that is cut short or fails its checks is
// handed over ungated, and the SDK's decoder reports it as it would have.
// A nil gate gives SDKSubscribeToShardOption.
func SDKGatedSubscribeToShardOption(gate Gate) func(*kinesis.Options) {
	return func(o *kinesis.Options) {
		if gate == nil {
			SDKSubscribeToShardOption(o)
			return
		}
		if ep, ours := o.Protocol.(*eventProtocol); ours {
			// The client decodes with ours for every call (as
			// SDKSubscribeToShardOption leaves it): gate ours.
			cp := *ep
			cp.gate = gate
			o.Protocol = &cp
			return
		}
		o.Protocol = &sdkGatedProtocol{ClientProtocol: newSDKProtocol(), gate: gate}
	}
}

// sdkMessageCost is what Admit is told for a message of n bytes decoded by
// the SDK: everything its decoding allocates, garbage included, is at most
// 5 times the message for records of 1 KB and more (its payload buffer
// grows by doubling, base64 strings are copied once unquoted before they
// are decoded; TestSDKGatedReadAllocatesWithinTheAdmittedCost). The live
// peak is less (the buffers outgrown are garbage), so this is on the safe
// side.
func sdkMessageCost(n int) int { return 5 * n }

// sdkGatedProtocol is the SDK's protocol (a fresh one, as
// SDKSubscribeToShardOption sets) behind a gate.
type sdkGatedProtocol struct {
	smithyhttp.ClientProtocol
	gate Gate
}

// DeserializeEventMessage reads the next message's prelude, waits for the
// gate, and lets the SDK's protocol decode the message.
func (p *sdkGatedProtocol) DeserializeEventMessage(schema *smithy.Schema, reg *smithy.TypeRegistry, r io.Reader) (v smithy.Deserializable, err error) {
	var pre eventstream.Prelude
	n, rerr := io.ReadFull(r, pre[:])
	if rerr == nil {
		if checked, perr := eventstream.ReadPrelude(bytes.NewReader(pre[:])); perr == nil {
			if err := p.gate.Admit(sdkMessageCost(checked.Len())); err != nil {
				return nil, err
			}
			defer func() { p.gate.Decoded(keptBytes(v)) }()
		}
	}
	// The SDK reads the prelude again from here, and exactly to the end of
	// the message from r.
	return p.ClientProtocol.DeserializeEventMessage(schema, reg, io.MultiReader(bytes.NewReader(pre[:n]), r))
}
