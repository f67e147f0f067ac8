package eventstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

const (
	preludeLen = 12 // total length, headers length, prelude CRC
	crcLen     = 4
	minMessage = preludeLen + crcLen

	// MaxMessageSize bounds one message. A SubscribeToShardEvent carries
	// at most a few seconds of a shard's 2 MB/s, base64-encoded; even a
	// single 10 MiB record is about 14 MiB on the wire.
	MaxMessageSize = 64 << 20
)

// Header value types, as the event-stream format numbers them.
const (
	TypeTrue byte = iota
	TypeFalse
	TypeInt8
	TypeInt16
	TypeInt32
	TypeInt64
	TypeBytes
	TypeString
	TypeTimestamp
	TypeUUID
)

// Header is one header of a message: its name, its value type and its
// value's raw bytes (for TypeBytes and TypeString without the length
// prefix; empty for TypeTrue and TypeFalse).
type Header struct {
	Name  string
	Type  byte
	Value []byte
}

// Message is one decoded message. Payload and the headers' Values are
// slices of the Reader's buffer, valid until the next call of Next.
type Message struct {
	Headers []Header
	Payload []byte
	// Raw is the whole message as it arrived, prelude and CRCs included.
	Raw []byte
}

// String returns the value of the last header named name when it is a
// string (the SDK's decoder keeps a repeated header's last value), and
// whether there was one.
func (m *Message) String(name string) (string, bool) {
	for i := len(m.Headers) - 1; i >= 0; i-- {
		if h := &m.Headers[i]; h.Name == name {
			if h.Type != TypeString {
				return "", false
			}
			return string(h.Value), true
		}
	}
	return "", false
}

// ChecksumError reports a prelude or message CRC that does not match.
type ChecksumError struct {
	Part       string // "prelude" or "message"
	Want, Have uint32
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("shardwise: event stream %s checksum mismatch: computed %08x, message says %08x", e.Part, e.Want, e.Have)
}

// ErrMalformed is matched (errors.Is) by every framing error other than a
// checksum mismatch or a read error.
var ErrMalformed = errors.New("shardwise: malformed event stream message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// Reader reads messages from a stream. It is not safe for concurrent use.
type Reader struct {
	r   io.Reader
	buf []byte
	hs  []Header
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// Reset makes the Reader read from r, keeping its buffers.
func (rd *Reader) Reset(r io.Reader) { rd.r = r }

// Next reads and checks the next message. It returns io.EOF when the
// stream ends cleanly between messages, and an error wrapping
// io.ErrUnexpectedEOF when it ends inside one.
func (rd *Reader) Next() (Message, error) {
	pre, err := ReadPrelude(rd.r)
	if err != nil {
		return Message{}, err
	}
	if cap(rd.buf) < pre.Len() {
		rd.buf = make([]byte, pre.Len())
	}
	m, hs, err := ReadMessage(rd.r, pre, rd.buf[:pre.Len()], rd.hs[:0])
	rd.hs = hs
	return m, err
}

// Prelude is a message's first 12 bytes, checked: its lengths fit
// together and its CRC matches.
type Prelude [preludeLen]byte

// Len is the length of the whole message, prelude and CRCs included.
func (p *Prelude) Len() int { return int(binary.BigEndian.Uint32(p[0:4])) }

// ReadPrelude reads and checks the prelude of the next message of r, so a
// caller knows the message's length before it finds room for it. It
// returns io.EOF when r ends before the first byte.
func ReadPrelude(r io.Reader) (Prelude, error) {
	var p Prelude
	if n, err := io.ReadFull(r, p[:]); err != nil {
		if err == io.EOF && n == 0 {
			return p, io.EOF
		}
		return p, fmt.Errorf("shardwise: read event stream prelude: %w", err)
	}
	// The CRC first: a corrupted length must not be trusted, not even to
	// wait for (or make room for) bytes that will never come.
	if sum, want := crc32.ChecksumIEEE(p[:8]), binary.BigEndian.Uint32(p[8:12]); sum != want {
		return p, &ChecksumError{Part: "prelude", Want: sum, Have: want}
	}
	total := binary.BigEndian.Uint32(p[0:4])
	if total < minMessage || total > MaxMessageSize {
		return p, malformed("total length %d is outside %d..%d", total, minMessage, MaxMessageSize)
	}
	if hl := binary.BigEndian.Uint32(p[4:8]); hl > total-minMessage {
		return p, malformed("headers length %d exceeds the message's %d", hl, total-minMessage)
	}
	return p, nil
}

// ReadMessage reads the rest of the message whose prelude ReadPrelude
// returned into buf (of length pre.Len()), checks it and parses it; the
// headers are appended to hs. The Message's slices point into buf.
func ReadMessage(r io.Reader, pre Prelude, buf []byte, hs []Header) (Message, []Header, error) {
	if len(buf) != pre.Len() {
		return Message{}, hs, fmt.Errorf("shardwise: event stream buffer of %d bytes for a message of %d", len(buf), pre.Len())
	}
	copy(buf, pre[:])
	if _, err := io.ReadFull(r, buf[preludeLen:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, hs, fmt.Errorf("shardwise: read event stream message: %w", err)
	}
	return Parse(buf, hs)
}

// Parse checks one whole message in b (exactly one) and parses it; the
// headers are appended to hs. The Message's slices point into b.
func Parse(b []byte, hs []Header) (Message, []Header, error) {
	if len(b) < minMessage {
		return Message{}, hs, malformed("message of %d bytes is shorter than %d", len(b), minMessage)
	}
	total := binary.BigEndian.Uint32(b[0:4])
	hl := binary.BigEndian.Uint32(b[4:8])
	if sum, want := crc32.ChecksumIEEE(b[:8]), binary.BigEndian.Uint32(b[8:12]); sum != want {
		return Message{}, hs, &ChecksumError{Part: "prelude", Want: sum, Have: want}
	}
	if int64(total) != int64(len(b)) {
		return Message{}, hs, malformed("total length %d, but the message has %d bytes", total, len(b))
	}
	if hl > total-minMessage {
		return Message{}, hs, malformed("headers length %d exceeds the message's %d", hl, total-minMessage)
	}
	end := len(b) - crcLen
	if sum, want := crc32.ChecksumIEEE(b[:end]), binary.BigEndian.Uint32(b[end:]); sum != want {
		return Message{}, hs, &ChecksumError{Part: "message", Want: sum, Have: want}
	}
	hb := b[preludeLen : preludeLen+hl]
	hs, err := parseHeaders(hb, hs)
	if err != nil {
		return Message{}, hs, err
	}
	m := Message{Headers: hs, Raw: b}
	if p := b[preludeLen+hl : end]; len(p) > 0 {
		m.Payload = p
	}
	return m, hs, nil
}

// fixedLen is the value length of the fixed-size types; -1 marks the
// length-prefixed ones.
var fixedLen = [...]int{TypeTrue: 0, TypeFalse: 0, TypeInt8: 1, TypeInt16: 2, TypeInt32: 4, TypeInt64: 8, TypeBytes: -1, TypeString: -1, TypeTimestamp: 8, TypeUUID: 16}

func parseHeaders(b []byte, hs []Header) ([]Header, error) {
	for i := 0; i < len(b); {
		nl := int(b[i])
		i++
		if i+nl+1 > len(b) {
			return hs, malformed("header name runs past the headers")
		}
		name := string(b[i : i+nl])
		i += nl
		typ := b[i]
		i++
		if int(typ) >= len(fixedLen) {
			return hs, malformed("header %q has unknown value type %d", name, typ)
		}
		n := fixedLen[typ]
		if n < 0 {
			if i+2 > len(b) {
				return hs, malformed("header %q value length runs past the headers", name)
			}
			n = int(binary.BigEndian.Uint16(b[i:]))
			i += 2
		}
		if i+n > len(b) {
			return hs, malformed("header %q value runs past the headers", name)
		}
		hs = append(hs, Header{Name: name, Type: typ, Value: b[i : i+n : i+n]})
		i += n
	}
	return hs, nil
}

// AppendMessage appends the encoding of one message to dst. String and
// bytes header values longer than 65535 bytes, names longer than 255
// bytes, and a Value that does not fit its Type are the caller's bug.
func AppendMessage(dst []byte, hs []Header, payload []byte) []byte {
	hl := 0
	for _, h := range hs {
		hl += 1 + len(h.Name) + 1 + len(h.Value)
		if h.Type == TypeString || h.Type == TypeBytes {
			hl += 2
		}
	}
	total := minMessage + hl + len(payload)
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(total))
	dst = binary.BigEndian.AppendUint32(dst, uint32(hl))
	dst = binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:start+8]))
	for _, h := range hs {
		dst = append(dst, byte(len(h.Name)))
		dst = append(dst, h.Name...)
		dst = append(dst, h.Type)
		if h.Type == TypeString || h.Type == TypeBytes {
			dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.Value)))
		}
		dst = append(dst, h.Value...)
	}
	dst = append(dst, payload...)
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:]))
}

// StringHeader is a TypeString header.
func StringHeader(name, value string) Header {
	return Header{Name: name, Type: TypeString, Value: []byte(value)}
}
