package fastdecode

import (
	"bytes"
	"errors"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"

	"github.com/shardwise/shardwise/internal/eventstream"
)

// SubscribeToShardOption is Default.SubscribeToShardOption: pass it to
// SubscribeToShard of any *kinesis.Client (or to kinesis.New, for every
// call of the client):
//
//	out, err := client.SubscribeToShard(ctx, in, fastdecode.SubscribeToShardOption)
//	for ev := range out.GetStream().Events() { ... } // the SDK's own types
func SubscribeToShardOption(o *kinesis.Options) { Default.SubscribeToShardOption(o) }

// SubscribeToShardOption is an option for (*kinesis.Client).SubscribeToShard
// that decodes the response's event stream with Shardwise's own decoder:
// the event-stream framing by internal/eventstream (lengths and both CRCs
// checked), SubscribeToShardEvent payloads by DecodeEvent. The stream's
// Events() channel yields the SDK's own
// *types.SubscribeToShardEventStreamMemberSubscribeToShardEvent values, and
// its Err() the SDK's own typed errors, so a caller cannot tell the
// decoders apart but by the CPU they use.
//
// It wraps the client's protocol (kinesis.Options.Protocol), whose
// event-stream hooks the SDK's SubscribeToShard calls; every other
// operation, the request and error responses go through the SDK's protocol
// untouched. Exception and error messages, unknown event types and
// payloads the fast path rejects are handed, after our framing checks, to
// a fresh instance of the SDK's own protocol, so their errors and values
// are the SDK's by construction.
//
// Given twice, it wraps once. Safe for concurrent subscriptions: unlike
// the SDK's protocol, whose one event-stream codec per client keeps state
// that concurrent subscriptions race on (see SDKSubscribeToShardOption),
// the wrapper keeps none.
func (d *Decoder) SubscribeToShardOption(o *kinesis.Options) {
	if _, ok := o.Protocol.(*eventProtocol); ok {
		return
	}
	inner := o.Protocol
	if inner == nil {
		inner = newSDKProtocol()
	}
	o.Protocol = &eventProtocol{ClientProtocol: inner, dec: d}
}

// GatedSubscribeToShardOption is SubscribeToShardOption with a gate for
// memory: before reading the body of each message of the event stream,
// the stream's reader calls gate.Admit with the most reading and decoding
// the message will hold (its buffer and the decoded records; the
// message's length is known from its prelude, so nothing of the body is
// read yet) and reads on only once Admit returns nil; an error from Admit
// ends the stream with that error. Once the message is decoded it calls
// gate.Decoded with what the decoded value keeps. A caller that admits a
// message only when a byte budget has room for it holds what the stream
// has read ahead within that budget: the rest stays in the transport,
// under HTTP/2 flow control. Make one per subscription.
func (d *Decoder) GatedSubscribeToShardOption(gate Gate) func(*kinesis.Options) {
	return func(o *kinesis.Options) {
		if ep, ok := o.Protocol.(*eventProtocol); ok {
			cp := *ep
			cp.gate = gate
			o.Protocol = &cp
			return
		}
		inner := o.Protocol
		if inner == nil {
			inner = newSDKProtocol()
		}
		o.Protocol = &eventProtocol{ClientProtocol: inner, dec: d, gate: gate}
	}
}

// SDKSubscribeToShardOption gives a SubscribeToShard call a protocol of its
// own (the SDK's awsJson 1.1, as kinesis.New sets it), so the SDK's decoder
// can run concurrent subscriptions on one client: its protocol's
// event-stream codec writes shared fields on every message, a data race
// between subscriptions of the same client that -race reports. Pass it per
// call, next to nothing else, when the SDK's decoder is chosen.
func SDKSubscribeToShardOption(o *kinesis.Options) {
	if _, ours := o.Protocol.(*eventProtocol); ours {
		return
	}
	o.Protocol = newSDKProtocol()
}

func newSDKProtocol() smithyhttp.ClientProtocol { return awsjson.New11(schemas.Kinesis_20131202) }

// eventProtocol is the SDK's protocol with Shardwise's event-stream
// decoding.
type eventProtocol struct {
	smithyhttp.ClientProtocol
	dec  *Decoder
	gate Gate // nil: none (GatedSubscribeToShardOption)
}

// readMessage reads the next message of r into a pooled buffer (the
// size classes of response bodies, whose large ones are bounded free
// lists: 64 subscriptions of 10 MB records reuse a few buffers instead of
// leaving a 14 MB one to the GC per event). The message's slices point
// into *bp, which the caller gives back with putBuffer once it has decoded
// what it keeps into memory of its own.
func readMessage(r io.Reader, gate Gate) (m eventstream.Message, bp *[]byte, err error) {
	pre, err := eventstream.ReadPrelude(r)
	if err != nil {
		return m, nil, err
	}
	if gate != nil {
		if err := gate.Admit(messageCost(pre.Len())); err != nil {
			return m, nil, err
		}
	}
	bp = getBuffer(pre.Len())
	*bp = (*bp)[:pre.Len()]
	var hs [4]eventstream.Header
	m, _, err = eventstream.ReadMessage(r, pre, *bp, hs[:0])
	return m, bp, err
}

const (
	hdrMessageType = ":message-type"
	hdrEventType   = ":event-type"
	eventEvent     = "SubscribeToShardEvent"
)

// DeserializeEventMessage reads one message of a SubscribeToShard event
// stream.
func (p *eventProtocol) DeserializeEventMessage(schema *smithy.Schema, reg *smithy.TypeRegistry, r io.Reader) (v smithy.Deserializable, err error) {
	m, bp, err := readMessage(r, p.gate)
	if err != nil {
		if bp != nil {
			putBuffer(bp)
		}
		return nil, err // io.EOF itself at a clean end
	}
	if p.gate != nil {
		// Decoded, the buffer given back: only the value's records are
		// held from here on.
		defer func() { p.gate.Decoded(keptBytes(v)) }()
	}
	defer putBuffer(bp)
	if mt, _ := m.String(hdrMessageType); mt == "event" {
		if et, _ := m.String(hdrEventType); et == eventEvent && schema == schemas.SubscribeToShardEventStream {
			ev, err := decodeEvent(m.Payload)
			if err == nil {
				p.dec.events.Add(1)
				p.dec.records.Add(int64(len(ev.Records)))
				p.dec.bytes.Add(int64(len(m.Raw)))
				return ev, nil
			}
			p.dec.fallbacks.Add(1)
		}
	}
	// Everything else — exceptions, errors, unknown events, payloads we
	// rejected — the SDK decodes from the same bytes, so the values and
	// errors are its own.
	p.dec.sdkMessages.Add(1)
	return sdkEventMessage(schema, reg, m.Raw)
}

func sdkEventMessage(schema *smithy.Schema, reg *smithy.TypeRegistry, raw []byte) (v smithy.Deserializable, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, &smithy.DeserializationError{Err: errors.New("shardwise: the SDK's event decoder panicked")}
		}
	}()
	// A fresh protocol: the SDK's codec is not safe for concurrent use,
	// and its decoded values may alias its buffers.
	v, err = newSDKProtocol().DeserializeEventMessage(schema, reg, bytes.NewReader(raw))
	if err == io.EOF {
		// A whole, checked message that the SDK reads as cut short (it
		// cannot: lengths and CRCs held); never a clean end here.
		err = io.ErrUnexpectedEOF
	}
	return v, err
}

// DeserializeInitialResponse reads the initial-response message that
// starts the stream.
func (p *eventProtocol) DeserializeInitialResponse(schema *smithy.Schema, r io.Reader, out smithy.Deserializable) error {
	m, bp, err := readMessage(r, nil)
	if bp != nil {
		defer putBuffer(bp)
	}
	if err != nil {
		return err
	}
	if et, _ := m.String(hdrEventType); et == "initial-response" && (len(m.Payload) == 0 || string(m.Payload) == "{}") && schema == schemas.SubscribeToShardOutput {
		// SubscribeToShardOutput has no members: nothing to set.
		return nil
	}
	return newSDKProtocol().DeserializeInitialResponse(schema, bytes.NewReader(m.Raw), out)
}
