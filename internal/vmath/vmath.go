package vmath

import "math"

// Sigmoid sets dst[i] = 1/(1+e^-x[i]). dst and x must have the same length
// and may be the same slice.
func Sigmoid(dst, x []float32) {
	mustLen(len(dst), len(x))
	best.sigmoid(dst, x)
}

// SiLU sets dst[i] = x[i]·σ(x[i]) and, when sig is not nil, sig[i] = σ(x[i])
// for the backward pass. dst may be x; sig must be distinct from both.
func SiLU(dst, sig, x []float32) {
	mustLen(len(dst), len(x))
	if sig != nil {
		mustLen(len(sig), len(x))
	}
	best.silu(dst, sig, x)
}

// SigmoidGrad sets dx[i] = dy[i]·s·(1-s) with s = sig[i] = σ(x[i]).
func SigmoidGrad(dx, dy, sig []float32) {
	mustLen(len(dx), len(dy))
	mustLen(len(sig), len(dy))
	best.sigmoidGrad(dx, dy, sig)
}

// SiLUGrad sets dx[i] = dy[i]·s·(1 + x[i]·(1-s)) with s = sig[i] = σ(x[i]),
// the derivative of x·σ(x). When sig is nil, σ(x[i]) is recomputed, which
// spares the caller an activation-sized buffer for one exponential per
// element. dx may be dy.
func SiLUGrad(dx, dy, x, sig []float32) {
	mustLen(len(dx), len(dy))
	mustLen(len(x), len(dy))
	if sig == nil {
		best.siluGradX(dx, dy, x)
		return
	}
	mustLen(len(sig), len(dy))
	best.siluGrad(dx, dy, x, sig)
}

func mustLen(got, want int) {
	if got != want {
		panic("vmath: slice lengths differ")
	}
}

// impl is one implementation of the four loops.
type impl struct {
	name        string
	sigmoid     func(dst, x []float32)
	silu        func(dst, sig, x []float32)
	sigmoidGrad func(dx, dy, sig []float32)
	siluGrad    func(dx, dy, x, sig []float32)
	siluGradX   func(dx, dy, x []float32) // siluGrad recomputing σ
}

// goImpl is the portable implementation, used without AVX2 and with the
// noasm tag, for the tails the vector loops leave, and as the reference the
// assembly is tested against. It evaluates the same formulas in the same
// order; only the assembly's fused multiply-adds round differently.
var goImpl = impl{name: "go", sigmoid: sigmoidGo, silu: siluGo, sigmoidGrad: sigmoidGradGo, siluGrad: siluGradGo, siluGradX: siluGradXGo}

// The exponential's constants; gen_amd64.go holds the same values.
const (
	expLo    = -87.33654 // ln of the smallest normal float32
	expHi    = 88        // keeps 2^n finite
	log2e    = float32(math.Log2E)
	magic    = 12582912 // 1.5·2^23: adding it rounds to an integer
	ln2Hi    = 0.693359375
	ln2Lo    = -2.12194440e-4
	c0, c1   = 1.9875691500e-4, 1.3981999507e-3
	c2, c3   = 8.3334519073e-3, 4.1665795894e-2
	c4, c5   = 1.6666665459e-1, 5.0000001201e-1
	expBiasM = 0xB4C0007F // 127 - 0x4B400000 mod 2^32: exponent bias minus magic's bit pattern
)

// exp is e^x for x clamped to [expLo, expHi] (NaN passes through): with
// n = round(x·log2 e) and r = x - n·ln 2 (in two parts, so that n·ln2Hi is
// exact), e^x = 2^n·e^r, and e^r on |r| <= ln2/2 is Cephes' expf
// polynomial. The sum x·log2e + magic holds n in its low mantissa bits.
func exp(x float32) float32 {
	if x < expLo {
		x = expLo
	} else if x > expHi {
		x = expHi
	}
	t := x*log2e + magic
	n := t - magic
	r := x - n*ln2Hi
	r = r - n*ln2Lo
	q := float32(c0)
	q = q*r + c1
	q = q*r + c2
	q = q*r + c3
	q = q*r + c4
	q = q*r + c5
	q = q*(r*r) + r
	q = q + 1
	return q * math.Float32frombits((math.Float32bits(t)+expBiasM)<<23)
}

func sigmoid(x float32) float32 { return 1 / (1 + exp(-x)) }

func sigmoidGo(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = sigmoid(v)
	}
}

func siluGo(dst, sig, x []float32) {
	dst = dst[:len(x)]
	if sig == nil {
		for i, v := range x {
			dst[i] = v * sigmoid(v)
		}
		return
	}
	sig = sig[:len(x)]
	for i, v := range x {
		s := sigmoid(v)
		sig[i] = s
		dst[i] = v * s
	}
}

func sigmoidGradGo(dx, dy, sig []float32) {
	dx, dy = dx[:len(sig)], dy[:len(sig)]
	for i, s := range sig {
		dx[i] = (1 - s) * s * dy[i]
	}
}

func siluGradGo(dx, dy, x, sig []float32) {
	dx, dy, x = dx[:len(sig)], dy[:len(sig)], x[:len(sig)]
	for i, s := range sig {
		dx[i] = ((1-s)*x[i] + 1) * s * dy[i]
	}
}

func siluGradXGo(dx, dy, x []float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	for i, v := range x {
		s := sigmoid(v)
		dx[i] = ((1-s)*v + 1) * s * dy[i]
	}
}
