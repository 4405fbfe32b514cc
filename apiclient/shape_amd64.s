//go:build amd64 && !purego

#include "go_asm.h"
#include "textflag.h"

// The constants of the check of five \u escapes at once (see backslash):
// a backslash and a u at each escape's start, and the bytes that find the
// hex digits.
DATA escPattern<>+0(SB)/8, $0x755c00000000755c
DATA escPattern<>+8(SB)/8, $0x0000755c00000000
DATA escPattern<>+16(SB)/8, $0x00000000755c0000
DATA escPattern<>+24(SB)/8, $0x000000000000755c
GLOBL escPattern<>(SB), RODATA|NOPTR, $32

#define SPLAT(name, word) \
	DATA name<>+0(SB)/8, $word  \
	DATA name<>+8(SB)/8, $word  \
	DATA name<>+16(SB)/8, $word \
	DATA name<>+24(SB)/8, $word \
	GLOBL name<>(SB), RODATA|NOPTR, $32

SPLAT(escZero, 0x3030303030303030)
SPLAT(escNine, 0x0909090909090909)
SPLAT(escCase, 0x2020202020202020)
SPLAT(escLetter, 0x6161616161616161)
SPLAT(escFive, 0x0505050505050505)

// NONDIGITS: AX has bit 7 set in each of the eight bytes at R13 that is
// no digit, and no other bit: a byte is a digit iff, xored with '0', it
// is at most 9, i.e. adding 0x76 to its low seven bits carries nothing
// into bit 7 and its own bit 7 is clear. Eight bytes must be left; R14
// and R15 are lost.
#define NONDIGITS \
	MOVQ (SI)(R13*1), AX           \
	MOVQ $0x3030303030303030, R14  \
	XORQ R14, AX                   \
	MOVQ $0x7f7f7f7f7f7f7f7f, R14  \
	ANDQ AX, R14                   \
	MOVQ $0x7676767676767676, R15  \
	ADDQ R15, R14                  \
	ORQ  R14, AX                   \
	MOVQ $0x8080808080808080, R14  \
	ANDQ R14, AX

// LONGSTOP(out): the first stop at or after CX within 64 bytes, as
// stopWindow has it (the two words shifted by SHRD), for NEXTSTOP when the
// 57 bytes from CX hold none. CX is at most len(b), and the index has two
// zero words past the body's (crossMembers checks), so both words are
// there. R13 and R14 are lost; CX is kept.
#define LONGSTOP(out) \
	MOVQ  CX, R13                  \
	SHRQ  $6, R13                  \
	MOVQ  (DI)(R13*8), out         \
	MOVQ  8(DI)(R13*8), R14        \
	SHRQ  CX, R14, out             \
	TESTQ out, out                 \
	JZ    value                    \
	BSFQ  out, out

// NEXTSTOP(out): out is the first stop at or after CX, if one is within
// the 64 bytes from it (stopWindow's); it is below len(b), since the index
// marks no byte past the body. Else the value is the caller's. Each
// member's place hangs on the one before's end, so this is on the loop's
// longest chain: one unaligned load at CX's byte of the index, shifted by
// CX mod 8, finds a stop in the 57 bytes from CX with a shorter chain
// than LONGSTOP's two loads and SHRD (the decoder 2.5-3.5% faster on the
// varied pages); TZCNT sets CF when there is none, and JCC then skips
// LONGSTOP's eight instructions. The load ends within the index's first
// zero word past the body. R13 and R14 are lost; CX is kept.
#define NEXTSTOP(out) \
	MOVQ  CX, R13                  \
	SHRQ  $3, R13                  \
	MOVQ  (DI)(R13*1), out         \
	MOVQ  CX, R14                  \
	ANDQ  $7, R14                  \
	SHRXQ R14, out, out            \
	TZCNTQ out, out                \
	JCC   9(PC)                    \
	LONGSTOP(out)                  \
	ADDQ  CX, out

// func crossMembersAVX2(b []byte, stops []uint64, ms []shapeMember, k, i int, kept *[maxKept]keptValue) (int, int, int, crossed)
//
// crossMembersGeneric in effect, and more: it also crosses skipped strings
// with escapes, checked as scanner.escapes checks them. Whatever it does
// not take, it leaves to the caller, which decides. Registers: SI b, R8
// len(b), DI stops, R11 len(b)-32, R12 &ms[k], DX k, BX i, R9 kept, R10 the
// values recorded in it.
TEXT ·crossMembersAVX2(SB), NOSPLIT, $0-121
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), R8
	MOVQ stops_base+24(FP), DI
	MOVQ ms_base+48(FP), R12
	LEAQ -32(R8), R11
	MOVQ k+72(FP), DX
	MOVQ i+80(FP), BX
	MOVQ kept+88(FP), R9
	XORQ R10, R10
	MOVQ DX, AX
	IMULQ $shapeMember__size, AX
	ADDQ AX, R12

loop:
	// The literal: at most 32 bytes, with more than 32 left in b. A
	// longer one, and the sentinel after the last member (no count of
	// members), have exitMask for litMask, which no compare passes: the
	// 32 bits of the compare are inverted into a word whose high half is
	// all ones. A kept member's litMask has keptMask too, which sends it
	// the same way, so that a skipped one needs no look at its field.
	MOVQ shapeMember_lit+8(R12), CX
	CMPQ BX, R11
	JGE  long
	VMOVDQU   (SI)(BX*1), Y0
	VPCMPEQB  shapeMember_words(R12), Y0, Y0
	VPMOVMSKB Y0, AX
	NOTQ AX
	ANDQ shapeMember_litMask(R12), AX
	JNZ  notSkipped
	ADDQ CX, BX
	CMPB (SI)(BX*1), $0x22
	JNE  number

	// A string: its closing quote is the next stop, if it has no escape.
	LEAQ 1(BX), CX
	NEXTSTOP(AX)

stop:
	// AX is the string's next stop: its closing quote, an escape, or a
	// control byte (which the caller refuses).
	CMPB (SI)(AX*1), $0x22
	JNE  escape
	LEAQ  1(AX), BX
	INCQ  DX
	ADDQ  $shapeMember__size, R12
	JMP   loop

escape:
	// An escape, checked as scanner.escapes checks it; anything it would
	// refuse, or one too near the body's end, goes to the caller.
	CMPB (SI)(AX*1), $0x5c
	JNE  value

backslash:
	LEAQ 6(AX), R13
	CMPQ R13, R8
	JGE  value
	MOVBLZX 1(SI)(AX*1), R14
	CMPL R14, $0x75
	JNE  oneLetter
	// Up to five \u escapes at once, where 32 bytes are left: the 30
	// bytes of five are checked in one vector, a backslash and a u at each
	// escape's start and a hex digit (as hexValue has it) at each of its
	// other four; the escapes before the first byte that fails are
	// crossed. If the first escape fails, the scalar check decides.
	LEAQ 32(AX), R13
	CMPQ R13, R8
	JG   uscalar
	VMOVDQU   (SI)(AX*1), Y1
	VPCMPEQB  escPattern<>(SB), Y1, Y2 // backslash, u
	VPSUBB    escZero<>(SB), Y1, Y3    // c - '0', wrapping
	VPMINUB   escNine<>(SB), Y3, Y4
	VPCMPEQB  Y3, Y4, Y4               // a digit: c - '0' <= 9
	VPOR      escCase<>(SB), Y1, Y3    // c | 0x20
	VPSUBB    escLetter<>(SB), Y3, Y3  // - 'a', wrapping
	VPMINUB   escFive<>(SB), Y3, Y5
	VPCMPEQB  Y3, Y5, Y5               // a-f or A-F
	VPOR      Y4, Y5, Y4
	VPMOVMSKB Y2, R13
	VPMOVMSKB Y4, R14
	NOTL R13
	ANDL $0x030c30c3, R13 // the backslash and u places that fail
	NOTL R14
	ANDL $0x3cf3cf3c, R14 // the hex digit places that fail
	ORL  R14, R13
	JZ   fiveEscapes
	BSFL R13, R13
	IMULL $43, R13
	SHRL $8, R13 // escapes before the failing byte: its place / 6, for places < 32
	TESTL R13, R13
	JZ   uscalar
	LEAQ (R13)(R13*2), R13
	ADDQ R13, AX
	ADDQ R13, AX
	JMP  afterEscapes

fiveEscapes:
	ADDQ $30, AX

afterEscapes:
	// AX+2 <= len(b): AX was at most len(b)-32, and at most 30 were crossed.
	CMPB (SI)(AX*1), $0x5c
	JEQ  backslash
	JMP  next

uscalar:
	// \u and four hex digits: hexValue is 0xff for a byte that is none.
	LEAQ ·hexValue(SB), R15
	MOVBLZX 2(SI)(AX*1), R13
	MOVBLZX (R15)(R13*1), R14
	MOVBLZX 3(SI)(AX*1), R13
	ORB     (R15)(R13*1), R14
	MOVBLZX 4(SI)(AX*1), R13
	ORB     (R15)(R13*1), R14
	MOVBLZX 5(SI)(AX*1), R13
	ORB     (R15)(R13*1), R14
	TESTL   $0xf0, R14
	JNZ     value
	ADDQ    $6, AX
	// Text sent as \u escapes comes in runs: the next escape is often the
	// next byte (before the end: AX+6 was).
	CMPB    (SI)(AX*1), $0x5c
	JEQ     backslash
	JMP     next

oneLetter:
	// unescapedByte is 0 for a letter that is no one-letter escape.
	LEAQ ·unescapedByte(SB), R15
	MOVBLZX (R15)(R14*1), R14
	TESTL   R14, R14
	JZ      value
	ADDQ    $2, AX

next:
	MOVQ AX, CX
	NEXTSTOP(AX)
	JMP  stop

number:
	// A plain integer, skipped or kept (from keptNumber): its digits, the
	// first not 0 or a lone 0, then no fraction or exponent, from BX.
	MOVBLZX (SI)(BX*1), AX
	LEAQ 1(BX), R13
	CMPL AX, $0x30
	JEQ  zero
	SUBL $0x31, AX
	CMPL AX, $8
	JA   value
	// One digit and a comma (the codes, flags and counts): the integer's
	// end is known without the digit scan, so the next member's place does
	// not wait for its mask and BSF (the decoder about 5% faster on the
	// varied pages).
	CMPQ R13, R8
	JGE  eightDigits
	CMPB (SI)(R13*1), $0x2c
	JEQ  plainEnd

eightDigits:
	// Eight bytes at a time, where eight are left.
	LEAQ 8(R13), R14
	CMPQ R14, R8
	JG   digits
	NONDIGITS
	JNZ  notDigit
	ADDQ $8, R13 // eight digits: the next eight (times, IDs)
	JMP  eightDigits

notDigit:
	BSFQ AX, AX
	SHRQ $3, AX
	ADDQ AX, R13
	MOVBLZX (SI)(R13*1), AX
	JMP  digitsEnd

digits:
	CMPQ R13, R8
	JGE  value
	MOVBLZX (SI)(R13*1), AX
	LEAL -0x30(AX), R14
	CMPL R14, $9
	JA   digitsEnd
	INCQ R13
	JMP  digits

digitsEnd:
	// AX is the byte after the digits, at R13.
	CMPL AX, $0x2e
	JEQ  value
	ORL  $0x20, AX
	CMPL AX, $0x65
	JEQ  value

plainEnd:
	// A plain integer, BX to R13.
	MOVBLZX shapeMember_field(R12), R14
	TESTL R14, R14
	JNZ  keptInteger
	MOVQ R13, BX
	INCQ DX
	ADDQ $shapeMember__size, R12
	JMP  loop

zero:
	// A zero: plain if no digit, fraction or exponent follows (as for any
	// integer, at digitsEnd).
	CMPQ R13, R8
	JGE  value
	MOVBLZX (SI)(R13*1), AX
	CMPL AX, $0x2c
	JEQ  plainEnd // a zero and a comma
	LEAL -0x30(AX), R14
	CMPL R14, $9
	JBE  value
	JMP  digitsEnd

kept:
	// A kept member's string without escapes is recorded, while there is
	// room; any other value of it is the caller's.
	CMPQ R10, $const_maxKept
	JGE  value
	CMPB (SI)(BX*1), $0x22
	JNE  keptNumber
	LEAQ 1(BX), CX
	NEXTSTOP(AX)
	CMPB (SI)(AX*1), $0x22
	JNE  value
	MOVQ  R10, R13
	SHLQ  $5, R13 // keptValue__size
	ADDQ  R9, R13
	MOVQ  DX, keptValue_member(R13)
	MOVQ  CX, keptValue_start(R13)
	MOVQ  AX, keptValue_end(R13)
	MOVBLZX shapeMember_field(R12), R14
	MOVB  R14, keptValue_field(R13)
	MOVB  $0, keptValue_number(R13)
	INCQ  R10
	LEAQ  1(AX), BX
	INCQ  DX
	ADDQ  $shapeMember__size, R12
	JMP   loop

keptNumber:
	// An amount or a time sent as a plain integer (the two fields last
	// in the list) is recorded as a number, read as a skipped one is.
	MOVBLZX shapeMember_field(R12), R14
	CMPL R14, $const_fieldOrderTotalPrice
	JB   value
	JMP  number

keptInteger:
	// The kept integer of keptNumber, BX to R13.
	MOVQ R10, R14
	SHLQ $5, R14 // keptValue__size
	ADDQ R9, R14
	MOVQ DX, keptValue_member(R14)
	MOVQ BX, keptValue_start(R14)
	MOVQ R13, keptValue_end(R14)
	MOVBLZX shapeMember_field(R12), AX
	MOVB AX, keptValue_field(R14)
	MOVB $1, keptValue_number(R14)
	INCQ R10
	MOVQ R13, BX
	INCQ DX
	ADDQ $shapeMember__size, R12
	JMP  loop

all:
	MOVB $const_crossedAll, AX
	JMP  ret

value:
	MOVB $const_crossedValue, AX
	JMP  ret

long:
	// A literal over 32 bytes or near the body's end, or the sentinel.
	CMPQ DX, ms_len+56(FP)
	JGE  all // the sentinel
	MOVB $const_crossedLongLiteral, AX
	JMP  ret

notSkipped:
	// The member's literal differs, or it is kept, or it is one to exit
	// at (exitMask).
	BTQ   $32, AX
	JCS   long
	TESTL AX, AX
	JNZ   mismatch
	ADDQ  CX, BX
	JMP   kept

mismatch:
	MOVB $const_crossedMismatch, AX

ret:
	VZEROUPPER
	MOVQ BX, ret+96(FP)
	MOVQ DX, ret1+104(FP)
	MOVQ R10, ret2+112(FP)
	MOVB AX, ret3+120(FP)
	RET
