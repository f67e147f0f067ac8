package kpl

import (
	"crypto/md5"
	"encoding/binary"
)

// pb builds protobuf bytes field by field, including shapes Aggregate never
// writes (tables after records, unknown fields, broken framing).
type pb []byte

func (m pb) key(num uint64, typ wireType) pb { return binary.AppendUvarint(m, num<<3|uint64(typ)) }

func (m pb) varint(num, v uint64) pb { return binary.AppendUvarint(m.key(num, varintType), v) }

func (m pb) bytes(num uint64, v []byte) pb {
	m = binary.AppendUvarint(m.key(num, bytesType), uint64(len(v)))
	return append(m, v...)
}

func (m pb) str(num uint64, s string) pb { return m.bytes(num, []byte(s)) }

func (m pb) msg(num uint64, v pb) pb { return m.bytes(num, v) }

func (m pb) raw(b ...byte) pb { return append(m, b...) }

// rec is a Record message with the required fields and an optional
// explicit hash key index (ehk < 0 means none).
func rec(pk uint64, ehk int, data string) pb {
	m := pb{}.varint(1, pk)
	if ehk >= 0 {
		m = m.varint(2, uint64(ehk))
	}
	return m.str(3, data)
}

// seal frames body as an aggregate with a correct digest, so tests of the
// protobuf decoding get past the MD5 check.
func seal(body []byte) []byte {
	out := append(magic[:len(magic):len(magic)], body...)
	sum := md5.Sum(body)
	return append(out, sum[:]...)
}
