// Package fastdecode decodes Kinesis GetRecords responses and
// SubscribeToShard event streams faster than the AWS SDK's generic
// deserializers, into exactly the values the SDK would produce, and
// installs itself in a *kinesis.Client for those two calls only.
//
// What it owns:
//
//   - Decode: a two-pass decoder over a response body. The first pass is a
//     validating JSON scanner that records where each record's fields are
//     (and finds the end of long base64 strings with bytes.IndexByte,
//     trusting the first quote: base64 has no escapes, and when a Data
//     string does hold one, the base64 decoding fails and the body is
//     parsed again strictly; see parser.run); the second allocates every
//     output exactly once per response — one buffer holding all record
//     data, one holding all strings, one array for the records, one for the
//     pointed-to strings and one for the timestamps — and base64-decodes
//     straight into the data buffer. Records' Data are slices of that
//     buffer with their capacity clipped.
//   - Decoder.Option: a per-operation option (func(*kinesis.Options)) that
//     swaps the SDK's "OperationDeserializer" middleware of a GetRecords
//     call for ours. Ours handles 2xx responses and hands everything else
//     (non-2xx, transport errors) to the SDK's own middleware, so error codes
//     and types, retries, throttling and response metadata are the SDK's.
//   - Body reading into pooled buffers, and salvaging a response that
//     arrived whole but whose last read failed (see Stats.Salvaged).
//   - RequestBodyFix: a request-side option (installed by Decoder.Option,
//     usable alone) that closes a race between net/http's write loop and
//     the SDK's request body, which otherwise cuts large responses short
//     and makes the SDK fetch them again (see requestbody.go).
//   - SubscribeToShard: DecodeEvent decodes a SubscribeToShardEvent's
//     JSON payload with the same two passes (ContinuationSequenceNumber in
//     NextShardIterator's place), and Decoder.SubscribeToShardOption wraps
//     a client's protocol so its event stream is read by
//     internal/eventstream (lengths and CRCs checked) and decoded by
//     DecodeEvent; exceptions and anything else go to a fresh instance of
//     the SDK's protocol on the same bytes. SDKSubscribeToShardOption is
//     the switch back, with a protocol per call (the SDK's shared one is a
//     data race between concurrent subscriptions).
//     GatedSubscribeToShardOption adds a Gate: before a message's body is
//     read, the gate admits what reading and decoding it holds (gate.go),
//     and is told what the decoded event keeps.
//
// Equivalence with the SDK is the contract: for every body the SDK decodes,
// Decode yields a deeply equal output; for every body the SDK rejects,
// Decode returns an error. The differential and fuzz tests check this
// against the SDK itself (for events: TestEventDecodeMatchesSDKOnGeneratedStreams,
// FuzzEventStream, FuzzEventPayload, FuzzEventHeaders; there, one more
// difference: a stream cut inside a message is an error, where the SDK's
// reader ends as at a clean end). Two deliberate differences, both on input no
// Kinesis endpoint sends: a timestamp of "NaN" makes the SDK panic
// (big.NewFloat(NaN)) where Decode returns an error; and when the
// middleware's own decoder rejects a body it re-runs the SDK's deserializer
// on the same bytes (counted in Stats.SDKFallbacks), so a caller always sees
// the SDK's own error.
//
// What it must not do: import anything of Shardwise's above internal/, keep
// any reference to a response body after Decode returns (bodies live in
// pooled buffers), or hand out memory that a later response may overwrite.
package fastdecode
