//go:build amd64 && !purego

package md5x

import (
	"crypto/md5"
	"encoding"
	"encoding/binary"
	"hash"
	"sync"
	"unsafe"
)

//go:generate go run asm_gen.go -groups=4 -prefetch=128

// lanes is the number of messages hashed side by side: groups registers of
// 16 uint32 lanes.
const lanes = 16 * groups

// ctx is the memory shared by the driver and the assembly kernel. The
// offsets of the fields up to fresh are hard-coded in the kernel
// (layout_amd64.go, checked by a test). A ctx lives in the heap (ctxPool):
// tailp holds addresses into the ctx itself.
type ctx struct {
	// state holds the MD5 chaining values transposed: state[g][0][i] is a
	// of lane 16g+i, state[g][1][i] is b, and so on.
	state [groups][4][16]uint32
	// ptr[i] is the next block of lane i. It always points inside a
	// message or inside tail[i], so the garbage collector never sees a
	// pointer past the end of an object.
	ptr [lanes]unsafe.Pointer
	// stride[i] is 64 for a lane that is hashing a message, 0 for an idle
	// lane (which then re-reads the block at ptr[i], inside tail[i]).
	stride [lanes]uintptr
	// left[i] is the number of whole blocks lane i still reads from its
	// message; the kernel decrements it for every block and switches the
	// lane to tailp[i] when it reaches 0. It is <= 0 in the tail.
	left  [lanes]int
	tailp [lanes]uintptr
	// cur and words are kernel scratch: the lanes' advancing pointers
	// (plain integers: they may end up one past the end of a message) and
	// the transposed message words of the current and the next block.
	cur   [lanes]uintptr
	words [2][groups][16][16]uint32
	// fresh[g] bit l marks lane 16g+l as starting a message: the kernel
	// loads the MD5 initial values into its state, then clears fresh.
	fresh [groups]uint16
	// tail[i] holds the last partial block of lane i's message plus the MD5
	// padding: one or two blocks.
	tail [lanes][128]byte

	// h finishes lanes with crypto/md5 (see handOff); hstate and sum are
	// its buffers, kept here so that nothing is allocated per call.
	h      hash.Hash
	hstate [4 + 16 + 64 + 8]byte
	sum    [16]byte
}

func newCtx() *ctx {
	c := &ctx{h: md5.New()}
	for i := range c.tailp {
		c.tailp[i] = uintptr(unsafe.Pointer(&c.tail[i]))
	}
	return c
}

// blocks runs n blocks on all lanes, reading lane i's blocks at ptr[i],
// ptr[i]+stride[i], ... and updating state. See md5x_amd64.s.
//
//go:noescape
func blocks(c *ctx, n int)

func cpuid(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)
func xgetbv0() (eax, edx uint32)

// useSIMD reports whether the AVX-512 kernel can run on this machine.
var useSIMD = detectAVX512()

// detectAVX512 checks that the CPU has AVX-512 F and VL and that the OS saves
// the SSE, AVX, opmask and ZMM register state (XCR0 bits 1, 2, 5, 6, 7).
func detectAVX512() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const osxsave = 1 << 27
	if ecx1&osxsave == 0 {
		return false
	}
	xcr0, _ := xgetbv0()
	const zmmState = 1<<1 | 1<<2 | 1<<5 | 1<<6 | 1<<7
	if xcr0&zmmState != zmmState {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	const (
		avx512F  = 1 << 16
		avx512VL = 1 << 31
	)
	return ebx7&avx512F != 0 && ebx7&avx512VL != 0
}

// Cost model, in nanoseconds, measured on the development machine (AMD
// EPYC, Zen 5 class, 2 vCPUs): a kernel call costs about kernelCall for its
// first block, kernelLoop more when it runs several, and kernelBlock for
// each further block, whatever the number of working lanes (the kernel is
// bound by the latency of the MD5 chain until most lanes work); crypto/md5
// costs scalarMsg per message plus scalarBlock per block.
const (
	kernelCall  = 400
	kernelLoop  = 250
	kernelBlock = 200
	scalarMsg   = 20
	scalarBlock = 83
)

// get (used by the kernel driver only) returns the data pointer and length of message i, straight from the
// caller's slice or string header (the pointer may be nil when the length
// is 0).
func (s *source) get(i int) (*byte, int) {
	if s.isStr {
		m := s.strs[i]
		return unsafe.StringData(m), len(m)
	}
	m := s.bytes[i]
	return unsafe.SliceData(m), len(m)
}

// worthSIMD reports whether the kernel is expected to beat a crypto/md5
// loop on this batch. Batches of 8 or more always go to the kernel (lanes
// left alone with long messages at the end are handed back to crypto/md5
// by sumSIMD); smaller ones are costed.
func worthSIMD(src *source) bool {
	if src.n >= 8 {
		return true
	}
	if src.n <= 2 {
		// Two lanes in the kernel are slower than crypto/md5 twice.
		return false
	}
	maxBlocks, scalar := 0, 0
	for i := 0; i < src.n; i++ {
		_, n := src.get(i)
		b := (n + 8 + 64) >> 6
		maxBlocks = max(maxBlocks, b)
		scalar += scalarMsg + scalarBlock*b
	}
	simd := kernelCall + kernelBlock*(maxBlocks-1)
	if maxBlocks > 1 {
		simd += kernelLoop
	}
	return simd < scalar
}

var ctxPool = sync.Pool{New: func() any { return newCtx() }}

// start puts a message of length n at p into lane i: it marks the lane
// fresh (the kernel resets its chaining values), builds the padded tail
// block(s), points the lane at its first block and returns the number of
// blocks to hash: the whole blocks read in place from the message, then one
// or two tail blocks.
func (c *ctx) start(i int, p *byte, n int) (blocks int) {
	body := n >> 6
	r := n & 63
	t := &c.tail[i]
	if r > 0 {
		copy(t[:r], unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(p), body<<6)), r))
	}
	t[r] = 0x80
	end := 64
	if r >= 56 {
		end = 128
	}
	clear(t[r+1 : end-8])
	binary.LittleEndian.PutUint64(t[end-8:end], uint64(n)<<3)
	c.fresh[i/16] |= 1 << (i % 16)
	c.stride[i] = 64
	c.left[i] = body
	if body > 0 {
		c.ptr[i] = unsafe.Pointer(p)
	} else {
		c.ptr[i] = unsafe.Pointer(t)
	}
	return body + end>>6
}

// park makes lane i idle: it re-reads its own tail buffer, hashing into
// state nobody reads.
func (c *ctx) park(i int) {
	c.ptr[i] = unsafe.Pointer(&c.tail[i])
	c.stride[i] = 0
	c.left[i] = 0
}

// sumSIMD hashes all messages of src with the lane kernel.
//
// Each kernel call runs as many blocks as the working lane closest to the
// end of its message has left, so that no lane runs past its message (the
// kernel itself moves a lane from the message body to its tail blocks).
// After the call the lanes that are done write their digest and take the
// next message. Lanes go idle only when no message is left.
func sumSIMD(out [][16]byte, src source) {
	if hook := testHookSIMD; hook != nil {
		hook()
	}
	c := ctxPool.Get().(*ctx)
	c.fresh = [groups]uint16{}
	var (
		msg [lanes]int32 // message index of each lane, -1 when idle
		rem [lanes]int   // blocks left in the lane's message
	)
	const maxInt = int(^uint(0) >> 1)
	next, working, step := 0, 0, maxInt
	for i := 0; i < lanes; i++ {
		if next < src.n {
			p, n := src.get(next)
			rem[i] = c.start(i, p, n)
			step = min(step, rem[i])
			msg[i] = int32(next)
			next++
			working++
		} else {
			c.park(i)
			msg[i] = -1
		}
	}
	for working > 0 {
		if next == src.n && working <= 2 && step > 2 {
			// Only one or two long messages left: finish them with
			// crypto/md5, which is faster than the kernel on so few
			// lanes (see the cost model).
			for i := 0; i < lanes; i++ {
				if msg[i] >= 0 {
					p, n := src.get(int(msg[i]))
					c.handOff(i, p, n, rem[i], &out[msg[i]])
				}
			}
			break
		}
		blocks(c, step)
		prev := step
		step = maxInt
		for i := 0; i < lanes; i++ {
			if msg[i] < 0 {
				continue
			}
			if rem[i] -= prev; rem[i] > 0 {
				if left := c.left[i]; left > 0 {
					c.ptr[i] = unsafe.Add(c.ptr[i], prev<<6)
				} else {
					c.ptr[i] = unsafe.Pointer(&c.tail[i][(-left)<<6])
				}
				step = min(step, rem[i])
				continue
			}
			g, l := i/16, i%16
			o := &out[msg[i]]
			binary.LittleEndian.PutUint32(o[0:], c.state[g][0][l])
			binary.LittleEndian.PutUint32(o[4:], c.state[g][1][l])
			binary.LittleEndian.PutUint32(o[8:], c.state[g][2][l])
			binary.LittleEndian.PutUint32(o[12:], c.state[g][3][l])
			if next < src.n {
				p, n := src.get(next)
				rem[i] = c.start(i, p, n)
				step = min(step, rem[i])
				msg[i] = int32(next)
				next++
			} else {
				c.park(i)
				msg[i] = -1
				working--
			}
		}
	}
	// Drop the references to the caller's messages before pooling.
	clear(c.ptr[:])
	ctxPool.Put(c)
}

// handOff finishes the message of lane i (n bytes at p, rem blocks left)
// with crypto/md5, resuming from the lane's chaining values through the
// hash's documented BinaryUnmarshaler state, and writes its digest to o.
// The lane must still be reading the message itself (rem > 2 guarantees
// that: the tail is at most 2 blocks).
func (c *ctx) handOff(i int, p *byte, n, rem int, o *[16]byte) {
	if hook := testHookHandOff; hook != nil {
		hook()
	}
	total := n>>6 + 1
	if n&63 >= 56 {
		total++
	}
	done := (total - rem) << 6 // bytes already hashed
	msg := unsafe.Slice(p, n)
	if done == 0 {
		// The kernel has not run on this lane yet.
		*o = md5.Sum(msg)
		return
	}
	g, l := i/16, i%16
	b := c.hstate[:0]
	b = append(b, "md5\x01"...)
	for w := 0; w < 4; w++ {
		b = binary.BigEndian.AppendUint32(b, c.state[g][w][l])
	}
	b = append(b, make([]byte, 64)...)
	b = binary.BigEndian.AppendUint64(b, uint64(done))
	u, ok := c.h.(encoding.BinaryUnmarshaler)
	if !ok || u.UnmarshalBinary(b) != nil {
		// Not expected: crypto/md5 changed its state format. Start over.
		*o = md5.Sum(msg)
		return
	}
	c.h.Write(msg[done:])
	*o = [16]byte(c.h.Sum(c.sum[:0]))
}

// Test hooks, nil outside tests: testHookSIMD is called for every batch
// hashed by the kernel, testHookHandOff for every lane handed off to
// crypto/md5.
var testHookSIMD, testHookHandOff func()
