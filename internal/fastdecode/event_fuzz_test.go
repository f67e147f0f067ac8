package fastdecode

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"testing"
)

// FuzzEventStream checks the contract on arbitrary event streams: our
// decoder never panics (checkStreamEquivalent runs it unrecovered);
// wherever the SDK's event-stream unmarshaller yields an event, ours
// yields a deeply equal one; wherever the SDK fails, ours fails too.
//
//	go test -run=NONE -fuzz=FuzzEventStream ./internal/fastdecode
func FuzzEventStream(f *testing.F) {
	rng := rand.New(rand.NewPCG(13, 4))
	for i := range 30 {
		f.Add(genStream(rng, 1+i%3, genOptions{maxRecords: 4, maxData: 40, edgy: i%2 == 0}))
	}
	for _, p := range edgeEventPayloads {
		f.Add(eventMessage([]byte(p)))
	}
	for _, typ := range exceptionTypes {
		f.Add(exceptionMessage(typ, `{"message":"m"}`))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		checkStreamEquivalent(t, stream)
	})
}

// FuzzEventPayload frames arbitrary payloads as SubscribeToShardEvent
// messages (so the fuzzer explores the JSON, not the CRCs), checks them
// against the SDK, then corrupts one byte of the message: a corrupted
// message must never decode.
//
//	go test -run=NONE -fuzz=FuzzEventPayload ./internal/fastdecode
func FuzzEventPayload(f *testing.F) {
	rng := rand.New(rand.NewPCG(13, 5))
	for i := range 30 {
		f.Add(genResponse(rng, genOptions{maxRecords: 4, maxData: 40, edgy: i%2 == 0, event: true}), uint32(i*7), byte(i))
	}
	for _, p := range edgeEventPayloads {
		f.Add([]byte(p), uint32(3), byte(1))
	}
	f.Fuzz(func(t *testing.T, payload []byte, at uint32, flip byte) {
		msg := eventMessage(payload)
		checkStreamEquivalent(t, msg)
		if flip == 0 {
			return
		}
		bad := bytes.Clone(msg)
		bad[int(at%uint32(len(bad)))] ^= flip
		if res := fastAll(bad); res[0].err == nil || res[0].err == io.EOF {
			t.Fatalf("a message with byte %d ^ %#x decodes (%v)", at%uint32(len(bad)), flip, res[0].err)
		}
	})
}

// rawFrame frames an arbitrary header block and payload with correct
// lengths and CRCs.
func rawFrame(headers, payload []byte) []byte {
	total := 16 + len(headers) + len(payload)
	b := binary.BigEndian.AppendUint32(nil, uint32(total))
	b = binary.BigEndian.AppendUint32(b, uint32(len(headers)))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	b = append(b, headers...)
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// FuzzEventHeaders frames arbitrary header blocks (with correct CRCs, so
// the fuzzer explores header parsing: types, lengths, repeats, the
// message and event types) around a valid or arbitrary payload, and
// checks them against the SDK.
//
//	go test -run=NONE -fuzz=FuzzEventHeaders ./internal/fastdecode
func FuzzEventHeaders(f *testing.F) {
	for _, msg := range [][]byte{
		eventMessage([]byte(`{"Records":[]}`)),
		exceptionMessage("ResourceInUseException", `{"message":"m"}`),
		initialResponse(),
	} {
		hl := binary.BigEndian.Uint32(msg[4:8])
		f.Add(bytes.Clone(msg[12:12+hl]), bytes.Clone(msg[12+hl:len(msg)-4]))
	}
	f.Fuzz(func(t *testing.T, headers, payload []byte) {
		checkStreamEquivalent(t, rawFrame(headers, payload))
	})
}
