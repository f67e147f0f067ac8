package hashkey

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unsafe"
)

// Key is an unsigned 128-bit integer, the space Kinesis hashes partition
// keys into: 0 through 2^128-1. The zero value is key 0. Keys are values and
// compare with ==.
type Key struct {
	Hi, Lo uint64
}

// Max is the largest hash key, 2^128-1, the EndingHashKey of the last shard
// of every stream.
var Max = Key{Hi: ^uint64(0), Lo: ^uint64(0)}

var (
	// ErrSyntax reports input that is not a plain decimal number.
	ErrSyntax = errors.New("shardwise: hash key is not a decimal number")
	// ErrRange reports a decimal number above 2^128-1.
	ErrRange = errors.New("shardwise: hash key out of range [0, 2^128-1]")
)

// pow10 holds 10^0 through 10^19, the multipliers for folding decimal chunks
// of up to 19 digits (the most that fit in a uint64) into a Key.
var pow10 = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// Parse reads a decimal hash key as Kinesis writes them in
// StartingHashKey, EndingHashKey and ExplicitHashKey. Only ASCII digits are
// accepted: no sign, spaces or underscores. Leading zeros are accepted
// because they do not change the value. Errors wrap ErrSyntax or ErrRange.
func Parse(s string) (Key, error) {
	if s == "" {
		return Key{}, fmt.Errorf("%w: empty string", ErrSyntax)
	}
	var k Key
	for i := 0; i < len(s); {
		n := min(19, len(s)-i)
		var chunk uint64
		for j := i; j < i+n; j++ {
			d := s[j] - '0'
			if d > 9 {
				return Key{}, fmt.Errorf("%w: %s has byte %q at offset %d", ErrSyntax, quote(s), s[j], j)
			}
			chunk = chunk*10 + uint64(d)
		}
		var ok bool
		if k, ok = k.mulAdd(pow10[n], chunk); !ok {
			return Key{}, fmt.Errorf("%w: %s", ErrRange, quote(s))
		}
		i += n
	}
	return k, nil
}

// quote keeps error messages readable when a caller hands Parse a huge
// string.
func quote(s string) string {
	const limit = 48
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}

// mulAdd returns k*m + a, and false if that exceeds Max.
func (k Key) mulAdd(m, a uint64) (Key, bool) {
	hiHi, hiLo := bits.Mul64(k.Hi, m)
	loHi, lo := bits.Mul64(k.Lo, m)
	hi, carry := bits.Add64(hiLo, loHi, 0)
	if hiHi != 0 || carry != 0 {
		return Key{}, false
	}
	lo, carry = bits.Add64(lo, a, 0)
	hi, carry = bits.Add64(hi, 0, carry)
	if carry != 0 {
		return Key{}, false
	}
	return Key{Hi: hi, Lo: lo}, true
}

// String returns k in decimal, the form Kinesis uses on the wire.
func (k Key) String() string {
	if k.Hi == 0 {
		return strconv.FormatUint(k.Lo, 10)
	}
	// 2^128-1 has 39 digits. Peel off 19 digits at a time with a 128-by-64
	// division so it takes three divisions, not 39.
	const chunk = 1e19
	var buf [39]byte
	i := len(buf)
	hi, lo := k.Hi, k.Lo
	for hi != 0 {
		var r uint64
		hi, r = bits.Div64(0, hi, chunk)
		lo, r = bits.Div64(r, lo, chunk)
		for range 19 {
			i--
			buf[i] = byte('0' + r%10)
			r /= 10
		}
	}
	// The rest carries the leading digits, so it gets no zero padding.
	for ; lo != 0; lo /= 10 {
		i--
		buf[i] = byte('0' + lo%10)
	}
	return string(buf[i:])
}

// Compare returns -1, 0 or +1 as a is less than, equal to or greater than
// b. Its shape fits slices.SortFunc.
func Compare(a, b Key) int {
	switch {
	case a.Hi < b.Hi:
		return -1
	case a.Hi > b.Hi:
		return 1
	case a.Lo < b.Lo:
		return -1
	case a.Lo > b.Lo:
		return 1
	}
	return 0
}

// Less reports whether k < o.
func (k Key) Less(o Key) bool {
	return k.Hi < o.Hi || (k.Hi == o.Hi && k.Lo < o.Lo)
}

// FromBytesBE reads b as a big-endian unsigned 128-bit integer.
func FromBytesBE(b [16]byte) Key {
	return Key{Hi: binary.BigEndian.Uint64(b[:8]), Lo: binary.BigEndian.Uint64(b[8:])}
}

// BytesBE is the inverse of FromBytesBE.
func (k Key) BytesBE() [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.Hi)
	binary.BigEndian.PutUint64(b[8:], k.Lo)
	return b
}

// FromPartitionKey maps a partition key to its hash key the way Kinesis
// routes a PutRecord without an ExplicitHashKey: the MD5 digest of the
// key's UTF-8 bytes, read as a big-endian 128-bit integer.
func FromPartitionKey(pk string) Key {
	// A []byte(pk) conversion would allocate for keys over 32 bytes, once
	// per distinct key of every aggregate a filtering consumer reads.
	// md5.Sum neither writes nor keeps its argument, so viewing the
	// string's bytes in place is safe.
	return FromBytesBE(md5.Sum(unsafe.Slice(unsafe.StringData(pk), len(pk))))
}

// FromPartitionKeyBytes is FromPartitionKey for a key still held as bytes,
// so a decoder can hash a key straight out of its input buffer.
func FromPartitionKeyBytes(pk []byte) Key {
	return FromBytesBE(md5.Sum(pk))
}

// Add1 returns k+1. ok is false when k is Max: wrapping to 0 would silently
// turn the end of the key space into its start.
func (k Key) Add1() (next Key, ok bool) {
	if k == Max {
		return Key{}, false
	}
	lo, carry := bits.Add64(k.Lo, 1, 0)
	return Key{Hi: k.Hi + carry, Lo: lo}, true
}

// Sub1 returns k-1. ok is false when k is 0, for the same reason as Add1.
func (k Key) Sub1() (prev Key, ok bool) {
	if k == (Key{}) {
		return Key{}, false
	}
	lo, borrow := bits.Sub64(k.Lo, 1, 0)
	return Key{Hi: k.Hi - borrow, Lo: lo}, true
}
