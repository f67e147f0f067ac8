package kinesistest

import (
	"crypto/md5"
	"encoding/binary"
	"math/big"
	"regexp"
)

// u128 is a 128-bit unsigned hash key. The fake keeps its own small type
// instead of importing internal/hashkey so the two packages can be tested
// against each other without sharing a bug.
type u128 struct{ hi, lo uint64 }

var maxHashKey = u128{hi: ^uint64(0), lo: ^uint64(0)}

// hashKeyPattern is the service's pattern for ExplicitHashKey and hash
// range bounds: a canonical decimal without sign or leading zeros.
var hashKeyPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,38})$`)

func (a u128) cmp(b u128) int {
	switch {
	case a.hi < b.hi:
		return -1
	case a.hi > b.hi:
		return 1
	case a.lo < b.lo:
		return -1
	case a.lo > b.lo:
		return 1
	}
	return 0
}

// inc returns a+1; callers never call it on maxHashKey.
func (a u128) inc() u128 {
	lo := a.lo + 1
	hi := a.hi
	if lo == 0 {
		hi++
	}
	return u128{hi: hi, lo: lo}
}

// dec returns a-1; callers never call it on zero.
func (a u128) dec() u128 {
	hi := a.hi
	if a.lo == 0 {
		hi--
	}
	return u128{hi: hi, lo: a.lo - 1}
}

func (a u128) big() *big.Int {
	b := new(big.Int).SetUint64(a.hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(a.lo))
}

func u128FromBig(b *big.Int) u128 {
	var buf [16]byte
	b.FillBytes(buf[:])
	return u128{hi: binary.BigEndian.Uint64(buf[:8]), lo: binary.BigEndian.Uint64(buf[8:])}
}

// String formats the key in decimal, as the service writes hash keys.
func (a u128) String() string { return a.big().String() }

// parseHashKey reads a decimal hash key; ok is false unless s is a
// decimal integer in [0, 2^128-1] without sign or leading zeros.
func parseHashKey(s string) (_ u128, ok bool) {
	if !hashKeyPattern.MatchString(s) {
		return u128{}, false
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok || b.BitLen() > 128 {
		return u128{}, false
	}
	return u128FromBig(b), true
}

// partitionKeyHash is where Kinesis routes a partition key: the MD5 digest
// of its UTF-8 bytes read as a big-endian unsigned 128-bit integer.
func partitionKeyHash(pk string) u128 {
	sum := md5.Sum([]byte(pk))
	return u128{hi: binary.BigEndian.Uint64(sum[:8]), lo: binary.BigEndian.Uint64(sum[8:])}
}

// evenBoundaries returns the n starting hash keys of n ranges that split
// [0, 2^128-1] evenly: start_i = floor(i * 2^128 / n), as CreateStream and
// UpdateShardCount (UNIFORM_SCALING) lay shards out.
func evenBoundaries(n int) []u128 {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	out := make([]u128, n)
	for i := range n {
		v := new(big.Int).Mul(space, big.NewInt(int64(i)))
		v.Quo(v, big.NewInt(int64(n)))
		out[i] = u128FromBig(v)
	}
	return out
}
