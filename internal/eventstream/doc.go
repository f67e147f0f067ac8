// Package eventstream reads and writes the AWS event-stream binary framing
// that SubscribeToShard answers in: a sequence of messages, each
//
//	total length (uint32) | headers length (uint32) | prelude CRC32 |
//	headers | payload | message CRC32
//
// big-endian, with CRC32 (IEEE) over the prelude and over everything
// before the message CRC. Every length and both CRCs are checked.
//
// What it owns: framing only. A Reader hands out one whole message at a
// time — its headers parsed and validated as the AWS SDK's decoder
// validates them, its payload a slice of the Reader's buffer — and
// AppendMessage encodes one. What the payload means (JSON events,
// exceptions) is internal/fastdecode's business.
//
// Differences from the SDK's decoder (github.com/aws/smithy-go/eventstream),
// all on input no Kinesis endpoint sends: a message cut short is an error
// here (io.ErrUnexpectedEOF), where the SDK's event reader ends the stream
// as if it had ended cleanly; a prelude whose lengths do not fit together
// (total below 16 bytes, or headers longer than the message) is rejected
// at once, where the SDK goes on reading until the stream ends; and a
// message above MaxMessageSize is refused rather than buffered.
//
// What it must not do: import anything of Shardwise's, or keep a reference
// to a message after the next call of Next.
package eventstream
