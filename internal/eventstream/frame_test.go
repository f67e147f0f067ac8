package eventstream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"testing"

	sdkes "github.com/aws/smithy-go/eventstream"
)

// sdkEncode encodes with the SDK's own encoder, the reference.
func sdkEncode(t *testing.T, hs sdkes.Headers, payload []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := sdkes.NewEncoder().Encode(&b, sdkes.Message{Headers: hs, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestAppendMessageMatchesTheSDKsEncoder(t *testing.T) {
	ours := AppendMessage(nil, []Header{StringHeader(":event-type", "SubscribeToShardEvent"), StringHeader(":message-type", "event")}, []byte(`{"Records":[]}`))
	var hs sdkes.Headers
	hs.Set(":event-type", sdkes.StringValue("SubscribeToShardEvent"))
	hs.Set(":message-type", sdkes.StringValue("event"))
	if want := sdkEncode(t, hs, []byte(`{"Records":[]}`)); !bytes.Equal(ours, want) {
		t.Fatalf("ours %x\nSDK  %x", ours, want)
	}
}

// TestReaderReadsEveryHeaderType reads a message the SDK encoded with a
// header of every value type, then a second message, then the clean end.
func TestReaderReadsEveryHeaderType(t *testing.T) {
	var hs sdkes.Headers
	hs.Set("t", sdkes.BoolValue(true))
	hs.Set("f", sdkes.BoolValue(false))
	hs.Set("i8", sdkes.Int8Value(-3))
	hs.Set("i16", sdkes.Int16Value(300))
	hs.Set("i32", sdkes.Int32Value(70000))
	hs.Set("i64", sdkes.Int64Value(1<<40))
	hs.Set("b", sdkes.BytesValue([]byte{0, 1, 2}))
	hs.Set("s", sdkes.StringValue("hello"))
	hs.Set("ts", sdkes.TimestampValue{})
	hs.Set("u", sdkes.UUIDValue{1, 2, 3})
	hs.Set("", sdkes.StringValue("empty name"))
	stream := append(sdkEncode(t, hs, []byte("payload")), sdkEncode(t, nil, nil)...)
	rd := NewReader(bytes.NewReader(stream))
	m, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []byte{TypeTrue, TypeFalse, TypeInt8, TypeInt16, TypeInt32, TypeInt64, TypeBytes, TypeString, TypeTimestamp, TypeUUID, TypeString}
	wantLens := []int{0, 0, 1, 2, 4, 8, 3, 5, 8, 16, 10}
	if len(m.Headers) != len(wantTypes) || string(m.Payload) != "payload" {
		t.Fatalf("%d headers, payload %q", len(m.Headers), m.Payload)
	}
	for i, h := range m.Headers {
		if h.Name != hs[i].Name || h.Type != wantTypes[i] || len(h.Value) != wantLens[i] {
			t.Fatalf("header %d: %+v", i, h)
		}
	}
	if s, ok := m.String("s"); !ok || s != "hello" {
		t.Fatalf("String(s) = %q, %v", s, ok)
	}
	if _, ok := m.String("i8"); ok {
		t.Fatal("String of a non-string header")
	}
	if m, err := rd.Next(); err != nil || len(m.Headers) != 0 || m.Payload != nil {
		t.Fatalf("empty message: %+v, %v", m, err)
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// reframe rewrites a message's prelude lengths and both CRCs, so only
// the lengths are wrong.
func reframe(msg []byte, total, headers uint32) []byte {
	b := bytes.Clone(msg)
	binary.BigEndian.PutUint32(b[0:], total)
	binary.BigEndian.PutUint32(b[4:], headers)
	binary.BigEndian.PutUint32(b[8:], crc32.ChecksumIEEE(b[:8]))
	binary.BigEndian.PutUint32(b[len(b)-4:], crc32.ChecksumIEEE(b[:len(b)-4]))
	return b
}

func TestReaderRejects(t *testing.T) {
	msg := AppendMessage(nil, []Header{StringHeader(":message-type", "event")}, []byte("{}"))
	hl := uint32(len(msg) - 16 - 2)
	for name, c := range map[string]struct {
		b    []byte
		want error
	}{
		"prelude CRC": {append([]byte{0, 0, 0, 16, 0, 0, 0, 0, 1, 2, 3, 4}, 0, 0, 0, 0), &ChecksumError{}},
		"message CRC": {append(bytes.Clone(msg[:len(msg)-1]), msg[len(msg)-1]^1), &ChecksumError{}},
		// A corrupted length is caught by the prelude CRC before the
		// reader waits for (or allocates) bytes that will never come.
		"length bit":           {func() []byte { b := bytes.Clone(msg); b[2] ^= 1; return b }(), &ChecksumError{}},
		"payload bit":          {func() []byte { b := bytes.Clone(msg); b[len(b)-5] ^= 4; return b }(), &ChecksumError{}},
		"total below 16":       {reframe(msg, 15, 0)[:12], ErrMalformed},
		"headers past message": {reframe(msg, uint32(len(msg)), uint32(len(msg))), ErrMalformed},
		"header cut":           {reframe(msg, uint32(len(msg)), hl-1), ErrMalformed},
		"unknown header type":  {AppendMessage(nil, []Header{{Name: "x", Type: 10}}, nil), ErrMalformed},
		"cut short":            {msg[:len(msg)-1], io.ErrUnexpectedEOF},
		"prelude cut":          {msg[:5], io.ErrUnexpectedEOF},
	} {
		_, err := NewReader(bytes.NewReader(c.b)).Next()
		var ce *ChecksumError
		if _, isCRC := c.want.(*ChecksumError); isCRC && !errors.As(err, &ce) || !isCRC && !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", name, err, c.want)
		}
	}
	if _, err := NewReader(bytes.NewReader(msg)).Next(); err != nil {
		t.Fatalf("the unbroken message: %v", err)
	}
}
