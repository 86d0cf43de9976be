//go:build amd64 && !noasm

// Batch normalisation passes over rows of c channels (see bn_amd64.go).
// Written by hand, not by gen_amd64.go: they share nothing with the
// exponential. Each loop covers the first c &^ 7 channels of a row, 16 at
// a time and then one step of 8; the per-channel operands are reread from
// L1 for every row. The sums accumulate in float64 (8 lanes per step):
// the conversion costs nothing against the memory traffic.

#include "textflag.h"

// func bnNormAVX512(dst, x, m, a, b *float32, rows, c int)
TEXT ·bnNormAVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ a+24(FP), R9
	MOVQ b+32(FP), R10
	MOVQ rows+40(FP), CX
	MOVQ c+48(FP), DX
	LEAQ (DX*4), BX   // row stride in bytes
	MOVQ BX, R11
	ANDQ $-64, R11    // bytes covered by 16-wide steps
	MOVQ BX, R12
	ANDQ $-32, R12    // bytes covered by all steps
	TESTQ CX, CX
	JLE normDone

normRow:
	XORQ AX, AX
	CMPQ AX, R11
	JGE normTail

normLoop:
	VMOVUPS (SI)(AX*1), Z0
	VSUBPS (R8)(AX*1), Z0, Z0
	VMOVUPS (R9)(AX*1), Z1
	VFMADD213PS (R10)(AX*1), Z1, Z0
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ $64, AX
	CMPQ AX, R11
	JLT normLoop

normTail:
	CMPQ AX, R12
	JGE normNext
	VMOVUPS (SI)(AX*1), Y0
	VSUBPS (R8)(AX*1), Y0, Y0
	VMOVUPS (R9)(AX*1), Y1
	VFMADD213PS (R10)(AX*1), Y1, Y0
	VMOVUPS Y0, (DI)(AX*1)

normNext:
	ADDQ BX, SI
	ADDQ BX, DI
	DECQ CX
	JNZ normRow

normDone:
	VZEROUPPER
	RET

// func bnNormGradAVX512(dst, dy, x, m, a, xc, b *float32, rows, c int)
TEXT ·bnNormGradAVX512(SB), NOSPLIT, $0-72
	MOVQ dst+0(FP), DI
	MOVQ dy+8(FP), R13
	MOVQ x+16(FP), SI
	MOVQ m+24(FP), R8
	MOVQ a+32(FP), R9
	MOVQ xc+40(FP), R10
	MOVQ b+48(FP), DX
	MOVQ rows+56(FP), CX
	MOVQ c+64(FP), BX
	SHLQ $2, BX       // row stride in bytes
	MOVQ BX, R11
	ANDQ $-64, R11
	MOVQ BX, R12
	ANDQ $-32, R12
	TESTQ CX, CX
	JLE gradDone

gradRow:
	XORQ AX, AX
	CMPQ AX, R11
	JGE gradTail

gradLoop:
	VMOVUPS (SI)(AX*1), Z0
	VSUBPS (R8)(AX*1), Z0, Z0
	VMOVUPS (R10)(AX*1), Z1
	VFMADD213PS (DX)(AX*1), Z1, Z0
	VMOVUPS (R13)(AX*1), Z2
	VFMADD231PS (R9)(AX*1), Z2, Z0
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ $64, AX
	CMPQ AX, R11
	JLT gradLoop

gradTail:
	CMPQ AX, R12
	JGE gradNext
	VMOVUPS (SI)(AX*1), Y0
	VSUBPS (R8)(AX*1), Y0, Y0
	VMOVUPS (R10)(AX*1), Y1
	VFMADD213PS (DX)(AX*1), Y1, Y0
	VMOVUPS (R13)(AX*1), Y2
	VFMADD231PS (R9)(AX*1), Y2, Y0
	VMOVUPS Y0, (DI)(AX*1)

gradNext:
	ADDQ BX, SI
	ADDQ BX, DI
	ADDQ BX, R13
	DECQ CX
	JNZ gradRow

gradDone:
	VZEROUPPER
	RET

// func bnSumsAVX512(s1, s2 *float64, x *float32, base *float64, rows, c int)
TEXT ·bnSumsAVX512(SB), NOSPLIT, $0-48
	MOVQ s1+0(FP), DI
	MOVQ s2+8(FP), R9
	MOVQ x+16(FP), SI
	MOVQ base+24(FP), R8
	MOVQ rows+32(FP), CX
	MOVQ c+40(FP), BX
	SHLQ $2, BX       // row stride in bytes
	MOVQ BX, R12
	ANDQ $-32, R12    // float32 bytes covered by 8-wide steps
	TESTQ CX, CX
	JLE sumsDone
	TESTQ R12, R12
	JZ sumsDone

sumsRow:
	XORQ AX, AX       // float32 byte offset; float64 operands at 2·AX

sumsLoop:
	VCVTPS2PD (SI)(AX*1), Z0
	VSUBPD (R8)(AX*2), Z0, Z0
	VADDPD (DI)(AX*2), Z0, Z1
	VMOVUPD Z1, (DI)(AX*2)
	VMOVUPD (R9)(AX*2), Z2
	VFMADD231PD Z0, Z0, Z2
	VMOVUPD Z2, (R9)(AX*2)
	ADDQ $32, AX
	CMPQ AX, R12
	JLT sumsLoop

	ADDQ BX, SI
	DECQ CX
	JNZ sumsRow

sumsDone:
	VZEROUPPER
	RET

// func bnGradSumsAVX512(sg, sgx *float64, dy, x *float32, m *float64, rows, c int)
TEXT ·bnGradSumsAVX512(SB), NOSPLIT, $0-56
	MOVQ sg+0(FP), DI
	MOVQ sgx+8(FP), R9
	MOVQ dy+16(FP), DX
	MOVQ x+24(FP), SI
	MOVQ m+32(FP), R8
	MOVQ rows+40(FP), CX
	MOVQ c+48(FP), BX
	SHLQ $2, BX
	MOVQ BX, R12
	ANDQ $-32, R12
	TESTQ CX, CX
	JLE gsDone
	TESTQ R12, R12
	JZ gsDone

gsRow:
	XORQ AX, AX

gsLoop:
	VCVTPS2PD (DX)(AX*1), Z0
	VCVTPS2PD (SI)(AX*1), Z1
	VSUBPD (R8)(AX*2), Z1, Z1
	VADDPD (DI)(AX*2), Z0, Z2
	VMOVUPD Z2, (DI)(AX*2)
	VMOVUPD (R9)(AX*2), Z3
	VFMADD231PD Z1, Z0, Z3
	VMOVUPD Z3, (R9)(AX*2)
	ADDQ $32, AX
	CMPQ AX, R12
	JLT gsLoop

	ADDQ BX, SI
	ADDQ BX, DX
	DECQ CX
	JNZ gsRow

gsDone:
	VZEROUPPER
	RET

// The AVX2 versions run 8 channels per step (two 4-lane halves for the
// float64 sums) over the same first c &^ 7 channels.

// func bnNormAVX2(dst, x, m, a, b *float32, rows, c int)
TEXT ·bnNormAVX2(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ a+24(FP), R9
	MOVQ b+32(FP), R10
	MOVQ rows+40(FP), CX
	MOVQ c+48(FP), BX
	SHLQ $2, BX
	MOVQ BX, R12
	ANDQ $-32, R12
	TESTQ CX, CX
	JLE norm2Done
	TESTQ R12, R12
	JZ norm2Done

norm2Row:
	XORQ AX, AX

norm2Loop:
	VMOVUPS (SI)(AX*1), Y0
	VSUBPS (R8)(AX*1), Y0, Y0
	VMOVUPS (R9)(AX*1), Y1
	VFMADD213PS (R10)(AX*1), Y1, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	CMPQ AX, R12
	JLT norm2Loop

	ADDQ BX, SI
	ADDQ BX, DI
	DECQ CX
	JNZ norm2Row

norm2Done:
	VZEROUPPER
	RET

// func bnNormGradAVX2(dst, dy, x, m, a, xc, b *float32, rows, c int)
TEXT ·bnNormGradAVX2(SB), NOSPLIT, $0-72
	MOVQ dst+0(FP), DI
	MOVQ dy+8(FP), R13
	MOVQ x+16(FP), SI
	MOVQ m+24(FP), R8
	MOVQ a+32(FP), R9
	MOVQ xc+40(FP), R10
	MOVQ b+48(FP), DX
	MOVQ rows+56(FP), CX
	MOVQ c+64(FP), BX
	SHLQ $2, BX
	MOVQ BX, R12
	ANDQ $-32, R12
	TESTQ CX, CX
	JLE grad2Done
	TESTQ R12, R12
	JZ grad2Done

grad2Row:
	XORQ AX, AX

grad2Loop:
	VMOVUPS (SI)(AX*1), Y0
	VSUBPS (R8)(AX*1), Y0, Y0
	VMOVUPS (R10)(AX*1), Y1
	VFMADD213PS (DX)(AX*1), Y1, Y0
	VMOVUPS (R13)(AX*1), Y2
	VFMADD231PS (R9)(AX*1), Y2, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	CMPQ AX, R12
	JLT grad2Loop

	ADDQ BX, SI
	ADDQ BX, DI
	ADDQ BX, R13
	DECQ CX
	JNZ grad2Row

grad2Done:
	VZEROUPPER
	RET

// func bnSumsAVX2(s1, s2 *float64, x *float32, base *float64, rows, c int)
TEXT ·bnSumsAVX2(SB), NOSPLIT, $0-48
	MOVQ s1+0(FP), DI
	MOVQ s2+8(FP), R9
	MOVQ x+16(FP), SI
	MOVQ base+24(FP), R8
	MOVQ rows+32(FP), CX
	MOVQ c+40(FP), BX
	SHLQ $2, BX
	MOVQ BX, R12
	ANDQ $-32, R12
	TESTQ CX, CX
	JLE sums2Done
	TESTQ R12, R12
	JZ sums2Done

sums2Row:
	XORQ AX, AX

sums2Loop:
	VCVTPS2PD (SI)(AX*1), Y0
	VCVTPS2PD 16(SI)(AX*1), Y1
	VSUBPD (R8)(AX*2), Y0, Y0
	VSUBPD 32(R8)(AX*2), Y1, Y1
	VADDPD (DI)(AX*2), Y0, Y2
	VMOVUPD Y2, (DI)(AX*2)
	VADDPD 32(DI)(AX*2), Y1, Y3
	VMOVUPD Y3, 32(DI)(AX*2)
	VMOVUPD (R9)(AX*2), Y4
	VFMADD231PD Y0, Y0, Y4
	VMOVUPD Y4, (R9)(AX*2)
	VMOVUPD 32(R9)(AX*2), Y5
	VFMADD231PD Y1, Y1, Y5
	VMOVUPD Y5, 32(R9)(AX*2)
	ADDQ $32, AX
	CMPQ AX, R12
	JLT sums2Loop

	ADDQ BX, SI
	DECQ CX
	JNZ sums2Row

sums2Done:
	VZEROUPPER
	RET

// func bnGradSumsAVX2(sg, sgx *float64, dy, x *float32, m *float64, rows, c int)
TEXT ·bnGradSumsAVX2(SB), NOSPLIT, $0-56
	MOVQ sg+0(FP), DI
	MOVQ sgx+8(FP), R9
	MOVQ dy+16(FP), DX
	MOVQ x+24(FP), SI
	MOVQ m+32(FP), R8
	MOVQ rows+40(FP), CX
	MOVQ c+48(FP), BX
	SHLQ $2, BX
	MOVQ BX, R12
	ANDQ $-32, R12
	TESTQ CX, CX
	JLE gs2Done
	TESTQ R12, R12
	JZ gs2Done

gs2Row:
	XORQ AX, AX

gs2Loop:
	VCVTPS2PD (DX)(AX*1), Y0
	VCVTPS2PD 16(DX)(AX*1), Y1
	VCVTPS2PD (SI)(AX*1), Y2
	VCVTPS2PD 16(SI)(AX*1), Y3
	VSUBPD (R8)(AX*2), Y2, Y2
	VSUBPD 32(R8)(AX*2), Y3, Y3
	VADDPD (DI)(AX*2), Y0, Y4
	VMOVUPD Y4, (DI)(AX*2)
	VADDPD 32(DI)(AX*2), Y1, Y5
	VMOVUPD Y5, 32(DI)(AX*2)
	VMOVUPD (R9)(AX*2), Y6
	VFMADD231PD Y2, Y0, Y6
	VMOVUPD Y6, (R9)(AX*2)
	VMOVUPD 32(R9)(AX*2), Y7
	VFMADD231PD Y3, Y1, Y7
	VMOVUPD Y7, 32(R9)(AX*2)
	ADDQ $32, AX
	CMPQ AX, R12
	JLT gs2Loop

	ADDQ BX, SI
	ADDQ BX, DX
	DECQ CX
	JNZ gs2Row

gs2Done:
	VZEROUPPER
	RET
