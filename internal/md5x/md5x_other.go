//go:build !amd64 || purego

package md5x

// useSIMD is false: there is no lane kernel for this architecture.
const useSIMD = false

func worthSIMD(*source) bool { return false }

func sumSIMD(out [][16]byte, src source) { panic("md5x: no SIMD kernel") }
