//go:build ignore

// gen_amd64 writes chanops_amd64.s: the row passes for AVX-512 and AVX2.
//
//	go run gen_amd64.go
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&out, "%s:\n", l) }

// isa is one vector instruction set: register prefix and float32 lanes.
type isa struct {
	name  string
	reg   string
	width int
}

func (v isa) r(i int) string { return fmt.Sprintf("%s%d", v.reg, i) }

func (v isa) zero(i int) {
	if v.reg == "Z" {
		p("VPXORD %s, %s, %s", v.r(i), v.r(i), v.r(i))
	} else {
		p("VXORPS %s, %s, %s", v.r(i), v.r(i), v.r(i))
	}
}

// reduce emits colSums (dot false) or colDots (dot true):
// sum[c] += Σ_r x[r·stride+c] (·y[r·stride+c]) for c < nc, a multiple of
// the width. Channels go in chunks of 8, 4, 2 and 1 vectors whose sums
// stay in registers over all rows, so that each row costs one load (two
// with y) and one add per vector.
//
// Registers: DI sum, SI x, DX y at the chunk's first row, R8 the row
// stride in bytes, R9 the channels left, R10/R11 the x/y row pointers,
// CX the rows left.
func reduce(v isa, dot bool) {
	name := "colSums" + v.name
	args := "sum, x *float32, rows, stride, nc int"
	frame := 40
	if dot {
		name = "colDots" + v.name
		args = "sum, x, y *float32, rows, stride, nc int"
		frame = 48
	}
	off := 0
	if dot {
		off = 8
	}
	fmt.Fprintf(&out, "// func %s(%s)\n", name, args)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", name, frame)
	p("MOVQ sum+0(FP), DI")
	p("MOVQ x+8(FP), SI")
	if dot {
		p("MOVQ y+16(FP), DX")
	}
	p("MOVQ stride+%d(FP), R8", 24+off)
	p("SHLQ $2, R8")
	p("MOVQ nc+%d(FP), R9", 32+off)
	const tmp = 8 // four registers for y, after the eight sums
	for _, nb := range []int{8, 4, 2, 1} {
		l := fmt.Sprintf("%s_%d", name, nb)
		label(l)
		p("CMPQ R9, $%d", nb*v.width)
		p("JLT %s_next", l)
		for b := 0; b < nb; b++ {
			v.zero(b)
		}
		p("MOVQ SI, R10")
		if dot {
			p("MOVQ DX, R11")
		}
		p("MOVQ rows+%d(FP), CX", 16+off)
		p("TESTQ CX, CX")
		p("JZ %s_add", l)
		label(l + "_row")
		for b := 0; b < nb; b++ {
			if dot {
				p("VMOVUPS %d(R10), %s", 4*v.width*b, v.r(tmp+b%4))
				p("VFMADD231PS %d(R11), %s, %s", 4*v.width*b, v.r(tmp+b%4), v.r(b))
			} else {
				p("VADDPS %d(R10), %s, %s", 4*v.width*b, v.r(b), v.r(b))
			}
		}
		p("ADDQ R8, R10")
		if dot {
			p("ADDQ R8, R11")
		}
		p("DECQ CX")
		p("JNZ %s_row", l)
		label(l + "_add")
		for b := 0; b < nb; b++ {
			p("VADDPS %d(DI), %s, %s", 4*v.width*b, v.r(b), v.r(b))
			p("VMOVUPS %s, %d(DI)", v.r(b), 4*v.width*b)
		}
		p("ADDQ $%d, DI", 4*v.width*nb)
		p("ADDQ $%d, SI", 4*v.width*nb)
		if dot {
			p("ADDQ $%d, DX", 4*v.width*nb)
		}
		p("SUBQ $%d, R9", nb*v.width)
		if nb == 8 {
			p("JMP %s", l)
		}
		label(l + "_next")
	}
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

// scale emits scaleRows (add false) or scaleAddRows (add true):
// dst[r·stride+c] = x[r·stride+c]·g[c] (+ a[c]) for c < nc, a multiple of
// the width, and r < rows. Each row goes four vectors at a time, then one.
//
// Registers: DI dst, SI x at the row, DX g, BX a, R8 the row stride in
// bytes, CX the rows left, R9 the channels left in the row, R10 the
// channel byte offset.
func scale(v isa, add bool) {
	name := "scaleRows" + v.name
	args := "dst, x, gate *float32, rows, stride, nc int"
	frame, off := 48, 0
	if add {
		name = "scaleAddRows" + v.name
		args = "dst, x, gate, a *float32, rows, stride, nc int"
		frame, off = 56, 8
	}
	fmt.Fprintf(&out, "// func %s(%s)\n", name, args)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", name, frame)
	p("MOVQ dst+0(FP), DI")
	p("MOVQ x+8(FP), SI")
	p("MOVQ gate+16(FP), DX")
	if add {
		p("MOVQ a+24(FP), BX")
	}
	p("MOVQ rows+%d(FP), CX", 24+off)
	p("MOVQ stride+%d(FP), R8", 32+off)
	p("SHLQ $2, R8")
	p("TESTQ CX, CX")
	p("JZ %s_done", name)
	label(name + "_row")
	p("MOVQ nc+%d(FP), R9", 40+off)
	p("XORQ R10, R10")
	label(name + "_four")
	p("CMPQ R9, $%d", 4*v.width)
	p("JLT %s_one", name)
	for b := 0; b < 4; b++ {
		p("VMOVUPS %d(SI)(R10*1), %s", 4*v.width*b, v.r(b))
	}
	for b := 0; b < 4; b++ {
		if add {
			p("VMOVUPS %d(DX)(R10*1), %s", 4*v.width*b, v.r(4+b))
			p("VFMADD213PS %d(BX)(R10*1), %s, %s", 4*v.width*b, v.r(4+b), v.r(b))
		} else {
			p("VMULPS %d(DX)(R10*1), %s, %s", 4*v.width*b, v.r(b), v.r(b))
		}
	}
	for b := 0; b < 4; b++ {
		p("VMOVUPS %s, %d(DI)(R10*1)", v.r(b), 4*v.width*b)
	}
	p("ADDQ $%d, R10", 16*v.width)
	p("SUBQ $%d, R9", 4*v.width)
	p("JMP %s_four", name)
	label(name + "_one")
	p("TESTQ R9, R9")
	p("JZ %s_next", name)
	p("VMOVUPS (SI)(R10*1), %s", v.r(0))
	if add {
		p("VMOVUPS (DX)(R10*1), %s", v.r(4))
		p("VFMADD213PS (BX)(R10*1), %s, %s", v.r(4), v.r(0))
	} else {
		p("VMULPS (DX)(R10*1), %s, %s", v.r(0), v.r(0))
	}
	p("VMOVUPS %s, (DI)(R10*1)", v.r(0))
	p("ADDQ $%d, R10", 4*v.width)
	p("SUBQ $%d, R9", v.width)
	p("JMP %s_one", name)
	label(name + "_next")
	p("ADDQ R8, SI")
	p("ADDQ R8, DI")
	p("DECQ CX")
	p("JNZ %s_row", name)
	label(name + "_done")
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

func main() {
	out.WriteString("// Code generated by gen_amd64.go; DO NOT EDIT.\n\n//go:build amd64 && !noasm\n\n#include \"textflag.h\"\n\n")
	for _, v := range []isa{{"AVX512", "Z", 16}, {"AVX2", "Y", 8}} {
		reduce(v, false)
		reduce(v, true)
		scale(v, false)
		scale(v, true)
	}
	if err := os.WriteFile("chanops_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
