//go:build ignore

// gen_amd64 writes vmath_amd64.s: sigmoid and SiLU with their gradients for
// AVX-512 and AVX2, sharing one exponential. The two instruction sets
// differ only in register names and in where constants live (registers on
// AVX-512, memory on AVX2's 16 registers), so one generator emits both.
//
//	go run gen_amd64.go
package main

import (
	"bytes"
	"fmt"
	"log"
	"math"
	"os"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&out, "%s:\n", l) }

// constants of the exponential, in the order of their AVX-512 registers
// Z16, Z17, ... Values are float32 bit patterns.
var constants = []struct {
	name string
	bits uint32
}{
	{"lo", math.Float32bits(-87.33654)}, // ln of the smallest normal float32
	{"hi", math.Float32bits(88)},        // keeps 2^n finite
	{"log2e", math.Float32bits(math.Log2E)},
	{"magic", math.Float32bits(12582912)}, // 1.5·2^23
	{"ln2hi", math.Float32bits(0.693359375)},
	{"ln2lo", math.Float32bits(-2.12194440e-4)},
	{"c0", math.Float32bits(1.9875691500e-4)},
	{"c1", math.Float32bits(1.3981999507e-3)},
	{"c2", math.Float32bits(8.3334519073e-3)},
	{"c3", math.Float32bits(4.1665795894e-2)},
	{"c4", math.Float32bits(1.6666665459e-1)},
	{"c5", math.Float32bits(5.0000001201e-1)},
	{"one", math.Float32bits(1)},
	{"bias", 0xB4C0007F}, // int32 127 - 0x4B400000: exponent bias minus magic's bits
	{"sign", 0x80000000},
}

type isa struct {
	name  string
	reg   string
	width int
}

func (v isa) r(i int) string { return fmt.Sprintf("%s%d", v.reg, i) }

// c returns constant name as an operand: a register on AVX-512, memory on
// AVX2.
func (v isa) c(name string) string {
	for i, k := range constants {
		if k.name == name {
			if v.reg == "Z" {
				return fmt.Sprintf("Z%d", 16+i)
			}
			return fmt.Sprintf("%s<>(SB)", name)
		}
	}
	panic(name)
}

// creg returns constant name in a register, loading it into scratch on
// AVX2, for instructions whose constant operand must be a register.
func (v isa) creg(name string, scratch int) string {
	if v.reg == "Z" {
		return v.c(name)
	}
	p("VMOVUPS %s, %s", v.c(name), v.r(scratch))
	return v.r(scratch)
}

func (v isa) xor(a, b, dst string) {
	if v.reg == "Z" {
		p("VPXORD %s, %s, %s", a, b, dst)
	} else {
		p("VXORPS %s, %s, %s", a, b, dst)
	}
}

// exp replaces Z0 (Y0) by e^Z0, clobbering registers 1-3. The argument is
// clamped to [lo, hi] (NaN passes through: MAXPS and MINPS return their
// second source, here the argument, when either is NaN); n = round(x/ln 2)
// by the 1.5·2^23 trick, whose sum also holds n in its low mantissa bits;
// r = x - n·ln 2 in two parts (Cody-Waite); e^r by Cephes' degree-5
// polynomial; 2^n built in the exponent field.
func (v isa) exp() {
	r0, r1, r2, r3 := v.r(0), v.r(1), v.r(2), v.r(3)
	p("VMAXPS %s, %s, %s", r0, v.creg("lo", 1), r0)
	p("VMINPS %s, %s, %s", r0, v.creg("hi", 1), r0)
	p("VMULPS %s, %s, %s", v.c("log2e"), r0, r1)
	p("VADDPS %s, %s, %s", v.c("magic"), r1, r1)
	p("VSUBPS %s, %s, %s", v.c("magic"), r1, r2)
	p("VFNMADD231PS %s, %s, %s", v.c("ln2hi"), r2, r0)
	p("VFNMADD231PS %s, %s, %s", v.c("ln2lo"), r2, r0)
	p("VMOVUPS %s, %s", v.c("c0"), r3)
	for _, c := range []string{"c1", "c2", "c3", "c4", "c5"} {
		p("VFMADD213PS %s, %s, %s", v.c(c), r0, r3)
	}
	p("VMULPS %s, %s, %s", r0, r0, r2)
	p("VFMADD213PS %s, %s, %s", r0, r2, r3)
	p("VADDPS %s, %s, %s", v.c("one"), r3, r3)
	p("VPADDD %s, %s, %s", v.c("bias"), r1, r1)
	p("VPSLLD $23, %s, %s", r1, r1)
	p("VMULPS %s, %s, %s", r1, r3, r0)
}

// sigmoid replaces register 0 (x) by 1/(1+e^-x).
func (v isa) sigmoid() {
	v.xor(v.c("sign"), v.r(0), v.r(0))
	v.exp()
	p("VADDPS %s, %s, %s", v.c("one"), v.r(0), v.r(0))
	p("VDIVPS %s, %s, %s", v.r(0), v.creg("one", 1), v.r(0))
}

func (v isa) prologue() {
	if v.reg != "Z" {
		return
	}
	for i, k := range constants {
		p("VBROADCASTSS %s<>(SB), Z%d", k.name, 16+i)
	}
}

// loop emits the function: args are the pointer arguments' names with
// their registers, body the work on one vector at offset R8.
func (v isa) loop(name string, args []string, regs []string, body func()) {
	size := 8 * (len(args) + 1)
	fmt.Fprintf(&out, "// func %s%s(", name, v.name)
	for i, a := range args {
		if i > 0 {
			out.WriteString(", ")
		}
		out.WriteString(a)
	}
	out.WriteString(" *float32, n int)\n")
	fmt.Fprintf(&out, "TEXT ·%s%s(SB), NOSPLIT, $0-%d\n", name, v.name, size)
	for i, a := range args {
		p("MOVQ %s+%d(FP), %s", a, 8*i, regs[i])
	}
	p("MOVQ n+%d(FP), CX", 8*len(args))
	v.prologue()
	p("XORQ R8, R8")
	l := name + v.name
	label(l + "_loop")
	p("CMPQ R8, CX")
	p("JGE %s_done", l)
	body()
	p("ADDQ $%d, R8", v.width)
	p("JMP %s_loop", l)
	label(l + "_done")
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

func (v isa) emit() {
	ld := func(reg string, i int) { p("VMOVUPS (%s)(R8*4), %s", reg, v.r(i)) }
	st := func(i int, reg string) { p("VMOVUPS %s, (%s)(R8*4)", v.r(i), reg) }
	v.loop("sigmoid", []string{"dst", "x"}, []string{"DI", "SI"}, func() {
		ld("SI", 0)
		v.sigmoid()
		st(0, "DI")
	})
	// sig may be nil (Eval mode keeps no sigmoid).
	v.loop("silu", []string{"dst", "sig", "x"}, []string{"DI", "DX", "SI"}, func() {
		ld("SI", 4)
		p("VMOVUPS %s, %s", v.r(4), v.r(0))
		v.sigmoid()
		p("TESTQ DX, DX")
		p("JZ 2(PC)")
		st(0, "DX")
		p("VMULPS %s, %s, %s", v.r(4), v.r(0), v.r(0))
		st(0, "DI")
	})
	// dx = dy·s·(1-s)
	v.loop("sigmoidGrad", []string{"dx", "dy", "sig"}, []string{"DI", "BX", "DX"}, func() {
		ld("DX", 0)
		p("VSUBPS %s, %s, %s", v.r(0), v.creg("one", 1), v.r(1))
		p("VMULPS %s, %s, %s", v.r(0), v.r(1), v.r(1))
		p("VMULPS (BX)(R8*4), %s, %s", v.r(1), v.r(1))
		st(1, "DI")
	})
	// dx = dy·s·(1 + x·(1-s))
	v.loop("siluGrad", []string{"dx", "dy", "x", "sig"}, []string{"DI", "BX", "SI", "DX"}, func() {
		ld("DX", 0)
		p("VSUBPS %s, %s, %s", v.r(0), v.creg("one", 1), v.r(1))
		p("VMULPS (SI)(R8*4), %s, %s", v.r(1), v.r(1))
		p("VADDPS %s, %s, %s", v.c("one"), v.r(1), v.r(1))
		p("VMULPS %s, %s, %s", v.r(0), v.r(1), v.r(1))
		p("VMULPS (BX)(R8*4), %s, %s", v.r(1), v.r(1))
		st(1, "DI")
	})
	// The same without a stored σ: it is recomputed from x, one
	// exponential per element in place of a load of a whole cached tensor.
	v.loop("siluGradX", []string{"dx", "dy", "x"}, []string{"DI", "BX", "SI"}, func() {
		ld("SI", 4)
		p("VMOVUPS %s, %s", v.r(4), v.r(0))
		v.sigmoid()
		p("VSUBPS %s, %s, %s", v.r(0), v.creg("one", 1), v.r(1))
		p("VMULPS %s, %s, %s", v.r(4), v.r(1), v.r(1))
		p("VADDPS %s, %s, %s", v.c("one"), v.r(1), v.r(1))
		p("VMULPS %s, %s, %s", v.r(0), v.r(1), v.r(1))
		p("VMULPS (BX)(R8*4), %s, %s", v.r(1), v.r(1))
		st(1, "DI")
	})
}

func main() {
	out.WriteString("// Code generated by gen_amd64.go; DO NOT EDIT.\n\n//go:build amd64 && !noasm\n\n#include \"textflag.h\"\n\n")
	for _, k := range constants {
		for i := 0; i < 8; i++ {
			fmt.Fprintf(&out, "DATA %s<>+%d(SB)/4, $0x%08x\n", k.name, 4*i, k.bits)
		}
		fmt.Fprintf(&out, "GLOBL %s<>(SB), RODATA|NOPTR, $32\n\n", k.name)
	}
	isa{name: "AVX512", reg: "Z", width: 16}.emit()
	isa{name: "AVX2", reg: "Y", width: 8}.emit()
	if err := os.WriteFile("vmath_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
