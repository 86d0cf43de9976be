//go:build ignore

// gen_amd64 writes kernel_amd64.s: the tap and dot kernels for AVX-512
// and AVX2. Their bodies are runs of one FMA per accumulator, unrolled
// over pixels or taps, so they are generated rather than written by hand.
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

// isa is one vector instruction set: the register prefix, the floats per
// register and whether opmask registers cover ragged channel blocks.
type isa struct {
	name  string
	reg   string // "Z" or "Y"
	width int    // float32 lanes
	mask  bool
}

func (v isa) r(i int) string { return fmt.Sprintf("%s%d", v.reg, i) }

// m is the opmask operand of an instruction, empty without masks.
func (v isa) m() string {
	if v.mask {
		return "K1, "
	}
	return ""
}

// load is a (zeroing-masked) vector load.
func (v isa) load(addr string, dst int) {
	if v.mask {
		p("VMOVUPS.Z %s, K1, %s", addr, v.r(dst))
	} else {
		p("VMOVUPS %s, %s", addr, v.r(dst))
	}
}

func (v isa) store(src int, addr string) { p("VMOVUPS %s, %s%s", v.r(src), v.m(), addr) }

func (v isa) zero(i int) {
	if v.mask {
		p("VPXORD %s, %s, %s", v.r(i), v.r(i), v.r(i))
	} else {
		p("VXORPS %s, %s, %s", v.r(i), v.r(i), v.r(i))
	}
}

// fma is acc += mem·src; with masks the lanes past the channel count are
// neither read nor changed.
func (v isa) fma(mem string, src, acc int) {
	p("VFMADD231PS %s, %s, %s%s", mem, v.r(src), v.m(), v.r(acc))
}

// setMask loads K1 with min(nc - R12, 16) low bits, from a table indexed
// by the count of remaining channels. Clobbers AX and R13.
func (v isa) setMask(ncAddr string) {
	if !v.mask {
		return
	}
	p("MOVQ %s, AX", ncAddr)
	p("SUBQ R12, AX")
	p("CMPQ AX, $16")
	p("JLE 2(PC)")
	p("MOVQ $16, AX")
	p("LEAQ ·laneMasks(SB), R13")
	p("KMOVW (R13)(AX*2), K1")
}

// scaled[i] is the address of i times a stride held in R8 (1×), R9 (3×),
// R10 (5×) and R11 (7×) past base.
func scaled(base string, i int) string {
	return [...]string{
		"(" + base + ")",
		"(" + base + ")(R8*1)",
		"(" + base + ")(R8*2)",
		"(" + base + ")(R9*1)",
		"(" + base + ")(R8*4)",
		"(" + base + ")(R10*1)",
		"(" + base + ")(R9*2)",
		"(" + base + ")(R11*1)",
	}[i]
}

// asmTaps field offsets.
const (
	tNC, tNPix, tNKY, tNKX       = "0(CX)", "8(CX)", "16(CX)", "24(CX)"
	tDstPix, tXPix, tXTap, tWTap = "32(CX)", "40(CX)", "48(CX)", "56(CX)"
	tXRow, tWRow                 = "64(CX)", "72(CX)"
)

// taps emits the tap kernel. Registers: DI dst and SI x at the current
// pixel group, DX w, CX the geometry, R8-R11 multiples of the x pixel
// stride, R12 the channel, R13/R14 the x/w tap pointers, R15 and AX the
// tap counters, BX the pixels left. Pixels go in groups of 8, then 4,
// then 1: each weight vector loaded serves a group's FMAs, and the group's
// accumulators are independent chains that hide the FMA latency.
func taps(v isa) {
	name := "taps" + v.name
	fmt.Fprintf(&out, "// func %s(dst, x, w, bias *float32, geom *asmTaps)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-40\n", name)
	p("MOVQ dst+0(FP), DI")
	p("MOVQ x+8(FP), SI")
	p("MOVQ w+16(FP), DX")
	p("MOVQ geom+32(FP), CX")
	p("MOVQ %s, R8", tXPix)
	p("LEAQ (R8)(R8*2), R9")
	p("LEAQ (R8)(R8*4), R10")
	p("LEAQ (R9)(R8*4), R11")
	p("MOVQ %s, BX", tNPix)
	wreg := 8
	for _, P := range []int{8, 4, 1} {
		l := fmt.Sprintf("%s_%d", name, P)
		label(l)
		p("CMPQ BX, $%d", P)
		p("JLT %s_next", l)
		p("XORQ R12, R12")
		label(l + "_chan")
		v.setMask(tNC)
		p("MOVQ bias+24(FP), AX")
		p("TESTQ AX, AX")
		p("JZ %s_zero", l)
		v.load("(AX)(R12*4)", 0)
		for i := 1; i < P; i++ {
			p("VMOVAPS %s, %s", v.r(0), v.r(i))
		}
		p("JMP %s_taps", l)
		label(l + "_zero")
		for i := 0; i < P; i++ {
			v.zero(i)
		}
		label(l + "_taps")
		p("LEAQ (SI)(R12*4), R13")
		p("LEAQ (DX)(R12*4), R14")
		p("MOVQ %s, AX", tNKY)
		label(l + "_ky")
		p("MOVQ %s, R15", tNKX)
		label(l + "_kx")
		v.load("(R14)", wreg)
		for i := 0; i < P; i++ {
			v.fma(scaled("R13", i), wreg, i)
		}
		p("ADDQ %s, R13", tXTap)
		p("ADDQ %s, R14", tWTap)
		p("DECQ R15")
		p("JNZ %s_kx", l)
		p("ADDQ %s, R13", tXRow)
		p("ADDQ %s, R14", tWRow)
		p("DECQ AX")
		p("JNZ %s_ky", l)
		p("LEAQ (DI)(R12*4), R13")
		for i := 0; i < P; i++ {
			v.store(i, "(R13)")
			if i < P-1 {
				p("ADDQ %s, R13", tDstPix)
			}
		}
		p("ADDQ $%d, R12", v.width)
		p("CMPQ R12, %s", tNC)
		p("JLT %s_chan", l)
		p("MOVQ %s, AX", tDstPix)
		p("IMULQ $%d, AX", P)
		p("ADDQ AX, DI")
		p("MOVQ R8, AX")
		p("IMULQ $%d, AX", P)
		p("ADDQ AX, SI")
		p("SUBQ $%d, BX", P)
		p("JMP %s", l)
		label(l + "_next")
	}
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

// asmDot field offsets.
const (
	dNC, dNPix, dNTap            = "0(CX)", "8(CX)", "16(CX)"
	dOutTap, dAPix, dBPix, dBTap = "24(CX)", "32(CX)", "40(CX)", "48(CX)"
)

// dot emits the dot kernel, specialised per tap count. Registers: DI out,
// SI a (dy), DX b (x), CX the geometry, R8/R9 one and three tap strides,
// R12 the channel, R13/R14 the a/b pointers, BX b one pixel on, R15 the
// pixels left, AX scratch. Two pixels are in flight, each with its own
// set of ntap accumulators, so that even one tap has two FMA chains.
func dot(v isa) {
	name := "dot" + v.name
	fmt.Fprintf(&out, "// func %s(out, a, b *float32, geom *asmDot)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-32\n", name)
	p("MOVQ out+0(FP), DI")
	p("MOVQ a+8(FP), SI")
	p("MOVQ b+16(FP), DX")
	p("MOVQ geom+24(FP), CX")
	p("MOVQ %s, R8", dBTap)
	p("LEAQ (R8)(R8*2), R9")
	p("MOVQ %s, AX", dNTap)
	for n := 1; n <= 5; n++ {
		p("CMPQ AX, $%d", n)
		p("JEQ %s_%d", name, n)
	}
	p("RET")
	a0, a1 := 14, 15 // dy registers
	if v.mask {
		a0, a1 = 30, 31
	}
	tmp := 13
	if v.mask {
		tmp = 29
	}
	for n := 1; n <= 5; n++ {
		l := fmt.Sprintf("%s_%d", name, n)
		label(l)
		p("XORQ R12, R12")
		label(l + "_chan")
		v.setMask(dNC)
		for i := 0; i < 2*n; i++ {
			v.zero(i)
		}
		p("LEAQ (SI)(R12*4), R13")
		p("LEAQ (DX)(R12*4), R14")
		p("MOVQ %s, R15", dNPix)
		label(l + "_pair")
		p("CMPQ R15, $2")
		p("JLT %s_one", l)
		p("MOVQ %s, AX", dBPix)
		p("LEAQ (R14)(AX*1), BX")
		p("MOVQ %s, AX", dAPix)
		v.load("(R13)", a0)
		v.load("(R13)(AX*1)", a1)
		for t := 0; t < n; t++ {
			v.fma(scaled("R14", t), a0, t)
			v.fma(scaled("BX", t), a1, n+t)
		}
		p("LEAQ (R13)(AX*2), R13")
		p("MOVQ %s, AX", dBPix)
		p("LEAQ (R14)(AX*2), R14")
		p("SUBQ $2, R15")
		p("JMP %s_pair", l)
		label(l + "_one")
		p("TESTQ R15, R15")
		p("JZ %s_sum", l)
		v.load("(R13)", a0)
		for t := 0; t < n; t++ {
			v.fma(scaled("R14", t), a0, t)
		}
		label(l + "_sum")
		p("LEAQ (DI)(R12*4), R13")
		for t := 0; t < n; t++ {
			p("VADDPS %s, %s, %s", v.r(n+t), v.r(t), v.r(t))
			v.load("(R13)", tmp)
			p("VADDPS %s, %s, %s", v.r(tmp), v.r(t), v.r(t))
			v.store(t, "(R13)")
			if t < n-1 {
				p("ADDQ %s, R13", dOutTap)
			}
		}
		p("ADDQ $%d, R12", v.width)
		p("CMPQ R12, %s", dNC)
		p("JLT %s_chan", l)
		p("VZEROUPPER")
		p("RET")
	}
	out.WriteString("\n")
}

// asmRow field offsets; the last two are the kernel's scratch.
const (
	rNC, rOW, rNKY, rXRow = "0(CX)", "8(CX)", "16(CX)", "24(CX)"
	rWRow, rPix, rJLo     = "32(CX)", "40(CX)", "48(CX)"
	rJHi, rXOff           = "56(CX)", "64(CX)"
	rChan, rChanEnd       = "72(CX)", "80(CX)"
	rChunk, rChunkLo      = "88(CX)", "96(CX)"
	rChunkHi, rStart      = "104(CX)", "112(CX)"
	rPf                   = "120(CX)"
)

// row emits the row kernel for one kernel size and stride: one output row,
// all channels, all horizontal taps, nky kernel rows. The row goes in
// groups of P pixels (16, 14, 8, 7, 4, 2, 1 with AVX-512; 8, 7, 4, 2, 1
// with AVX2), starting at the geometry's start size and going down
// greedily, and each group through all channels of a chunk, one vector
// at a time. Per group and kernel row, each input vector is loaded once
// and feeds every output of the group that sees it (K of them at stride
// 1), and each weight vector is loaded once; the P accumulators stay in
// registers over all K·K taps. Before the store they are scaled and
// shifted when the call has a scale.
//
// A group whose input columns all lie inside the row runs the plain body;
// one at the left or right border runs a copy in which the first and last
// K-1 columns are skipped unless jlo <= j < jhi, so padding is never read
// and no padded copy is made.
//
// flip loads each kernel row's weights in reverse order (the caller steps
// the rows backwards): the kernel turned by 180 degrees, which makes the
// row kernel compute the input gradient of a stride-1 convolution.
//
// Registers: CX geometry, R8-R11 multiples of the pixel stride, SI the
// group's first input column (it may point before the row), DI the
// group's first output, AX jlo, BX jhi, DX pixels left, R13/R14 the x/w
// pointers of the kernel row (at the channel offset), R15 the kernel rows
// left, R12 scratch. The channel offset and chunk bounds live in the
// geometry's scratch.
func row(v isa, K, S int, flip bool) {
	name := fmt.Sprintf("rowK%dS%d%s", K, S, v.name)
	if flip {
		name = fmt.Sprintf("rowK%dS%dFlip%s", K, S, v.name)
	}
	fmt.Fprintf(&out, "// func %s(dst, x, w, scale, bias *float32, geom *asmRow)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-48\n", name)
	maxP, nreg := 16, 32
	if !v.mask {
		maxP, nreg = 8, 16
	}
	wreg := maxP     // K weight registers
	xreg := wreg + K // two input registers
	if xreg+2 > nreg {
		log.Fatalf("%s: needs %d registers", name, xreg+2)
	}
	p("MOVQ geom+40(FP), CX")
	p("MOVQ %s, R8", rPix)
	p("LEAQ (R8)(R8*2), R9")
	p("LEAQ (R8)(R8*4), R10")
	p("LEAQ (R9)(R8*4), R11")
	p("MOVQ $0, %s", rChunkLo)
	label(name + "_chunk")
	p("MOVQ %s, AX", rChunkLo)
	p("ADDQ %s, AX", rChunk)
	p("CMPQ AX, %s", rChanEnd)
	p("JLE 2(PC)")
	p("MOVQ %s, AX", rChanEnd)
	p("MOVQ AX, %s", rChunkHi)
	p("MOVQ x+8(FP), SI")
	p("ADDQ %s, SI", rXOff)
	p("MOVQ dst+0(FP), DI")
	p("MOVQ %s, AX", rJLo)
	p("MOVQ %s, BX", rJHi)
	p("MOVQ %s, DX", rOW)
	sizes := []int{16, 14, 8, 7, 4, 2, 1}
	if !v.mask {
		sizes = []int{8, 7, 4, 2, 1}
	}
	// The groups start at the largest size not above the geometry's start
	// size and go down greedily, each size repeated while it fits.
	p("MOVQ %s, R12", rStart)
	for _, P := range sizes[:len(sizes)-1] {
		p("CMPQ R12, $%d", P)
		p("JGE %s_%d", name, P)
	}
	for _, P := range sizes {
		l := fmt.Sprintf("%s_%d", name, P)
		ncols := (P-1)*S + K
		label(l)
		p("CMPQ DX, $%d", P)
		p("JLT %s_next", l)
		p("MOVQ %s, R12", rChunkLo)
		p("MOVQ R12, %s", rChan)
		label(l + "_chan")
		if v.mask {
			p("MOVQ %s, R13", rNC)
			p("MOVQ %s, R12", rChan)
			p("SHRQ $2, R12")
			p("SUBQ R12, R13")
			p("CMPQ R13, $16")
			p("JLE 2(PC)")
			p("MOVQ $16, R13")
			p("LEAQ ·laneMasks(SB), R12")
			p("KMOVW (R12)(R13*2), K1")
		}
		// Accumulators start at the bias, or at zero when there is no
		// bias or a scale comes first.
		p("MOVQ bias+32(FP), R12")
		p("TESTQ R12, R12")
		p("JZ %s_zero", l)
		p("MOVQ scale+24(FP), R13")
		p("TESTQ R13, R13")
		p("JNZ %s_zero", l)
		p("ADDQ %s, R12", rChan)
		v.load("(R12)", 0)
		for i := 1; i < P; i++ {
			p("VMOVAPS %s, %s", v.r(0), v.r(i))
		}
		p("JMP %s_init", l)
		label(l + "_zero")
		for i := 0; i < P; i++ {
			v.zero(i)
		}
		label(l + "_init")
		p("MOVQ SI, R13")
		p("ADDQ %s, R13", rChan)
		p("MOVQ w+16(FP), R14")
		p("ADDQ %s, R14", rChan)
		p("MOVQ %s, R15", rNKY)
		// Prefetch the group's columns of the input rows that the next
		// output row adds, while this row computes.
		p("MOVQ %s, R12", rPf)
		p("TESTQ R12, R12")
		p("JZ %s_nopf", l)
		for r := 0; r < S; r++ {
			p("MOVQ %s, R12", rPf)
			p("ADDQ R13, R12")
			if r > 0 {
				p("ADDQ %s, R12", rXRow)
			}
			for j := 0; j < P*S; j++ {
				if j > 0 && j%8 == 0 {
					p("LEAQ (R12)(R8*8), R12")
				}
				p("PREFETCHT0 %s", scaled("R12", j%8))
			}
		}
		label(l + "_nopf")
		p("CMPQ AX, $0")
		p("JGT %s_edge", l)
		p("CMPQ BX, $%d", ncols)
		p("JLT %s_edge", l)
		for _, edge := range []bool{false, true} {
			kl := l + "_ky"
			if edge {
				label(l + "_edge")
				kl = l + "_edgeky"
			}
			label(kl)
			for kx := 0; kx < K; kx++ {
				if flip {
					v.load(scaled("R14", K-1-kx), wreg+kx)
				} else {
					v.load(scaled("R14", kx), wreg+kx)
				}
			}
			p("MOVQ R13, R12")
			for j := 0; j < ncols; j++ {
				if j > 0 && j%8 == 0 {
					p("LEAQ (R12)(R8*8), R12")
				}
				skip := fmt.Sprintf("%s_%d", kl, j)
				// Padding of at most K-1 columns on each side (the Go
				// side checks) can only cover the first and last K-1
				// columns of a group.
				if edge && j < K-1 {
					p("CMPQ AX, $%d", j)
					p("JGT %s", skip)
				}
				if edge && j >= ncols-(K-1) {
					p("CMPQ BX, $%d", j)
					p("JLE %s", skip)
				}
				xr := xreg + j%2
				v.load(scaled("R12", j%8), xr)
				for kx := 0; kx < K; kx++ {
					if (j-kx)%S != 0 {
						continue
					}
					if q := (j - kx) / S; j >= kx && q < P {
						p("VFMADD231PS %s, %s, %s", v.r(xr), v.r(wreg+kx), v.r(q))
					}
				}
				if edge && (j < K-1 || j >= ncols-(K-1)) {
					label(skip)
				}
			}
			p("ADDQ %s, R13", rXRow)
			p("ADDQ %s, R14", rWRow)
			p("DECQ R15")
			p("JNZ %s", kl)
			if !edge {
				p("JMP %s_store", l)
			}
		}
		// out = acc·scale + bias, in registers before the store.
		label(l + "_store")
		p("MOVQ scale+24(FP), R12")
		p("TESTQ R12, R12")
		p("JZ %s_put", l)
		p("ADDQ %s, R12", rChan)
		v.load("(R12)", xreg)
		p("MOVQ bias+32(FP), R12")
		p("TESTQ R12, R12")
		p("JZ %s_nobias", l)
		p("ADDQ %s, R12", rChan)
		v.load("(R12)", xreg+1)
		for i := 0; i < P; i++ {
			p("VFMADD213PS %s, %s, %s", v.r(xreg+1), v.r(xreg), v.r(i))
		}
		p("JMP %s_put", l)
		label(l + "_nobias")
		for i := 0; i < P; i++ {
			p("VMULPS %s, %s, %s", v.r(xreg), v.r(i), v.r(i))
		}
		label(l + "_put")
		p("MOVQ DI, R12")
		p("ADDQ %s, R12", rChan)
		for i := 0; i < P; i++ {
			if i > 0 && i%8 == 0 {
				p("LEAQ (R12)(R8*8), R12")
			}
			v.store(i, scaled("R12", i%8))
		}
		p("MOVQ %s, R12", rChan)
		p("ADDQ $%d, R12", 4*v.width)
		p("MOVQ R12, %s", rChan)
		p("CMPQ R12, %s", rChunkHi)
		p("JLT %s_chan", l)
		p("IMUL3Q $%d, R8, R12", P*S)
		p("ADDQ R12, SI")
		p("IMUL3Q $%d, R8, R12", P)
		p("ADDQ R12, DI")
		p("SUBQ $%d, AX", P*S)
		p("SUBQ $%d, BX", P*S)
		p("SUBQ $%d, DX", P)
		p("JMP %s", l)
		label(l + "_next")
	}
	p("MOVQ %s, AX", rChunkHi)
	p("MOVQ AX, %s", rChunkLo)
	p("CMPQ AX, %s", rChanEnd)
	p("JLT %s_chunk", name)
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

func main() {
	out.WriteString("// Code generated by gen_amd64.go; DO NOT EDIT.\n\n//go:build amd64 && !noasm\n\n#include \"textflag.h\"\n\n")
	avx512 := isa{name: "AVX512", reg: "Z", width: 16, mask: true}
	avx2 := isa{name: "AVX2", reg: "Y", width: 8}
	taps(avx512)
	taps(avx2)
	dot(avx512)
	dot(avx2)
	for _, v := range []isa{avx512, avx2} {
		for _, K := range []int{3, 5} {
			for _, S := range []int{1, 2} {
				row(v, K, S, false)
			}
			row(v, K, 1, true)
		}
	}
	if err := os.WriteFile("kernel_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
