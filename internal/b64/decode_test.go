package b64

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"testing"
)

var allPaths = []path{pathGeneric, pathAVX2, pathAVX512VBMI}

// setPath makes Decode use p until the test ends, skipping when the machine
// cannot run p. Tests that call it must not run in parallel.
func setPath(t testing.TB, p path) {
	t.Helper()
	if !supported(p) {
		t.Skip(unsupportedReason(p))
	}
	old := activePath
	activePath = p
	t.Cleanup(func() { activePath = old })
}

// unsupportedReason says why path p cannot run here.
func unsupportedReason(p path) string {
	if puregoBuild {
		return p.String() + " not compiled in (built with -tags purego)"
	}
	return p.String() + " not supported on this machine"
}

// forEachPath runs f as a subtest once per path.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	for _, p := range allPaths {
		t.Run(p.String(), func(t *testing.T) {
			setPath(t, p)
			f(t)
		})
	}
}

const guardLen = 80

// check decodes src with Decode and with the stdlib and fails on any
// difference in n, dst[:n] or err. It also checks that nothing past
// dst[:DecodedLen] is written.
func check(t testing.TB, src []byte) {
	t.Helper()
	if msg := compare(src); msg != "" {
		t.Fatalf("%v: %s\nsrc (%d) = %q", activePath, msg, len(src), abbrev(src))
	}
}

func compare(src []byte) string {
	dl := base64.StdEncoding.DecodedLen(len(src))
	want := make([]byte, dl)
	wn, werr := base64.StdEncoding.Decode(want, src)

	buf := make([]byte, dl+guardLen)
	for i := range buf {
		buf[i] = 0xa5
	}
	got := buf[:dl:dl]
	gn, gerr := Decode(got, src)
	switch {
	case gn != wn:
		return fmt.Sprintf("n = %d, stdlib %d (err %v, stdlib %v)", gn, wn, gerr, werr)
	case (gerr == nil) != (werr == nil):
		return fmt.Sprintf("err = %v, stdlib %v", gerr, werr)
	case gerr != werr:
		// Stronger than the contract, but the design gives identical
		// errors; keep it that way.
		return fmt.Sprintf("err = %#v, stdlib %#v", gerr, werr)
	case !bytes.Equal(got[:gn], want[:wn]):
		return fmt.Sprintf("dst[:n] differs at %d", firstDiff(got[:gn], want[:wn]))
	}
	for i, b := range buf[dl:] {
		if b != 0xa5 {
			return fmt.Sprintf("wrote past DecodedLen at +%d", i)
		}
	}
	return ""
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func abbrev(b []byte) []byte {
	if len(b) > 200 {
		return append(append(b[:100:100], "..."...), b[len(b)-100:]...)
	}
	return b
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func encode(b []byte) []byte {
	return []byte(base64.StdEncoding.EncodeToString(b))
}

func TestPathSelection(t *testing.T) {
	avx2, vbmi := supported(pathAVX2), supported(pathAVX512VBMI)
	t.Logf("best path %v (avx2=%v avx512vbmi=%v), active %v, purego %v", bestPath, avx2, vbmi, activePath, puregoBuild)
	want := pathGeneric
	switch {
	case puregoBuild:
		// No kernel is compiled in: whatever the CPU offers, only the
		// stdlib path exists and Decode takes it.
		if avx2 || vbmi {
			t.Fatalf("purego build reports kernels as supported (avx2=%v avx512vbmi=%v)", avx2, vbmi)
		}
	case vbmi:
		want = pathAVX512VBMI
	case avx2:
		want = pathAVX2
	}
	if bestPath != want || activePath != want {
		t.Fatalf("bestPath %v activePath %v, want %v", bestPath, activePath, want)
	}
	if bestPath == pathGeneric && !puregoBuild {
		t.Skip("no SIMD path on this machine")
	}
}

// expectConsumed models how far kernel p must get on src.
func expectConsumed(p path, src []byte) int {
	clean := func(b []byte) bool {
		for _, c := range b {
			if !isAlpha(c) {
				return false
			}
		}
		return true
	}
	lim := len(src) &^ 3
	c := 0
	switch p {
	case pathAVX512VBMI:
		for c+64 <= lim && clean(src[c:c+64]) {
			c += 64
		}
		if c+64 > lim && clean(src[c:lim]) {
			c = lim
		}
	case pathAVX2:
		for c+32 <= lim && clean(src[c:c+32]) {
			c += 32
		}
		if c+32 > lim && lim >= 32 && clean(src[c:lim]) {
			c = lim
		}
	}
	return c
}

func isAlpha(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/'
}

// TestKernel calls the kernels directly: they must consume exactly the
// modelled clean prefix, decode it like the stdlib and write nothing else.
// This is also the proof that the SIMD path does the work on this machine
// (in a purego build, kernel is a stub and these subtests skip).
func TestKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range []path{pathAVX2, pathAVX512VBMI} {
		t.Run(p.String(), func(t *testing.T) {
			if !supported(p) {
				t.Skip(unsupportedReason(p))
			}
			for n := 0; n <= 1200; n++ {
				src := encode(randBytes(r, n*3/4+1))[:n]
				for i := range src {
					if !isAlpha(src[i]) {
						src[i] = 'A'
					}
				}
				srcs := [][]byte{src}
				if n > 0 {
					bad := bytes.Clone(src)
					bad[r.IntN(n)] = "=\n\r!\x00\x80\xff-_"[r.IntN(9)]
					srcs = append(srcs, bad)
				}
				for _, s := range srcs {
					dl := len(s) / 4 * 3
					dst := make([]byte, dl+guardLen)
					for i := range dst {
						dst[i] = 0xa5
					}
					c := kernel(p, dst[:dl:dl], s)
					if want := expectConsumed(p, s); c != want {
						t.Fatalf("len %d: consumed %d, want %d\n%q", n, c, want, s)
					}
					want, err := base64.StdEncoding.DecodeString(string(s[:c]))
					if err != nil || !bytes.Equal(dst[:c/4*3], want) {
						t.Fatalf("len %d: wrong output for %d consumed (err %v)", n, c, err)
					}
					for i, b := range dst[c/4*3:] {
						if b != 0xa5 {
							t.Fatalf("len %d: consumed %d, but wrote dst[%d]", n, c, c/4*3+i)
						}
					}
				}
			}
			big := encode(randBytes(r, 3<<20))
			dst := make([]byte, len(big)/4*3)
			if c := kernel(p, dst, big); c != len(big) {
				t.Fatalf("1 MiB clean input: consumed %d of %d", c, len(big))
			}
			t.Logf("%v kernel decodes clean input", p)
		})
	}
}

func TestValidLengths(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for n := 0; n <= 300; n++ {
			raw := randBytes(r, n)
			enc := encode(raw)
			check(t, enc)
			// Unpadded, truncated, over-padded and with junk after the padding.
			check(t, []byte(base64.RawStdEncoding.EncodeToString(raw)))
			for k := 1; k <= 3 && k <= len(enc); k++ {
				check(t, enc[:len(enc)-k])
			}
			check(t, append(bytes.Clone(enc), '='))
			check(t, append(bytes.Clone(enc), "=="...))
			check(t, append(bytes.Clone(enc), "QQ=="...))
			check(t, append(bytes.Clone(enc), "\r\n"...))
			check(t, append(bytes.Clone(enc), 'A'))
			// Sanity: the valid encoding must decode.
			dst := make([]byte, len(raw)+3)
			if m, err := Decode(dst, enc); err != nil || !bytes.Equal(dst[:m], raw) {
				t.Fatalf("n=%d: round trip failed: %v", n, err)
			}
		}
	})
}

// TestEveryLength checks every source length 0..400 of one alphabet string,
// i.e. also lengths that are not a multiple of 4.
func TestEveryLength(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		enc := encode(randBytes(r, 300))
		for n := 0; n <= len(enc); n++ {
			check(t, enc[:n])
		}
	})
}

func TestInvalidByteEveryPosition(t *testing.T) {
	bad := []byte("!\x00\x80\xff =-_.\t\r\n@[`{\x7f:")
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, n := range []int{0, 1, 2, 45, 47, 48, 49, 95, 96, 97, 100, 191, 192, 193, 250, 300, 777} {
			enc := encode(randBytes(r, n))
			for i := range enc {
				for _, b := range bad {
					src := bytes.Clone(enc)
					src[i] = b
					check(t, src)
				}
			}
		}
	})
}

// TestAllBytesEveryLane puts each of the 256 byte values at each position
// of inputs long enough to cover the unrolled loops, single blocks and the
// partial last block of every kernel.
func TestAllBytesEveryLane(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for _, n := range []int{246, 299} {
			enc := encode(randBytes(r, n))
			src := make([]byte, len(enc))
			for i := range enc {
				for v := range 256 {
					copy(src, enc)
					src[i] = byte(v)
					check(t, src)
				}
			}
		}
	})
}

func TestNewlines(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for iter := range 3000 {
			enc := encode(randBytes(r, r.IntN(400)))
			k := 1 + r.IntN(6)
			for range k {
				i := r.IntN(len(enc) + 1)
				ins := []string{"\n", "\r", "\r\n", "\n\n"}[r.IntN(4)]
				enc = append(enc[:i], append([]byte(ins), enc[i:]...)...)
			}
			check(t, enc)
			if iter%10 == 0 {
				// MIME-style wrapping.
				raw := randBytes(r, r.IntN(2000))
				var w []byte
				e := encode(raw)
				for len(e) > 76 {
					w = append(append(w, e[:76]...), "\r\n"...)
					e = e[76:]
				}
				w = append(w, e...)
				check(t, w)
			}
		}
	})
}

func TestPaddingInTheMiddle(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(13, 14))
		for range 3000 {
			enc := encode(randBytes(r, r.IntN(400)))
			i := r.IntN(len(enc) + 1)
			ins := []string{"=", "==", "===", "====", "A=", "AA==", "AAA="}[r.IntN(7)]
			src := append(bytes.Clone(enc[:i]), append([]byte(ins), enc[i:]...)...)
			check(t, src)
			// Two padded encodings back to back.
			check(t, append(encode(randBytes(r, 1+r.IntN(100))), encode(randBytes(r, r.IntN(200)))...))
		}
	})
}

// TestNonCanonicalTrailingBits: StdEncoding is not strict, so non-zero bits
// in the last character before the padding are accepted and dropped.
func TestNonCanonicalTrailingBits(t *testing.T) {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(15, 16))
		for n := 0; n <= 300; n++ {
			enc := encode(randBytes(r, n))
			pad := bytes.Count(enc, []byte("="))
			if pad == 0 {
				continue
			}
			for range 8 {
				src := bytes.Clone(enc)
				src[len(src)-pad-1] = alpha[r.IntN(64)]
				check(t, src)
			}
		}
	})
}

func TestLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	raw := randBytes(r, 10<<20)
	forEachPath(t, func(t *testing.T) {
		for _, n := range []int{1 << 20, 10 << 20, 10<<20 - 1, 10<<20 - 2} {
			enc := encode(raw[:n])
			check(t, enc)
			if n != 1<<20 {
				continue
			}
			dst := make([]byte, n)
			if m, err := Decode(dst, enc); err != nil || m != n || !bytes.Equal(dst, raw[:n]) {
				t.Fatalf("%d bytes: round trip failed: n=%d err=%v", n, m, err)
			}
			// An error near the end, in the middle and at the start.
			for _, i := range []int{len(enc) - 5, len(enc) / 2, 7} {
				bad := bytes.Clone(enc)
				bad[i] = '*'
				check(t, bad)
			}
			// A newline in the middle.
			nl := append(bytes.Clone(enc[:len(enc)/2]), '\n')
			check(t, append(nl, enc[len(enc)/2:]...))
		}
	})
}

// TestExactDst: callers may size dst to the exact decoded length (smaller
// than DecodedLen when padded); the stdlib accepts that and so must we.
func TestExactDst(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(19, 20))
		for n := 0; n <= 500; n++ {
			raw := randBytes(r, n)
			dst := make([]byte, n)
			m, err := Decode(dst, encode(raw))
			if err != nil || m != n || !bytes.Equal(dst, raw) {
				t.Fatalf("n=%d: got %d, %v", n, m, err)
			}
		}
	})
}

// TestInPlace: decoding into the source buffer works like the stdlib.
func TestInPlace(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(21, 22))
		for n := 0; n <= 2000; n += 7 {
			raw := randBytes(r, n)
			enc := encode(raw)
			m, err := Decode(enc, enc)
			if err != nil || m != n || !bytes.Equal(enc[:m], raw) {
				t.Fatalf("n=%d: got %d, %v", n, m, err)
			}
		}
	})
}

func TestNoAllocs(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		src := encode(randBytes(rand.New(rand.NewPCG(23, 24)), 10000))
		dst := make([]byte, len(src))
		if a := testing.AllocsPerRun(100, func() { Decode(dst, src) }); a != 0 {
			t.Fatalf("%v allocs per Decode", a)
		}
	})
}
