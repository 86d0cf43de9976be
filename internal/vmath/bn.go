package vmath

// The per-channel passes of batch normalisation over NHWC data: x holds
// rows of c = len(m) channels, the channel being the fastest index, so one
// row of per-channel coefficients lines up with every row of x.

// NormRows sets dst[r·c+j] = (x[r·c+j] - m[j])·a[j] + b[j] for every row r
// of x, c = len(m). a and b must have length c, x a multiple of c elements,
// and dst the length of x; dst may be x.
func NormRows(dst, x, m, a, b []float32) {
	c := len(m)
	mustLen(len(a), c)
	mustLen(len(b), c)
	mustRows(len(dst), len(x), c)
	bnBest.norm(dst, x, m, a, b)
}

// NormGradRows sets dst[r·c+j] = dy[r·c+j]·a[j] + (x[r·c+j] - m[j])·xc[j] + b[j]
// for every row r, c = len(m): batch normalisation's input gradient with
// its per-channel terms folded into a, xc and b. dst may be dy.
func NormGradRows(dst, dy, x, m, a, xc, b []float32) {
	c := len(m)
	mustLen(len(a), c)
	mustLen(len(xc), c)
	mustLen(len(b), c)
	mustRows(len(dst), len(x), c)
	mustLen(len(dy), len(x))
	bnBest.normGrad(dst, dy, x, m, a, xc, b)
}

// CenteredSums adds Σ_r (x[r·c+j] - base[j]) to s1[j] and the sum of the
// squares to s2[j], c = len(base). The sums are taken in float64, so that
// the caller can sum a million rows without losing float32 digits.
func CenteredSums(s1, s2 []float64, x []float32, base []float64) {
	c := len(base)
	mustLen(len(s1), c)
	mustLen(len(s2), c)
	mustRows(len(x), len(x), c)
	bnBest.sums(s1, s2, x, base)
}

// CenteredGradSums adds Σ_r dy[r·c+j] to sg[j] and Σ_r dy[r·c+j]·(x[r·c+j] - m[j])
// to sgx[j], c = len(m), in float64 like CenteredSums.
func CenteredGradSums(sg, sgx []float64, dy, x []float32, m []float64) {
	c := len(m)
	mustLen(len(sg), c)
	mustLen(len(sgx), c)
	mustRows(len(x), len(x), c)
	mustLen(len(dy), len(x))
	bnBest.gradSums(sg, sgx, dy, x, m)
}

func mustRows(dst, x, c int) {
	if c == 0 || x%c != 0 {
		panic("vmath: length is not a multiple of the row width")
	}
	mustLen(dst, x)
}

// bnImpl is one implementation of the batch normalisation passes.
type bnImpl struct {
	name     string
	norm     func(dst, x, m, a, b []float32)
	normGrad func(dst, dy, x, m, a, xc, b []float32)
	sums     func(s1, s2 []float64, x []float32, base []float64)
	gradSums func(sg, sgx []float64, dy, x []float32, m []float64)
}

// bnGo is the portable implementation, the reference for the assembly and
// the loop for the channels left over when c is not a multiple of 8.
var bnGo = bnImpl{name: "go", norm: normGo, normGrad: normGradGo, sums: sumsGo, gradSums: gradSumsGo}

func normGo(dst, x, m, a, b []float32) {
	c := len(m)
	a, b = a[:c], b[:c]
	for r := 0; r+c <= len(x); r += c {
		d, xr := dst[r:r+c], x[r:r+c]
		for j, v := range xr {
			d[j] = (v-m[j])*a[j] + b[j]
		}
	}
}

func normGradGo(dst, dy, x, m, a, xc, b []float32) {
	c := len(m)
	a, xc, b = a[:c], xc[:c], b[:c]
	for r := 0; r+c <= len(x); r += c {
		d, g, xr := dst[r:r+c], dy[r:r+c], x[r:r+c]
		for j, v := range xr {
			d[j] = g[j]*a[j] + (v-m[j])*xc[j] + b[j]
		}
	}
}

func sumsGo(s1, s2 []float64, x []float32, base []float64) {
	c := len(base)
	s1, s2 = s1[:c], s2[:c]
	for r := 0; r+c <= len(x); r += c {
		for j, v := range x[r : r+c] {
			d := float64(v) - base[j]
			s1[j] += d
			s2[j] += d * d
		}
	}
}

func gradSumsGo(sg, sgx []float64, dy, x []float32, m []float64) {
	c := len(m)
	sg, sgx = sg[:c], sgx[:c]
	for r := 0; r+c <= len(x); r += c {
		g := dy[r : r+c]
		for j, v := range x[r : r+c] {
			gv := float64(g[j])
			sg[j] += gv
			sgx[j] += gv * (float64(v) - m[j])
		}
	}
}
