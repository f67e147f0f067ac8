//go:build amd64 && !purego

#include "textflag.h"

// Kernels for Decode. Both have the signature
//
//	func kernel(dst, src []byte) (consumed int)
//
// and decode the longest prefix of src made of whole blocks (64 characters for
// AVX-512, 32 for AVX2, plus a masked partial block of a multiple of 4
// characters for AVX-512) that contain only characters of the standard
// alphabet, writing exactly consumed/4*3 bytes to dst. They stop in front of
// the first block holding anything else ('=', '\r', '\n', invalid bytes) and
// never read outside src nor write outside dst[:len(src)/4*3]. The caller
// guarantees len(dst) >= len(src)/4*3.

// vbmiLUT maps an ASCII character (index 0..127) to its 6-bit value, or to
// 0x80 when it is not in the standard alphabet. Bytes >= 0x80 are caught by
// OR-ing the input into the result before testing bit 7.
DATA vbmiLUT<>+0x00(SB)/8, $0x8080808080808080
DATA vbmiLUT<>+0x08(SB)/8, $0x8080808080808080
DATA vbmiLUT<>+0x10(SB)/8, $0x8080808080808080
DATA vbmiLUT<>+0x18(SB)/8, $0x8080808080808080
DATA vbmiLUT<>+0x20(SB)/8, $0x8080808080808080
DATA vbmiLUT<>+0x28(SB)/8, $0x3f8080803e808080
DATA vbmiLUT<>+0x30(SB)/8, $0x3b3a393837363534
DATA vbmiLUT<>+0x38(SB)/8, $0x8080808080803d3c
DATA vbmiLUT<>+0x40(SB)/8, $0x0605040302010080
DATA vbmiLUT<>+0x48(SB)/8, $0x0e0d0c0b0a090807
DATA vbmiLUT<>+0x50(SB)/8, $0x161514131211100f
DATA vbmiLUT<>+0x58(SB)/8, $0x8080808080191817
DATA vbmiLUT<>+0x60(SB)/8, $0x201f1e1d1c1b1a80
DATA vbmiLUT<>+0x68(SB)/8, $0x2827262524232221
DATA vbmiLUT<>+0x70(SB)/8, $0x302f2e2d2c2b2a29
DATA vbmiLUT<>+0x78(SB)/8, $0x8080808080333231
GLOBL vbmiLUT<>(SB), RODATA|NOPTR, $128
// vbmiPack gathers the three significant bytes of each 32-bit lane (holding
// a<<18|b<<12|c<<6|d, little endian) in big-endian order: 64 -> 48 bytes.
DATA vbmiPack<>+0x00(SB)/8, $0x090a040506000102
DATA vbmiPack<>+0x08(SB)/8, $0x161011120c0d0e08
DATA vbmiPack<>+0x10(SB)/8, $0x1c1d1e18191a1415
DATA vbmiPack<>+0x18(SB)/8, $0x292a242526202122
DATA vbmiPack<>+0x20(SB)/8, $0x363031322c2d2e28
DATA vbmiPack<>+0x28(SB)/8, $0x3c3d3e38393a3435
DATA vbmiPack<>+0x30(SB)/8, $0x0000000000000000
DATA vbmiPack<>+0x38(SB)/8, $0x0000000000000000
GLOBL vbmiPack<>(SB), RODATA|NOPTR, $64
// mergeMul holds the VPMADDUBSW multipliers (0x40, 0x01 per byte pair)
// followed by the VPMADDWD multipliers (0x1000, 0x0001 per word pair), each
// 32 bytes so that the AVX2 kernel can use them as memory operands.
DATA mergeMul<>+0x00(SB)/8, $0x0140014001400140
DATA mergeMul<>+0x08(SB)/8, $0x0140014001400140
DATA mergeMul<>+0x10(SB)/8, $0x0140014001400140
DATA mergeMul<>+0x18(SB)/8, $0x0140014001400140
DATA mergeMul<>+0x20(SB)/8, $0x0001100000011000
DATA mergeMul<>+0x28(SB)/8, $0x0001100000011000
DATA mergeMul<>+0x30(SB)/8, $0x0001100000011000
DATA mergeMul<>+0x38(SB)/8, $0x0001100000011000
GLOBL mergeMul<>(SB), RODATA|NOPTR, $64

// AVX2 tables (16-byte VPSHUFB tables, repeated in both 128-bit lanes).
//
// Validation: a byte with high nibble h and low nibble l is in the alphabet
// iff avx2LoClass[l] & avx2HiClass[h] == 0. Each bit of avx2HiClass names a
// class of high nibbles (bit 0: 0x2_, bit 1: 0x3_, bit 2: 0x4_/0x6_, bit 3:
// 0x5_/0x7_, bit 4: everything else), and avx2LoClass[l] has the bits of the
// classes in which l is NOT a valid low nibble.
//
// Translation: value = byte + avx2Shift[h - (byte == '/')].
DATA avx2LoClass<>+0x00(SB)/8, $0x1111111111111115
DATA avx2LoClass<>+0x08(SB)/8, $0x1a1b1b1b1a131111
DATA avx2LoClass<>+0x10(SB)/8, $0x1111111111111115
DATA avx2LoClass<>+0x18(SB)/8, $0x1a1b1b1b1a131111
GLOBL avx2LoClass<>(SB), RODATA|NOPTR, $32

DATA avx2HiClass<>+0x00(SB)/8, $0x0804080402011010
DATA avx2HiClass<>+0x08(SB)/8, $0x1010101010101010
DATA avx2HiClass<>+0x10(SB)/8, $0x0804080402011010
DATA avx2HiClass<>+0x18(SB)/8, $0x1010101010101010
GLOBL avx2HiClass<>(SB), RODATA|NOPTR, $32

DATA avx2Shift<>+0x00(SB)/8, $0xb9b9bfbf04131000
DATA avx2Shift<>+0x08(SB)/8, $0x0000000000000000
DATA avx2Shift<>+0x10(SB)/8, $0xb9b9bfbf04131000
DATA avx2Shift<>+0x18(SB)/8, $0x0000000000000000
GLOBL avx2Shift<>(SB), RODATA|NOPTR, $32

DATA avx2Pack<>+0x00(SB)/8, $0x090a040506000102
DATA avx2Pack<>+0x08(SB)/8, $0x808080800c0d0e08
DATA avx2Pack<>+0x10(SB)/8, $0x090a040506000102
DATA avx2Pack<>+0x18(SB)/8, $0x808080800c0d0e08
GLOBL avx2Pack<>(SB), RODATA|NOPTR, $32


// avx2Misc: 32 x 0x0f, 32 x '/', then the VPERMD indices that gather the
// 12 bytes of each lane into the low 24 bytes.
DATA avx2Misc<>+0x00(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA avx2Misc<>+0x08(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA avx2Misc<>+0x10(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA avx2Misc<>+0x18(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA avx2Misc<>+0x20(SB)/8, $0x2f2f2f2f2f2f2f2f
DATA avx2Misc<>+0x28(SB)/8, $0x2f2f2f2f2f2f2f2f
DATA avx2Misc<>+0x30(SB)/8, $0x2f2f2f2f2f2f2f2f
DATA avx2Misc<>+0x38(SB)/8, $0x2f2f2f2f2f2f2f2f
DATA avx2Misc<>+0x40(SB)/8, $0x0000000100000000
DATA avx2Misc<>+0x48(SB)/8, $0x0000000400000002
DATA avx2Misc<>+0x50(SB)/8, $0x0000000600000005
DATA avx2Misc<>+0x58(SB)/8, $0x0000000700000007
GLOBL avx2Misc<>(SB), RODATA|NOPTR, $96

// VBMI_STORE48 stores the low 48 bytes of Z0..Z31 register z (whose low
// 128-bit and 256-bit parts are x and y) at mem and mem+32.
#define VBMI_STORE48(z, y, x, tmpx, mem, mem32) \
	VMOVDQU        y, mem;   \
	VEXTRACTI32X4  $2, z, tmpx; \
	VMOVDQU        tmpx, mem32

// func decodeAVX512VBMI(dst, src []byte) (consumed int)
//
// Per 64-character block: VPERMI2B looks every byte up in vbmiLUT (two
// 64-byte tables selected by bit 6, bit 7 ignored); the block is clean iff no
// byte of (input | translated) has bit 7 set. VPMADDUBSW and VPMADDWD merge
// the four 6-bit values of each 32-bit lane into 24 bits, VPERMB compacts the
// 16 lanes into 48 bytes.
//
// The main loop validates four blocks before storing any of them; a group
// with a bad block is redone one block at a time. The remaining 4..60
// characters are done as one block covering the last 64 characters of src,
// overlapping blocks already decoded (their output is rewritten with the same
// bytes); it is loaded before anything is stored, so that decoding in place
// works. Inputs shorter than 64 characters use a masked load and store.
TEXT ·decodeAVX512VBMI(SB), NOSPLIT, $0-56
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	MOVQ SI, R8
	ANDQ $-4, CX
	JZ   vbmi_ret

	VMOVDQU64    vbmiLUT<>+0x00(SB), Z28
	VMOVDQU64    vbmiLUT<>+0x40(SB), Z29
	VMOVDQU64    vbmiPack<>(SB), Z27
	VPBROADCASTD mergeMul<>+0x00(SB), Z30
	VPBROADCASTD mergeMul<>+0x20(SB), Z31

	CMPQ      CX, $64
	JB        vbmi_short
	VMOVDQU64 -64(SI)(CX*1), Z26 // last 64 characters
	CMPQ      CX, $256
	JB        vbmi_one

vbmi_four:
	VMOVDQU64  0(SI), Z0
	VMOVDQU64  64(SI), Z1
	VMOVDQU64  128(SI), Z2
	VMOVDQU64  192(SI), Z3
	VPERMI2B   Z29, Z28, Z0
	VPERMI2B   Z29, Z28, Z1
	VPERMI2B   Z29, Z28, Z2
	VPERMI2B   Z29, Z28, Z3
	VPORQ      0(SI), Z0, Z4
	VPTERNLOGD $0xfe, 64(SI), Z1, Z4  // Z4 |= Z1 | input1
	VPTERNLOGD $0xfe, 128(SI), Z2, Z4
	VPTERNLOGD $0xfe, 192(SI), Z3, Z4
	VPMOVB2M   Z4, K1
	KORTESTQ   K1, K1
	JNZ        vbmi_one

	VPMADDUBSW Z30, Z0, Z0
	VPMADDUBSW Z30, Z1, Z1
	VPMADDUBSW Z30, Z2, Z2
	VPMADDUBSW Z30, Z3, Z3
	VPMADDWD   Z31, Z0, Z0
	VPMADDWD   Z31, Z1, Z1
	VPMADDWD   Z31, Z2, Z2
	VPMADDWD   Z31, Z3, Z3
	VPERMB     Z0, Z27, Z0
	VPERMB     Z1, Z27, Z1
	VPERMB     Z2, Z27, Z2
	VPERMB     Z3, Z27, Z3

	// Full 64-byte stores overlap the next block's output, which is
	// stored later; only the last block of the group is stored exactly.
	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 48(DI)
	VMOVDQU64 Z2, 96(DI)
	VBMI_STORE48(Z3, Y3, X3, X5, 144(DI), 176(DI))

	ADDQ $256, SI
	ADDQ $192, DI
	SUBQ $256, CX
	CMPQ CX, $256
	JAE  vbmi_four

vbmi_one:
	CMPQ       CX, $64
	JB         vbmi_last
	VMOVDQU64  (SI), Z0
	VPERMI2B   Z29, Z28, Z0
	VPORQ      (SI), Z0, Z4
	VPMOVB2M   Z4, K1
	KORTESTQ   K1, K1
	JNZ        vbmi_done
	VPMADDUBSW Z30, Z0, Z0
	VPMADDWD   Z31, Z0, Z0
	VPERMB     Z0, Z27, Z0
	VBMI_STORE48(Z0, Y0, X0, X5, (DI), 32(DI))
	ADDQ       $64, SI
	ADDQ       $48, DI
	SUBQ       $64, CX
	JMP        vbmi_one

vbmi_last:
	// 0 <= CX < 64, CX%4 == 0, and at least one block precedes.
	TESTQ      CX, CX
	JZ         vbmi_done
	VMOVDQA64  Z26, Z0
	VPERMI2B   Z29, Z28, Z0
	VPORQ      Z26, Z0, Z4
	VPMOVB2M   Z4, K1
	KORTESTQ   K1, K1
	JNZ        vbmi_done
	VPMADDUBSW Z30, Z0, Z0
	VPMADDWD   Z31, Z0, Z0
	VPERMB     Z0, Z27, Z0
	MOVQ       CX, AX
	SHRQ       $2, AX
	LEAQ       (AX)(AX*2), AX // bytes of new output
	VBMI_STORE48(Z0, Y0, X0, X5, -48(DI)(AX*1), -16(DI)(AX*1))
	ADDQ       CX, SI
	JMP        vbmi_done

vbmi_short:
	// 0 < CX < 64, CX%4 == 0.
	MOVQ       CX, R9
	MOVQ       $-1, AX
	SHLQ       CX, AX
	NOTQ       AX
	KMOVQ      AX, K1              // input mask: low CX bytes
	VMOVDQU8.Z (SI), K1, Z0
	VMOVDQA64  Z0, Z5
	VPERMI2B   Z29, Z28, Z0
	VPORQ      Z5, Z0, Z4
	VPMOVB2M   Z4, K3
	KTESTQ     K1, K3
	JNZ        vbmi_done
	VPMADDUBSW Z30, Z0, Z0
	VPMADDWD   Z31, Z0, Z0
	VPERMB     Z0, Z27, Z0
	SHRQ       $2, CX
	LEAQ       (CX)(CX*2), CX
	MOVQ       $-1, AX
	SHLQ       CX, AX
	NOTQ       AX
	KMOVQ      AX, K3              // output mask: low CX/4*3 bytes
	VMOVDQU8   Z0, K3, (DI)
	ADDQ       R9, SI

vbmi_done:
	VZEROUPPER

vbmi_ret:
	SUBQ R8, SI
	MOVQ SI, consumed+48(FP)
	RET

// AVX2_TRANSLATE loads 32 characters from in, leaves their 6-bit values in v
// and a validity mask in cls (zero iff all are in the alphabet). Uses Y5, Y7.
#define AVX2_TRANSLATE(in, v, cls) \
	VMOVDQU  in, v;       \
	VPSRLD   $4, v, Y5;   \
	VPAND    Y13, Y5, Y5; \
	VPAND    Y13, v, cls; \
	VPSHUFB  cls, Y10, cls; \
	VPSHUFB  Y5, Y11, Y7; \
	VPAND    Y7, cls, cls; \
	VPCMPEQB Y14, v, Y7;  \
	VPADDB   Y7, Y5, Y5;  \
	VPSHUFB  Y5, Y12, Y5; \
	VPADDB   Y5, v, v

// AVX2_PACK turns 32 6-bit values in v into 24 bytes in the low part of v.
#define AVX2_PACK(v) \
	VPMADDUBSW mergeMul<>+0x00(SB), v, v; \
	VPMADDWD   mergeMul<>+0x20(SB), v, v; \
	VPSHUFB    avx2Pack<>(SB), v, v;      \
	VPERMD     v, Y15, v

// func decodeAVX2(dst, src []byte) (consumed int)
//
// Same contract as decodeAVX512VBMI with 32-character blocks. Instead of a
// masked partial block, a final block covers the last 32 characters,
// overlapping the blocks already decoded (only when len(src) >= 32).
TEXT ·decodeAVX2(SB), NOSPLIT, $0-56
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	MOVQ SI, R8
	ANDQ $-4, CX
	CMPQ CX, $32
	JB   avx2_ret

	VMOVDQU avx2LoClass<>(SB), Y10
	VMOVDQU avx2HiClass<>(SB), Y11
	VMOVDQU avx2Shift<>(SB), Y12
	VMOVDQU avx2Misc<>+0x00(SB), Y13
	VMOVDQU avx2Misc<>+0x20(SB), Y14
	VMOVDQU avx2Misc<>+0x40(SB), Y15

	// The last 32 characters, for the final overlapping block. Loaded
	// before anything is stored so that decoding in place works.
	VMOVDQU -32(SI)(CX*1), Y9

	CMPQ CX, $128
	JB   avx2_one

avx2_four:
	AVX2_TRANSLATE(0(SI), Y0, Y4)
	AVX2_TRANSLATE(32(SI), Y1, Y6)
	VPOR Y6, Y4, Y4
	AVX2_TRANSLATE(64(SI), Y2, Y6)
	VPOR Y6, Y4, Y4
	AVX2_TRANSLATE(96(SI), Y3, Y6)
	VPOR Y6, Y4, Y4
	VPTEST Y4, Y4
	JNZ    avx2_one

	AVX2_PACK(Y0)
	AVX2_PACK(Y1)
	AVX2_PACK(Y2)
	AVX2_PACK(Y3)

	// 32-byte stores overlap the next block's output, stored later.
	VMOVDQU      Y0, 0(DI)
	VMOVDQU      Y1, 24(DI)
	VMOVDQU      Y2, 48(DI)
	VMOVDQU      X3, 72(DI)
	VEXTRACTI128 $1, Y3, X5
	MOVQ         X5, 88(DI)

	ADDQ $128, SI
	ADDQ $96, DI
	SUBQ $128, CX
	CMPQ CX, $128
	JAE  avx2_four

avx2_one:
	CMPQ CX, $32
	JB   avx2_last
	AVX2_TRANSLATE((SI), Y0, Y4)
	VPTEST Y4, Y4
	JNZ    avx2_done
	AVX2_PACK(Y0)
	VMOVDQU      X0, (DI)
	VEXTRACTI128 $1, Y0, X5
	MOVQ         X5, 16(DI)
	ADDQ         $32, SI
	ADDQ         $24, DI
	SUBQ         $32, CX
	JMP          avx2_one

avx2_last:
	// 0 <= CX < 32, CX%4 == 0, and at least one block precedes. Decode the
	// last 32 characters (preloaded in Y9); the part overlapping the blocks
	// already done is clean and is rewritten with the same bytes.
	TESTQ        CX, CX
	JZ           avx2_done
	AVX2_TRANSLATE(Y9, Y0, Y4)
	VPTEST       Y4, Y4
	JNZ          avx2_done
	AVX2_PACK(Y0)
	MOVQ         CX, AX
	SHRQ         $2, AX
	LEAQ         (AX)(AX*2), AX // bytes of new output
	VMOVDQU      X0, -24(DI)(AX*1)
	VEXTRACTI128 $1, Y0, X5
	MOVQ         X5, -8(DI)(AX*1)
	ADDQ         CX, SI

avx2_done:
	VZEROUPPER

avx2_ret:
	SUBQ R8, SI
	MOVQ SI, consumed+48(FP)
	RET
