package b64

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkDecode: MB/s are per encoded (input) byte. "stdlib" is
// base64.StdEncoding.Decode; the others are Decode on a forced path.
func BenchmarkDecode(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, size := range []int{100, 1 << 10, 10 << 10, 1 << 20, 10 << 20} {
		src := encode(randBytes(r, size))
		dst := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
		name := fmt.Sprint(size)
		switch {
		case size >= 1<<20:
			name = fmt.Sprintf("%dMB", size>>20)
		case size >= 1<<10:
			name = fmt.Sprintf("%dKB", size>>10)
		default:
			name += "B"
		}
		b.Run(name+"/stdlib", func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				base64.StdEncoding.Decode(dst, src)
			}
		})
		for _, p := range []path{pathAVX2, pathAVX512VBMI} {
			b.Run(name+"/"+p.String(), func(b *testing.B) {
				setPath(b, p)
				b.SetBytes(int64(len(src)))
				b.ReportAllocs()
				for b.Loop() {
					Decode(dst, src)
				}
			})
		}
	}
}

// BenchmarkCutoff compares the SIMD route without the length cutoff
// (decodeSIMD) with the stdlib on short padded inputs; minSIMDLen is set
// where the SIMD route starts to win.
func BenchmarkCutoff(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, n := range []int{8, 12, 16, 24, 32, 36, 48, 64} {
		src := encode(randBytes(r, n*3/4-1)) // padded with '='
		dst := make([]byte, len(src))
		b.Run(fmt.Sprintf("%d/stdlib", len(src)), func(b *testing.B) {
			for b.Loop() {
				base64.StdEncoding.Decode(dst, src)
			}
		})
		for _, p := range []path{pathAVX2, pathAVX512VBMI} {
			b.Run(fmt.Sprintf("%d/%v", len(src), p), func(b *testing.B) {
				if !supported(p) {
					b.Skip("unsupported")
				}
				for b.Loop() {
					decodeSIMD(p, dst, src)
				}
			})
		}
	}
}
