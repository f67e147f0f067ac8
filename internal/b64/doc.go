// Package b64 is a drop-in, SIMD-accelerated replacement for
// base64.StdEncoding.Decode, used for the base64 "Data" fields of Kinesis
// GetRecords responses (100 B to 10 MB each).
//
// # Contract
//
// Decode(dst, src) behaves exactly like base64.StdEncoding.Decode(dst, src):
// same n, same dst[:n], an error exactly when the stdlib returns one (in
// practice the very same base64.CorruptInputError offset), including the
// stdlib's leniencies: '\r' and '\n' are skipped anywhere, padding is
// required, and non-zero unused bits in the last character before the
// padding are accepted (StdEncoding is not Strict). Bytes of dst past n are
// unspecified, as with the stdlib. Decode writes nothing past
// dst[:DecodedLen(len(src))] and does not allocate.
//
// # Exactness strategy
//
// The SIMD kernels never interpret anything but the standard alphabet. A
// kernel decodes src from the front in blocks and stops in front of the
// first block that contains any other byte — '=', '\r', '\n' or an invalid
// byte — so what it consumes is a whole number of 4-character quanta of
// alphabet characters. encoding/base64 decodes such a prefix without error
// into exactly the same bytes and reaches the same state (input offset c,
// c/4*3 bytes written) as the kernel, so Decode hands the rest,
// src[c:] and dst[c/4*3:], to base64.StdEncoding.Decode and adds c to the
// offset of any CorruptInputError it returns. Everything subtle (padding,
// line breaks, errors, trailing bits) is therefore decided by the stdlib
// itself. A final padded quantum ("xx==" or "xxx=" with alphabet
// characters x) is decoded inline instead, since that is the common end of
// every record; anything else there still goes to the stdlib. Inputs
// shorter than a per-path cutoff go to the stdlib directly.
//
// # Paths
//
//   - avx512vbmi (amd64 with AVX-512 F, BW and VBMI, and ZMM state enabled by
//     the OS in XCR0): 64 characters per block. VPERMI2B translates bytes
//     through a 128-entry table (0x80 marks invalid characters; input bytes
//     with bit 7 set are caught by OR-ing the input in), VPMADDUBSW and
//     VPMADDWD pack four 6-bit values into 24 bits per 32-bit lane, VPERMB
//     compacts 64 to 48 bytes. Four blocks are validated before any is
//     stored. The last 4..60 characters are decoded as a block covering the
//     last 64 characters, overlapping output already written; inputs under
//     64 characters use masked loads and stores.
//   - avx2 (amd64 with AVX2 and YMM state enabled): 32 characters per block.
//     Validation and translation use VPSHUFB nibble lookups (a class bitmap
//     per high and low nibble; an offset per high nibble, with '/' as the
//     special case), packing is the same multiply-add pair, then VPSHUFB and
//     VPERMD compact 32 to 24 bytes. The final partial block overlaps like
//     above.
//   - generic (other architectures, the purego build tag, or CPUs without
//     AVX2): encoding/base64.
//
// CPU features are read with CPUID and XGETBV (cpu_amd64.s); the best path
// is chosen once at init. Tests force each path with setPath and verify
// that the SIMD kernels run and consume input on machines that have them
// (and, in a purego build, that only the generic path exists).
// Differences from the stdlib that remain: after the first non-alphabet
// byte (e.g. a line break in MIME-wrapped input) the rest of the input is
// decoded at stdlib speed.
package b64
