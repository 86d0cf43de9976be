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

// A lane is one vector in flight: its registers are base+0 .. base+4.
// The loops work on several lanes at once and emit each instruction for
// every lane before the next, so that independent dependency chains sit
// side by side in the instruction stream: one lane's exponential is a
// chain of about 20 dependent operations (75 cycles), which a single
// lane cannot hide.
type lane struct {
	v    isa
	base int
	off  int // byte offset of the lane's vector from R8·4
}

func (l lane) r(i int) string { return l.v.r(l.base + i) }

// mem returns the lane's vector of the array at register reg.
func (l lane) mem(reg string) string {
	if l.off == 0 {
		return fmt.Sprintf("(%s)(R8*4)", reg)
	}
	return fmt.Sprintf("%d(%s)(R8*4)", l.off, reg)
}

// all emits f for every lane.
func all(ls []lane, f func(l lane)) {
	for _, l := range ls {
		f(l)
	}
}

// creg returns constant name in a register, loading it into the lane's
// scratch register on AVX2, for instructions whose constant operand must
// be a register.
func (l lane) creg(name string, scratch int) string {
	if l.v.reg == "Z" {
		return l.v.c(name)
	}
	p("VMOVUPS %s, %s", l.v.c(name), l.r(scratch))
	return l.r(scratch)
}

func (l lane) xor(a, b, dst string) {
	if l.v.reg == "Z" {
		p("VPXORD %s, %s, %s", a, b, dst)
	} else {
		p("VXORPS %s, %s, %s", a, b, dst)
	}
}

// exp replaces register 0 of each lane by e^x, clobbering registers 1-3.
// The argument is clamped to [lo, hi] (NaN passes through: MAXPS and MINPS
// return their second source, here the argument, when either is NaN);
// n = round(x/ln 2) by the 1.5·2^23 trick, whose sum also holds n in its
// low mantissa bits; r = x - n·ln 2 in two parts (Cody-Waite); e^r by
// Cephes' degree-5 polynomial; 2^n built in the exponent field.
func exp(ls []lane) {
	all(ls, func(l lane) { p("VMAXPS %s, %s, %s", l.r(0), l.creg("lo", 1), l.r(0)) })
	all(ls, func(l lane) { p("VMINPS %s, %s, %s", l.r(0), l.creg("hi", 1), l.r(0)) })
	all(ls, func(l lane) { p("VMULPS %s, %s, %s", l.v.c("log2e"), l.r(0), l.r(1)) })
	all(ls, func(l lane) { p("VADDPS %s, %s, %s", l.v.c("magic"), l.r(1), l.r(1)) })
	all(ls, func(l lane) { p("VSUBPS %s, %s, %s", l.v.c("magic"), l.r(1), l.r(2)) })
	all(ls, func(l lane) { p("VFNMADD231PS %s, %s, %s", l.v.c("ln2hi"), l.r(2), l.r(0)) })
	all(ls, func(l lane) { p("VFNMADD231PS %s, %s, %s", l.v.c("ln2lo"), l.r(2), l.r(0)) })
	all(ls, func(l lane) { p("VMOVUPS %s, %s", l.v.c("c0"), l.r(3)) })
	for _, c := range []string{"c1", "c2", "c3", "c4", "c5"} {
		all(ls, func(l lane) { p("VFMADD213PS %s, %s, %s", l.v.c(c), l.r(0), l.r(3)) })
	}
	all(ls, func(l lane) { p("VMULPS %s, %s, %s", l.r(0), l.r(0), l.r(2)) })
	all(ls, func(l lane) { p("VFMADD213PS %s, %s, %s", l.r(0), l.r(2), l.r(3)) })
	all(ls, func(l lane) { p("VADDPS %s, %s, %s", l.v.c("one"), l.r(3), l.r(3)) })
	all(ls, func(l lane) { p("VPADDD %s, %s, %s", l.v.c("bias"), l.r(1), l.r(1)) })
	all(ls, func(l lane) { p("VPSLLD $23, %s, %s", l.r(1), l.r(1)) })
	all(ls, func(l lane) { p("VMULPS %s, %s, %s", l.r(1), l.r(3), l.r(0)) })
}

// sigmoid replaces register 0 (x) of each lane by 1/(1+e^-x).
func sigmoid(ls []lane) {
	all(ls, func(l lane) { l.xor(l.v.c("sign"), l.r(0), l.r(0)) })
	exp(ls)
	all(ls, func(l lane) { p("VADDPS %s, %s, %s", l.v.c("one"), l.r(0), l.r(0)) })
	all(ls, func(l lane) { p("VDIVPS %s, %s, %s", l.r(0), l.creg("one", 1), l.r(0)) })
}

func (v isa) prologue() {
	if v.reg != "Z" {
		return
	}
	for i, k := range constants {
		p("VBROADCASTSS %s<>(SB), Z%d", k.name, 16+i)
	}
}

// unroll is the number of lanes of the main loops: three lanes use 15 of
// the 16 registers that the constants leave free on AVX-512 (and all but
// one of AVX2's 16).
const unroll = 3

// loop emits the function: args are the pointer arguments' names with
// their registers, body the work on a set of lanes. A main loop runs
// unroll lanes per step while whole groups remain, then single vectors.
func (v isa) loop(name string, args []string, regs []string, body func(ls []lane)) {
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
	group := make([]lane, unroll)
	for i := range group {
		group[i] = lane{v: v, base: 5 * i, off: 4 * v.width * i}
	}
	label(l + "_group")
	p("LEAQ %d(R8), R9", unroll*v.width)
	p("CMPQ R9, CX")
	p("JGT %s_loop", l)
	body(group)
	p("MOVQ R9, R8")
	p("JMP %s_group", l)
	label(l + "_loop")
	p("CMPQ R8, CX")
	p("JGE %s_done", l)
	body(group[:1])
	p("ADDQ $%d, R8", v.width)
	p("JMP %s_loop", l)
	label(l + "_done")
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

func (v isa) emit() {
	ld := func(ls []lane, reg string, i int) {
		all(ls, func(l lane) { p("VMOVUPS %s, %s", l.mem(reg), l.r(i)) })
	}
	st := func(ls []lane, i int, reg string) {
		all(ls, func(l lane) { p("VMOVUPS %s, %s", l.r(i), l.mem(reg)) })
	}
	v.loop("sigmoid", []string{"dst", "x"}, []string{"DI", "SI"}, func(ls []lane) {
		ld(ls, "SI", 0)
		sigmoid(ls)
		st(ls, 0, "DI")
	})
	// sig may be nil (Eval mode keeps no sigmoid).
	v.loop("silu", []string{"dst", "sig", "x"}, []string{"DI", "DX", "SI"}, func(ls []lane) {
		ld(ls, "SI", 4)
		all(ls, func(l lane) { p("VMOVUPS %s, %s", l.r(4), l.r(0)) })
		sigmoid(ls)
		p("TESTQ DX, DX")
		p("JZ %d(PC)", len(ls)+1)
		st(ls, 0, "DX")
		all(ls, func(l lane) { p("VMULPS %s, %s, %s", l.r(4), l.r(0), l.r(0)) })
		st(ls, 0, "DI")
	})
	// dx = dy·s·(1-s)
	v.loop("sigmoidGrad", []string{"dx", "dy", "sig"}, []string{"DI", "BX", "DX"}, func(ls []lane) {
		ld(ls, "DX", 0)
		all(ls, func(l lane) { p("VSUBPS %s, %s, %s", l.r(0), l.creg("one", 1), l.r(1)) })
		all(ls, func(l lane) { p("VMULPS %s, %s, %s", l.r(0), l.r(1), l.r(1)) })
		all(ls, func(l lane) { p("VMULPS %s, %s, %s", l.mem("BX"), l.r(1), l.r(1)) })
		st(ls, 1, "DI")
	})
	// dx = dy·s·(1 + x·(1-s))
	v.loop("siluGrad", []string{"dx", "dy", "x", "sig"}, []string{"DI", "BX", "SI", "DX"}, func(ls []lane) {
		ld(ls, "DX", 0)
		all(ls, func(l lane) { p("VSUBPS %s, %s, %s", l.r(0), l.creg("one", 1), l.r(1)) })
		all(ls, func(l lane) { p("VMULPS %s, %s, %s", l.mem("SI"), l.r(1), l.r(1)) })
		all(ls, func(l lane) { p("VADDPS %s, %s, %s", l.v.c("one"), l.r(1), l.r(1)) })
		all(ls, func(l lane) { p("VMULPS %s, %s, %s", l.r(0), l.r(1), l.r(1)) })
		all(ls, func(l lane) { p("VMULPS %s, %s, %s", l.mem("BX"), l.r(1), l.r(1)) })
		st(ls, 1, "DI")
	})
	// The same without a stored σ: it is recomputed from x, one
	// exponential per element in place of a load of a whole cached tensor.
	v.loop("siluGradX", []string{"dx", "dy", "x"}, []string{"DI", "BX", "SI"}, func(ls []lane) {
		ld(ls, "SI", 4)
		all(ls, func(l lane) { p("VMOVUPS %s, %s", l.r(4), l.r(0)) })
		sigmoid(ls)
		all(ls, func(l lane) { p("VSUBPS %s, %s, %s", l.r(0), l.creg("one", 1), l.r(1)) })
		all(ls, func(l lane) { p("VMULPS %s, %s, %s", l.r(4), l.r(1), l.r(1)) })
		all(ls, func(l lane) { p("VADDPS %s, %s, %s", l.v.c("one"), l.r(1), l.r(1)) })
		all(ls, func(l lane) { p("VMULPS %s, %s, %s", l.r(0), l.r(1), l.r(1)) })
		all(ls, func(l lane) { p("VMULPS %s, %s, %s", l.mem("BX"), l.r(1), l.r(1)) })
		st(ls, 1, "DI")
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
