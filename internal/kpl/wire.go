package kpl

import "google.golang.org/protobuf/encoding/protowire"

// The protobuf wire format through protowire, with single-byte fast paths:
// in an aggregate almost every tag, index and length fits in one byte, and
// these helpers run once per field of every sub-record.

type wireType = protowire.Type

const (
	varintType     = protowire.VarintType
	fixed64Type    = protowire.Fixed64Type
	bytesType      = protowire.BytesType
	startGroupType = protowire.StartGroupType
	endGroupType   = protowire.EndGroupType
	fixed32Type    = protowire.Fixed32Type
)

// consumeVarint decodes a varint; n < 0 means malformed input.
func consumeVarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	return protowire.ConsumeVarint(b)
}

// consumeTag decodes a field key. Field number 0 and wire types 6 and 7 are
// malformed, as in every protobuf runtime.
func consumeTag(b []byte) (num uint64, typ wireType, n int) {
	if len(b) > 0 && b[0] < 0x80 {
		num, typ = uint64(b[0]>>3), wireType(b[0]&7)
		if num == 0 || typ > fixed32Type {
			return 0, 0, -1
		}
		return num, typ, 1
	}
	nm, t, n := protowire.ConsumeTag(b)
	if n < 0 || t > fixed32Type {
		return 0, 0, -1
	}
	return uint64(nm), t, n
}

// consumeBytes decodes a length-delimited value as a slice of b.
func consumeBytes(b []byte) ([]byte, int) {
	if len(b) > 0 && b[0] < 0x80 {
		end := 1 + int(b[0])
		if end > len(b) {
			return nil, -1
		}
		return b[1:end], end
	}
	return protowire.ConsumeBytes(b)
}

// consumeFieldValue skips the value of a field whose key was consumed; it
// is how unknown fields (groups included, with protowire's depth limit)
// are ignored. The depth argument is kept for the callers' convenience.
func consumeFieldValue(num uint64, typ wireType, b []byte, _ int) int {
	return protowire.ConsumeFieldValue(protowire.Number(num), typ, b)
}

func appendTag(b []byte, num uint64, typ wireType) []byte {
	return protowire.AppendTag(b, protowire.Number(num), typ)
}

func appendBytesField(b []byte, num uint64, v []byte) []byte {
	return protowire.AppendBytes(appendTag(b, num, bytesType), v)
}

func appendStringField(b []byte, num uint64, v string) []byte {
	return protowire.AppendString(appendTag(b, num, bytesType), v)
}

func appendVarintField(b []byte, num uint64, v uint64) []byte {
	return protowire.AppendVarint(appendTag(b, num, varintType), v)
}

// sizeVarint is the encoded length of v.
func sizeVarint(v uint64) int { return protowire.SizeVarint(v) }

func appendVarint(b []byte, v uint64) []byte { return protowire.AppendVarint(b, v) }
