//go:build amd64 && !purego

package b64

// cpuid executes CPUID with EAX=eaxArg, ECX=ecxArg.
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

// xgetbv returns XCR0 (XGETBV with ECX=0).
func xgetbv() (eax, edx uint32)

// decodeAVX512VBMI and decodeAVX2 decode the longest clean prefix of src made
// of whole blocks (see decode_amd64.s) into dst and return its length, a
// multiple of 4. They require len(dst) >= len(src)/4*3.
//
//go:noescape
func decodeAVX512VBMI(dst, src []byte) (consumed int)

//go:noescape
func decodeAVX2(dst, src []byte) (consumed int)

// features reports what the CPU supports and the OS has enabled.
func features() (avx2, avx512vbmi bool) {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false, false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if ecx1&osxsave == 0 || ecx1&avx == 0 {
		return false, false
	}
	xcr0, _ := xgetbv()
	const (
		xcrSSE    = 1 << 1
		xcrYMM    = 1 << 2
		xcrOpmask = 1 << 5
		xcrZMMHi  = 1 << 6 // upper halves of ZMM0-15
		xcrHiZMM  = 1 << 7 // ZMM16-31
		ymmState  = xcrSSE | xcrYMM
		zmmState  = ymmState | xcrOpmask | xcrZMMHi | xcrHiZMM
	)
	_, ebx7, ecx7, _ := cpuid(7, 0)
	const (
		ebxAVX2     = 1 << 5
		ebxAVX512F  = 1 << 16
		ebxAVX512BW = 1 << 30
		ecxVBMI     = 1 << 1
	)
	avx2 = xcr0&ymmState == ymmState && ebx7&ebxAVX2 != 0
	avx512vbmi = xcr0&zmmState == zmmState &&
		ebx7&ebxAVX512F != 0 && ebx7&ebxAVX512BW != 0 && ecx7&ecxVBMI != 0
	return avx2, avx512vbmi
}

func detect() path {
	avx2, vbmi := features()
	switch {
	case vbmi:
		return pathAVX512VBMI
	case avx2:
		return pathAVX2
	}
	return pathGeneric
}

// supported reports whether p can run on this machine.
func supported(p path) bool {
	avx2, vbmi := features()
	switch p {
	case pathAVX512VBMI:
		return vbmi
	case pathAVX2:
		return avx2
	}
	return true
}

func kernel(p path, dst, src []byte) int {
	switch p {
	case pathAVX512VBMI:
		return decodeAVX512VBMI(dst, src)
	case pathAVX2:
		return decodeAVX2(dst, src)
	}
	return 0
}
