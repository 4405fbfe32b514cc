//go:build amd64 && !purego

#include "textflag.h"

// One 16-byte chunk at off(SI): its stop bits (quote, backslash, below
// 0x20) go to the low 16 bits of reg. X12, X13 and X14 hold '"', '\\'
// and 0x1f in every byte.
#define CHUNK(off, reg) \
	MOVOU   off(SI), X0 \
	MOVO    X0, X1      \
	PCMPEQB X12, X1     \
	MOVO    X0, X2      \
	PCMPEQB X13, X2     \
	PMAXUB  X14, X0     \
	PCMPEQB X14, X0     \
	POR     X1, X0      \
	POR     X2, X0      \
	PMOVMSKB X0, reg

// func indexBlocksSSE2(b []byte, stops []uint64)
TEXT ·indexBlocksSSE2(SB), NOSPLIT, $0-48
	MOVQ b_base+0(FP), SI
	MOVQ stops_base+24(FP), DI
	MOVQ stops_len+32(FP), CX
	MOVQ $0x2222222222222222, AX
	MOVQ AX, X12
	PUNPCKLQDQ X12, X12
	MOVQ $0x5c5c5c5c5c5c5c5c, AX
	MOVQ AX, X13
	PUNPCKLQDQ X13, X13
	MOVQ $0x1f1f1f1f1f1f1f1f, AX
	MOVQ AX, X14
	PUNPCKLQDQ X14, X14
	TESTQ CX, CX
	JZ   done

loop:
	CHUNK(0, AX)
	CHUNK(16, BX)
	CHUNK(32, DX)
	CHUNK(48, R8)
	SHLQ $16, BX
	SHLQ $32, DX
	SHLQ $48, R8
	ORQ  BX, AX
	ORQ  DX, AX
	ORQ  R8, AX
	MOVQ AX, (DI)
	ADDQ $64, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  loop

done:
	RET

// One 32-byte chunk at off(SI): its stop bits go to the low 32 bits of
// reg. A byte is a stop if it is a backslash, or if, with bit 1 flipped,
// it is at most 0x20: that takes the bytes below 0x20 and the quote
// (0x22 flipped is 0x20), and no other. Y13, Y14 and Y15 hold '\\', 0x20
// and 0x02 in every byte. The chunk is read twice from memory, by the two
// instructions that need it, rather than loaded once into a register.
#define CHUNK32(off, reg) \
	VPCMPEQB  off(SI), Y13, Y1  \
	VPXOR     off(SI), Y15, Y0  \
	VPMAXUB   Y14, Y0, Y2       \
	VPCMPEQB  Y14, Y2, Y2       \
	VPOR      Y1, Y2, Y2        \
	VPMOVMSKB Y2, reg

// func indexBlocksAVX2(b []byte, stops []uint64)
TEXT ·indexBlocksAVX2(SB), NOSPLIT, $0-48
	MOVQ b_base+0(FP), SI
	MOVQ stops_base+24(FP), DI
	MOVQ stops_len+32(FP), CX
	MOVQ $0x5c, AX
	MOVQ AX, X13
	VPBROADCASTB X13, Y13
	MOVQ $0x20, AX
	MOVQ AX, X14
	VPBROADCASTB X14, Y14
	MOVQ $0x02, AX
	MOVQ AX, X15
	VPBROADCASTB X15, Y15

avxpairs:
	// Two words, 128 bytes, at a time.
	CMPQ CX, $2
	JLT  avxone
	CHUNK32(0, AX)
	CHUNK32(32, BX)
	CHUNK32(64, DX)
	CHUNK32(96, R8)
	SHLQ $32, BX
	ORQ  BX, AX
	SHLQ $32, R8
	ORQ  R8, DX
	MOVQ AX, (DI)
	MOVQ DX, 8(DI)
	ADDQ $128, SI
	ADDQ $16, DI
	SUBQ $2, CX
	JMP  avxpairs

avxone:
	TESTQ CX, CX
	JZ   avxdone
	CHUNK32(0, AX)
	CHUNK32(32, BX)
	SHLQ $32, BX
	ORQ  BX, AX
	MOVQ AX, (DI)

avxdone:
	VZEROUPPER
	RET
