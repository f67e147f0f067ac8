package md5x

import (
	"crypto/md5"
	"unsafe"
)

// SumMany sets out[i] = md5.Sum(msgs[i]) for every i. len(out) must be >=
// len(msgs) (panic otherwise).
func SumMany(out [][16]byte, msgs [][]byte) {
	if len(out) < len(msgs) {
		panic("md5x: SumMany: len(out) < len(msgs)")
	}
	src := source{bytes: msgs, n: len(msgs)}
	if useSIMD && !forceGeneric && worthSIMD(&src) {
		sumSIMD(out, src)
		return
	}
	out = out[:len(msgs)]
	for i, m := range msgs {
		out[i] = md5.Sum(m)
	}
}

// SumStrings is SumMany for strings. The strings are hashed in place, without
// copies.
func SumStrings(out [][16]byte, msgs []string) {
	if len(out) < len(msgs) {
		panic("md5x: SumStrings: len(out) < len(msgs)")
	}
	src := source{strs: msgs, n: len(msgs), isStr: true}
	if useSIMD && !forceGeneric && worthSIMD(&src) {
		sumSIMD(out, src)
		return
	}
	out = out[:len(msgs)]
	for i, s := range msgs {
		out[i] = md5.Sum(unsafe.Slice(unsafe.StringData(s), len(s)))
	}
}

// forceGeneric makes SumMany and SumStrings use crypto/md5 for every message
// even when the SIMD kernel is available. Tests set it to cover both paths.
var forceGeneric bool

// source is the list of messages of one call: either [][]byte or []string,
// so that one driver serves both entry points without converting anything.
type source struct {
	bytes [][]byte
	strs  []string
	n     int
	isStr bool
}
