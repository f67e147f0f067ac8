package b64

import "encoding/base64"

// path names one decoding implementation.
type path uint8

const (
	pathGeneric    path = iota // encoding/base64 only
	pathAVX2                   // AVX2 kernel, 32-character blocks
	pathAVX512VBMI             // AVX-512 VBMI kernel, 64-character blocks
)

func (p path) String() string {
	switch p {
	case pathAVX2:
		return "avx2"
	case pathAVX512VBMI:
		return "avx512vbmi"
	default:
		return "generic"
	}
}

var (
	// bestPath is the fastest path this CPU and OS support.
	bestPath = detect()
	// activePath is the path Decode uses; tests switch it with setPath.
	activePath = bestPath
)

// minSIMDLen is, per path, the input length below which Decode calls
// encoding/base64 directly because the kernel call and the bookkeeping cost
// more than they save (measured with BenchmarkCutoff on AMD EPYC: the
// AVX-512 kernel, which also decodes partial blocks, wins from 16
// characters; the AVX2 kernel needs a whole 32-character block).
var minSIMDLen = [...]int{
	pathGeneric:    int(^uint(0) >> 1),
	pathAVX2:       32,
	pathAVX512VBMI: 16,
}

// Decode decodes src, standard base64 with padding, into dst, exactly like
// base64.StdEncoding.Decode(dst, src): same n, same bytes written to dst[:n],
// and err != nil exactly when base64.StdEncoding.Decode returns an error
// (the error value itself may differ, but should be a base64.CorruptInputError
// at some offset where possible). dst must have room for base64.StdEncoding.DecodedLen(len(src)) bytes.
func Decode(dst, src []byte) (n int, err error) {
	p := activePath
	if len(src) < minSIMDLen[p] {
		return base64.StdEncoding.Decode(dst, src)
	}
	return decodeSIMD(p, dst, src)
}

// decodeSIMD is Decode on path p without the length cutoff.
func decodeSIMD(p path, dst, src []byte) (n int, err error) {
	// The kernels consume only alphabet characters, so a padded final
	// quantum would stop them; keeping it out lets them finish the clean
	// part of the last block.
	lim := len(src) &^ 3
	if lim == len(src) && lim > 0 && src[lim-1] == '=' {
		lim -= 4
	}
	if len(dst) < lim/4*3 {
		// Too small for the kernel; let the stdlib do (or fail) it all.
		return base64.StdEncoding.Decode(dst, src)
	}
	c := kernel(p, dst, src[:lim])
	// src[:c] is a whole number of 4-character quanta of alphabet
	// characters, which encoding/base64 would have decoded into exactly
	// dst[:c/4*3] without error, reaching the same state (offset c, c/4*3
	// bytes out) from which it now continues on the rest.
	n = c / 4 * 3
	rest := src[c:]
	switch {
	case len(rest) == 0:
		return n, nil
	case len(rest) == 4 && rest[3] == '=':
		// The usual end: one padded quantum.
		if m, ok := decodePadded(dst[n:], rest); ok {
			return n + m, nil
		}
	}
	m, err := base64.StdEncoding.Decode(dst[n:], rest)
	if err != nil && c > 0 {
		if e, ok := err.(base64.CorruptInputError); ok {
			err = e + base64.CorruptInputError(c)
		}
	}
	return n + m, err
}

// decodeMap maps alphabet characters to their values and all else to 0xff.
var decodeMap = func() (m [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range m {
		m[i] = 0xff
	}
	for i := range len(alphabet) {
		m[alphabet[i]] = byte(i)
	}
	return m
}()

// decodePadded decodes a final quantum "xx==" or "xxx=" of alphabet
// characters x like encoding/base64 (which ignores the unused low bits of
// the last x) and reports false for anything else, which it leaves alone.
func decodePadded(dst, q []byte) (int, bool) {
	a, b := decodeMap[q[0]], decodeMap[q[1]]
	if (a|b)&0xc0 != 0 {
		return 0, false
	}
	if q[2] == '=' {
		dst[0] = a<<2 | b>>4
		return 1, true
	}
	c := decodeMap[q[2]]
	if c&0xc0 != 0 {
		return 0, false
	}
	dst[0] = a<<2 | b>>4
	dst[1] = b<<4 | c>>2
	return 2, true
}
