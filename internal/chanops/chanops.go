package chanops

// sumBlock is how many rows one call of a sum kernel covers: each block's
// float32 sum is added to the caller's, so rounding grows with the block
// size plus the block count, not with the row count.
const sumBlock = 256

// ColSums adds Σ_r x[r·C+c] to sum[c] for every row r of x, with
// C = len(sum). It panics unless len(x) is a multiple of C.
func ColSums(sum, x []float32) {
	rows := mustRows(len(x), len(sum))
	C := len(sum)
	for r := 0; r < rows; r += sumBlock {
		n := min(sumBlock, rows-r)
		best.colSums(sum, x[r*C:(r+n)*C], n, C)
	}
}

// ColDots adds Σ_r x[r·C+c]·y[r·C+c] to sum[c] for every row r, with
// C = len(sum). x and y must have the same length, a multiple of C.
func ColDots(sum, x, y []float32) {
	rows := mustRows(len(x), len(sum))
	mustLen(len(y), len(x))
	C := len(sum)
	for r := 0; r < rows; r += sumBlock {
		n := min(sumBlock, rows-r)
		best.colDots(sum, x[r*C:(r+n)*C], y[r*C:(r+n)*C], n, C)
	}
}

// ScaleRows sets dst[r·C+c] = x[r·C+c]·g[c] for every row r, with
// C = len(g). dst must have the length of x, a multiple of C, and may be
// x itself.
func ScaleRows(dst, x, g []float32) {
	rows := mustRows(len(x), len(g))
	mustLen(len(dst), len(x))
	best.scaleRows(dst, x, g, nil, rows, len(g))
}

// ScaleAddRows sets dst[r·C+c] = x[r·C+c]·g[c] + a[c] for every row r,
// with C = len(g) = len(a). dst must have the length of x, a multiple of
// C, and may be x itself.
func ScaleAddRows(dst, x, g, a []float32) {
	rows := mustRows(len(x), len(g))
	mustLen(len(a), len(g))
	mustLen(len(dst), len(x))
	best.scaleRows(dst, x, g, a, rows, len(g))
}

func mustLen(got, want int) {
	if got != want {
		panic("chanops: slice lengths differ")
	}
}

// mustRows returns n/c, panicking unless c > 0 divides n.
func mustRows(n, c int) int {
	if c == 0 || n%c != 0 {
		panic("chanops: length is not a multiple of the row width")
	}
	return n / c
}

// impl is one implementation of the passes, on rows of C channels. The
// sums cover rows rows of x; scaleRows adds a unless it is nil.
type impl struct {
	name      string
	colSums   func(sum, x []float32, rows, C int)
	colDots   func(sum, x, y []float32, rows, C int)
	scaleRows func(dst, x, g, a []float32, rows, C int)
}

// goImpl is the portable implementation, used on other CPUs and with the
// noasm tag, for the channels past the last whole vector, and as the
// reference the assembly is tested against.
var goImpl = impl{name: "go", colSums: colSumsGo, colDots: colDotsGo, scaleRows: scaleRowsGo}

// colSumsGo sums channels [c0, C) (c0 = 0 for all of them), in blocks of
// eight held in scalar registers over all rows.
func colSumsGo(sum, x []float32, rows, C int) { colSumsFrom(sum, x, rows, C, 0) }

func colSumsFrom(sum, x []float32, rows, C, c0 int) {
	c := c0
	for ; c+8 <= C; c += 8 {
		var s0, s1, s2, s3, s4, s5, s6, s7 float32
		for o := c; o < rows*C; o += C {
			v := x[o : o+8 : o+8]
			s0 += v[0]
			s1 += v[1]
			s2 += v[2]
			s3 += v[3]
			s4 += v[4]
			s5 += v[5]
			s6 += v[6]
			s7 += v[7]
		}
		d := sum[c : c+8 : c+8]
		d[0] += s0
		d[1] += s1
		d[2] += s2
		d[3] += s3
		d[4] += s4
		d[5] += s5
		d[6] += s6
		d[7] += s7
	}
	for ; c < C; c++ {
		var s float32
		for o := c; o < rows*C; o += C {
			s += x[o]
		}
		sum[c] += s
	}
}

func colDotsGo(sum, x, y []float32, rows, C int) { colDotsFrom(sum, x, y, rows, C, 0) }

func colDotsFrom(sum, x, y []float32, rows, C, c0 int) {
	c := c0
	for ; c+4 <= C; c += 4 {
		var s0, s1, s2, s3 float32
		for o := c; o < rows*C; o += C {
			a, b := x[o:o+4:o+4], y[o:o+4:o+4]
			s0 += a[0] * b[0]
			s1 += a[1] * b[1]
			s2 += a[2] * b[2]
			s3 += a[3] * b[3]
		}
		d := sum[c : c+4 : c+4]
		d[0] += s0
		d[1] += s1
		d[2] += s2
		d[3] += s3
	}
	for ; c < C; c++ {
		var s float32
		for o := c; o < rows*C; o += C {
			s += x[o] * y[o]
		}
		sum[c] += s
	}
}

func scaleRowsGo(dst, x, g, a []float32, rows, C int) { scaleRowsFrom(dst, x, g, a, rows, C, 0) }

func scaleRowsFrom(dst, x, g, a []float32, rows, C, c0 int) {
	g = g[c0:C]
	for r := 0; r < rows; r++ {
		d, v := dst[r*C+c0:(r+1)*C], x[r*C+c0:(r+1)*C]
		d = d[:len(g)]
		v = v[:len(g)]
		if a == nil {
			for i, gv := range g {
				d[i] = v[i] * gv
			}
			continue
		}
		aa := a[c0:C]
		for i, gv := range g {
			d[i] = v[i]*gv + aa[i]
		}
	}
}
