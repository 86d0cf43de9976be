package gemm

// packA copies the mc×kc block of op(A) starting at row i0, column p0 into
// dst as consecutive micro-panels of mr rows: panel r holds, for each of
// the kc steps p, the mr values op(A)[i0+r·mr+i, p0+p]. Rows past mc are
// zero so that the kernel can always run the full register tile.
func packA(transA bool, a []float32, lda, i0, p0, mc, kc, mr int, dst []float32) {
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		d := dst[ir*kc : ir*kc+mr*kc]
		if transA {
			// op(A)[i, p] = a[p·lda + i]: the mr values of one step are
			// contiguous in a.
			for p := 0; p < kc; p++ {
				src := a[(p0+p)*lda+i0+ir:]
				src = src[:rows]
				dp := d[p*mr : p*mr+mr]
				copy(dp, src)
				clear(dp[rows:])
			}
			continue
		}
		// op(A)[i, p] = a[i·lda + p]: each row is contiguous, written with
		// stride mr.
		for i := 0; i < rows; i++ {
			src := a[(i0+ir+i)*lda+p0:]
			src = src[:kc]
			for p, v := range src {
				d[p*mr+i] = v
			}
		}
		for i := rows; i < mr; i++ {
			for p := 0; p < kc; p++ {
				d[p*mr+i] = 0
			}
		}
	}
}

// packB copies the kc×nc block of op(B) starting at row p0, column j0 into
// dst as consecutive micro-panels of nr columns: panel starting at column
// jr is at dst[jr·kc:] and holds, for each step p, width values
// op(B)[p0+p, j0+jr+j], width = k.panelWidth(cols). Columns past nc are zero.
func packB(k *microKernel, transB bool, b []float32, ldb, p0, j0, kc, nc int, dst []float32) {
	nr := k.nr
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		w := k.panelWidth(cols)
		d := dst[jr*kc : jr*kc+w*kc]
		if !transB {
			// op(B)[p, j] = b[p·ldb + j]: one step is a contiguous run.
			for p := 0; p < kc; p++ {
				src := b[(p0+p)*ldb+j0+jr:]
				src = src[:cols]
				dp := d[p*w : p*w+w]
				copy(dp, src)
				clear(dp[cols:])
			}
			continue
		}
		// op(B)[p, j] = b[j·ldb + p]: each column of op(B) is a contiguous
		// row of b, written with stride w.
		for j := 0; j < cols; j++ {
			src := b[(j0+jr+j)*ldb+p0:]
			src = src[:kc]
			for p, v := range src {
				d[p*w+j] = v
			}
		}
		for j := cols; j < w; j++ {
			for p := 0; p < kc; p++ {
				d[p*w+j] = 0
			}
		}
	}
}
