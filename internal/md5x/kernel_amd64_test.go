//go:build amd64 && !purego

package md5x

import (
	"testing"
	"unsafe"
)

// BenchmarkKernel runs the kernel alone, all lanes working, 256 blocks per
// call.
func BenchmarkKernel(b *testing.B) {
	if !useSIMD {
		b.Skip("no AVX-512")
	}
	const n = 256
	buf := make([]byte, lanes*64*n)
	c := newCtx()
	for i := 0; i < lanes; i++ {
		c.ptr[i] = unsafe.Pointer(&buf[i*64*n])
		c.stride[i] = 64
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		blocks(c, n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*groups), "ns/block16")
}
