// Package md5x computes many independent MD5 digests at once.
//
// SumMany and SumStrings give exactly md5.Sum of every message. They exist
// for the consumer's hot path: the MD5 trailer of every KPL aggregate record
// (~10 KB, hundreds to thousands per GetRecords response) and the MD5 of
// every sub-record's partition key (1-64 bytes, ~100 per aggregate), which
// made crypto/md5 (~700 MB/s, one message at a time) a third of the CPU
// profile.
//
// # Why lanes
//
// MD5 is a serial chain: each of the 64 steps of a block needs the result of
// the previous one, and each block needs the previous block. One message
// cannot go faster than the latency of that chain, which is what crypto/md5
// already achieves. Independent messages, however, can share instructions:
// a ZMM register holds 16 uint32 lanes, so one AVX-512 instruction advances
// the same step of 16 messages ("multi-buffer" hashing). The F, G, H and I
// functions are one VPTERNLOGD each, rotations are VPROLD, additions VPADDD,
// and the round constants are broadcast from memory.
//
// On the development machine (AMD EPYC, Zen 5 class) vector integer
// instructions have 2 cycles of latency but 4 can start per cycle, so one
// 16-lane chain (ternlog, add, rotate, add: 8 cycles a step) would leave
// three quarters of the machine idle. The kernel therefore interleaves four
// independent 16-lane groups, 64 messages in flight, which brings it close to
// both the latency and the throughput limits: about 50 ns per 16-lane block
// with data in L2, ~20 GB/s for the kernel alone.
//
// # Loading the message words
//
// The rounds need word j of 16 messages in one register, but each message's
// block is contiguous, so the blocks must be transposed. Measured options:
//
//   - VPGATHERQD from per-lane pointers (two gathers and a merge per word):
//     half the speed of a transposition, gathers are slow on this CPU.
//   - One 64-byte load per lane and a full 16x16 dword transposition in
//     registers (64 shuffles): fast, but it needs 24 registers, so it cannot
//     overlap with four groups of rounds, and it ran as a separate phase.
//   - Loading 128-bit chunks: few registers, but lanes whose addresses alias
//     in L1 (for example messages 4 KiB apart) evict each other between the
//     four loads of a line, costing 40%.
//
// The kernel loads each lane's block with one 64-byte load, interleaves
// dwords and qwords of each quad of lanes with 8 unpacks, and stores the
// 128-bit pieces to their place in a scratch buffer of transposed words
// (c.words), which the rounds read as memory operands. This needs only 8
// registers, so it is software pipelined: the loads and the transposition of
// block k+1 are spread over the rounds of block k, in the gaps of the
// dependency chain, and nearly free.
//
// Each lane's data is also prefetched two blocks ahead (PREFETCHT0, 128
// bytes past the block being loaded). A consumer hashes a response it has
// just decoded, often on another core, so the messages are in another
// core's cache or in memory; 64 sequential streams are more than the
// hardware prefetchers follow, and without the hint the kernel waited on
// memory: in a fan-out consumer the digests of a response took 3.5 times
// as long as a second pass over the same, now cached, data. The hint
// halved that (BenchmarkAggregatesCold). A prefetch past the end of a
// message is harmless: it never faults and reads nothing into a register.
//
// # Lane scheduling
//
// A Go driver (sumSIMD) keeps the 64 lanes busy. A lane hashes a message in
// place, block by block, then one or two padding blocks that the driver
// built in the lane's own 128-byte tail buffer (the last partial block, the
// 0x80 byte, zeros and the bit length); the kernel switches a lane from its
// message to its tail by itself when the lane's count of whole blocks runs
// out. A kernel call runs as many blocks as the working lane closest to its
// end has left, so no lane reads past its message; after each call the
// lanes that are done write their digest and take the next message, whose
// lane state the kernel resets to the MD5 initial values. When no message is
// left, finished lanes go idle: they re-read their own tail buffer (stride
// 0), never memory outside the ctx. Messages of very different sizes
// therefore keep the lanes full; a single 1 MB message among a hundred tiny
// ones costs what the 1 MB message costs alone.
//
// The pointers the garbage collector sees (ctx.ptr) always point inside a
// message or a tail buffer; the kernel advances a plain-integer copy.
//
// # Small batches and stragglers
//
// A kernel call costs about 400 ns for one block and 200 ns per further
// block no matter how few lanes work, and crypto/md5 about 20 ns per message
// plus 83 ns per block, so:
//
//   - 1 or 2 messages always go to crypto/md5;
//   - 3 to 7 messages are costed with those numbers (12-byte keys break even
//     around 5 messages, 1 KB messages around 3);
//   - 8 or more always go to the kernel;
//   - when only one or two lanes are still working on long messages and no
//     message is left to start, those lanes are finished by crypto/md5,
//     resumed from the lanes' chaining values through the hash's
//     BinaryUnmarshaler state.
//
// # Portability
//
// The kernel needs AVX-512 F and VL, detected with CPUID, and an OS that
// saves the opmask and ZMM state (XGETBV: XCR0 bits 1, 2, 5, 6 and 7).
// Without them, on other architectures, or with the purego build tag, every
// message goes through crypto/md5. Tests force that fallback with
// forceGeneric to cover both paths.
//
// The driver's scratch memory (~22 KB per call, for the 64 lanes' tail
// buffers and transposed words) comes from a sync.Pool: no allocation per
// call in steady state.
//
// md5x_amd64.s and layout_amd64.go are generated by asm_gen.go
// (go generate); the number of interleaved groups is a flag there.
package md5x
