package gemm

// packA copies the mc×kc block of op(A) starting at row i0, column p0 into
// dst as consecutive micro-panels of mr rows: panel r holds, for each of
// the kc steps p, the mr values op(A)[i0+r·mr+i, p0+p]. Rows past mc are
// zero so that the kernel can always run the full register tile.
func packA(k *microKernel, transA bool, a []float32, lda, i0, p0, mc, kc int, dst []float32) {
	mr := k.mr
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		d := dst[ir*kc : ir*kc+mr*kc]
		if transA {
			// op(A)[i, p] = a[p·lda + i]: the mr values of one step are
			// contiguous in a.
			if rows == 12 && mr == 12 {
				for p := 0; p < kc; p++ {
					o := (p0+p)*lda + i0 + ir
					*(*[12]float32)(d[p*12:]) = *(*[12]float32)(a[o:])
				}
				continue
			}
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
		if rows == 12 && mr == 12 {
			packA12(k, a[(i0+ir)*lda+p0:], lda, kc, d)
			continue
		}
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
			if cols == 32 && w == 32 {
				for p := 0; p < kc; p++ {
					*(*[32]float32)(d[p*32:]) = *(*[32]float32)(b[(p0+p)*ldb+j0+jr:])
				}
				continue
			}
			if cols == 16 && w == 16 {
				for p := 0; p < kc; p++ {
					*(*[16]float32)(d[p*16:]) = *(*[16]float32)(b[(p0+p)*ldb+j0+jr:])
				}
				continue
			}
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
		// row of b, written with stride w. Going through the steps in
		// blocks of transBlock keeps the destination rows being written
		// (transBlock·w floats) in L1; a whole panel at once (kc·w floats,
		// 64 KiB at kc = 512) does not fit, and every store then went to L2.
		pb := 0
		if k.transpose != nil && (cols == 16 || cols == 32) && kc >= 16 {
			// Whole blocks of 16 steps in vector transposes, the rest below.
			blocks := kc / 16
			for h := 0; h < cols; h += 16 {
				k.transpose(d[h:], w, b[(j0+jr+h)*ldb+p0:], ldb, blocks)
			}
			pb = blocks * 16
		}
		for ; pb < kc; pb += transBlock {
			pe := min(pb+transBlock, kc)
			for j := 0; j < cols; j++ {
				src := b[(j0+jr+j)*ldb+p0+pb:]
				src = src[:pe-pb]
				dj := d[pb*w+j:]
				for p, v := range src {
					dj[p*w] = v
				}
			}
		}
		if cols < w {
			for p := 0; p < kc; p++ {
				clear(d[p*w+cols : p*w+w])
			}
		}
	}
}

// transBlock is the number of k steps packB copies at a time from a
// transposed B: one 64-byte line of each source row.
const transBlock = 16

// packA12 interleaves twelve rows of a (row stride lda, kc values each) into
// d: the hot case of packA for the 12-row AVX-512 tile. Reading the twelve
// rows side by side writes d sequentially.
func packA12(k *microKernel, a []float32, lda, kc int, d []float32) {
	if k.packA12 != nil && kc >= 16 {
		// Whole blocks of 16 steps in vector code, the rest below.
		blocks := kc / 16
		k.packA12(d, a, lda, blocks)
		a, kc, d = a[16*blocks:], kc-16*blocks, d[12*16*blocks:]
		if kc == 0 {
			return
		}
	}
	r0 := a[0*lda : 0*lda+kc]
	r1 := a[1*lda : 1*lda+kc]
	r2 := a[2*lda : 2*lda+kc]
	r3 := a[3*lda : 3*lda+kc]
	r4 := a[4*lda : 4*lda+kc]
	r5 := a[5*lda : 5*lda+kc]
	r6 := a[6*lda : 6*lda+kc]
	r7 := a[7*lda : 7*lda+kc]
	r8 := a[8*lda : 8*lda+kc]
	r9 := a[9*lda : 9*lda+kc]
	r10 := a[10*lda : 10*lda+kc]
	r11 := a[11*lda : 11*lda+kc]
	d = d[:12*kc]
	for p := range r0 {
		dp := (*[12]float32)(d[12*p:])
		dp[0] = r0[p]
		dp[1] = r1[p]
		dp[2] = r2[p]
		dp[3] = r3[p]
		dp[4] = r4[p]
		dp[5] = r5[p]
		dp[6] = r6[p]
		dp[7] = r7[p]
		dp[8] = r8[p]
		dp[9] = r9[p]
		dp[10] = r10[p]
		dp[11] = r11[p]
	}
}
