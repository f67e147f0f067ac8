package kpl

import "encoding/binary"

// The protobuf wire format, just as much of it as an AggregatedRecord needs.
// The helpers follow protowire's conventions (a negative length means
// malformed input) so that swapping them for
// google.golang.org/protobuf/encoding/protowire is mechanical, but they have
// single-byte fast paths because in an aggregate almost every tag, index and
// length fits in one byte.

type wireType uint8

const (
	varintType     wireType = 0
	fixed64Type    wireType = 1
	bytesType      wireType = 2
	startGroupType wireType = 3
	endGroupType   wireType = 4
	fixed32Type    wireType = 5
)

const maxFieldNumber = 1<<29 - 1

// maxGroupDepth bounds recursion when skipping nested groups, so hostile
// input cannot exhaust the stack. No KPL message uses groups at all.
const maxGroupDepth = 64

// consumeVarint decodes a base-128 varint of at most 10 bytes whose value
// fits in 64 bits.
func consumeVarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, -1
	}
	return v, n
}

// consumeTag decodes a field key. Field number 0 and wire types 6 and 7 are
// malformed, as in every protobuf runtime.
func consumeTag(b []byte) (num uint64, typ wireType, n int) {
	v, n := consumeVarint(b)
	if n < 0 {
		return 0, 0, -1
	}
	num, typ = v>>3, wireType(v&7)
	if num == 0 || num > maxFieldNumber || typ > fixed32Type {
		return 0, 0, -1
	}
	return num, typ, n
}

// consumeBytes decodes a length-delimited value and returns it as a slice of
// b.
func consumeBytes(b []byte) ([]byte, int) {
	l, n := consumeVarint(b)
	if n < 0 || l > uint64(len(b)-n) {
		return nil, -1
	}
	end := n + int(l)
	return b[n:end], end
}

// consumeFieldValue skips the value of a field whose key has already been
// consumed; it is how unknown fields are ignored.
func consumeFieldValue(num uint64, typ wireType, b []byte, depth int) int {
	switch typ {
	case varintType:
		_, n := consumeVarint(b)
		return n
	case fixed64Type:
		if len(b) < 8 {
			return -1
		}
		return 8
	case fixed32Type:
		if len(b) < 4 {
			return -1
		}
		return 4
	case bytesType:
		_, n := consumeBytes(b)
		return n
	case startGroupType:
		if depth >= maxGroupDepth {
			return -1
		}
		for off := 0; ; {
			num2, typ2, n := consumeTag(b[off:])
			if n < 0 {
				return -1
			}
			off += n
			if typ2 == endGroupType {
				if num2 != num {
					return -1
				}
				return off
			}
			n = consumeFieldValue(num2, typ2, b[off:], depth+1)
			if n < 0 {
				return -1
			}
			off += n
		}
	}
	// An end-group key with no open group.
	return -1
}

func appendTag(b []byte, num uint64, typ wireType) []byte {
	return binary.AppendUvarint(b, num<<3|uint64(typ))
}

func appendBytesField(b []byte, num uint64, v []byte) []byte {
	b = appendTag(b, num, bytesType)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendStringField(b []byte, num uint64, v string) []byte {
	b = appendTag(b, num, bytesType)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendVarintField(b []byte, num uint64, v uint64) []byte {
	b = appendTag(b, num, varintType)
	return binary.AppendUvarint(b, v)
}

// sizeVarint is the encoded length of v.
func sizeVarint(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func appendVarint(b []byte, v uint64) []byte {
	return binary.AppendUvarint(b, v)
}
