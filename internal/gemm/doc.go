// Package gemm computes C = alpha·op(A)·op(B) + beta·C on row-major
// matrices, the one kernel behind every convolution and linear layer.
//
// float64 goes to gonum's Dgemm, which is exact enough for gradient checks
// and reference comparisons. float32 is the production path and runs the
// code of this package.
//
// # Design
//
// The float32 product follows Goto and van de Geijn (the BLIS loop nest):
// for each nc-wide block of columns and kc-deep block of k, B is packed into
// kc×nr micro-panels; for each mc-tall block of rows, A is packed into
// mr×kc micro-panels; a micro-kernel then computes each mr×nr tile of C in
// registers from one A and one B micro-panel, reading only packed,
// contiguous memory, and adds alpha times it to beta times C. Packing also
// absorbs the transposes: the kernel never sees them.
//
// The AVX-512 kernel's tile is 12×32: 24 zmm accumulators (12 rows × two
// vectors of 16), two registers for the B step and six for broadcast A
// values use the 32 zmm registers; each k step issues 24 FMAs against two
// vector loads and twelve broadcasts, enough independent FMAs to hide their
// latency on two FMA pipes. Opmask stores handle ragged column edges and a
// row count handles ragged row edges, so edge tiles need no scratch copy;
// panels of at most 16 columns (16, 24 and 40 channels are common in
// EfficientNet) run a half-width loop instead of multiplying zeros. The
// kernel takes strides for A and B, so full panels are read in place when
// packing would only add memory traffic: A when a block has at most 16
// column panels (1×1 convolutions with up to 512 output channels: an A
// micro-panel read in place that often from cache costs less than copying
// it, measured 1.1-1.25× on the EfficientNet forward shapes), B when it is
// not transposed and all rows of C form one block (weight gradients, with
// k = batch·height·width). A transposed B (the forward 1×1 convolution,
// C = X·Wᵀ) is packed by 16×16 vector transposes.
//
// The generator also emits 10- and 8-row variants of the tile, which fill
// products with 40 or 16 rows exactly where 12-row tiles leave a sixth or
// a third of every panel's FMAs idle (microKernel.fit picks one per
// product), and a non-temporal variant whose stores skip reading C, for a
// C of 32 MB or more that could not stay in the caches anyway; it computes
// each 12-row tile as two halves of 6 and stores one half while the next
// computes, since a burst of such stores at the end of a tile stalls the
// FMAs behind it. When the block of B fits in L1 it runs a row of tiles at
// a time across all column panels, so that C is written in runs of whole
// rows: a column panel at a time, its stores covered 128 of every 384
// bytes of each row per pass, which memory takes far more slowly (see
// rowWise). Each call computes a whole column of tiles, or all the rows of
// tiles of a block: with k as short as 16 the call from Go cost a tenth of
// a tile.
//
// Products with at most 16 columns (the input and weight gradients of
// 1×1 convolutions from 16 channels) run on a 24×16 tile instead of the
// half-width loop: 24 accumulators, so each B step loaded serves 24 FMAs,
// not 12. Its loop prefetches A read in place itself, at a steady pace:
// the tile after next when A's rows are contiguous (dX = dY·W); when A is
// transposed (dW = dYᵀ·X) and the call's tiles cover whole rows of it,
// the next k blocks of A and B as sequential runs spread over the tiles,
// and otherwise 256 steps ahead of each tile's own rows. Those two products
// read 38.5 MB at batch 8 for 0.31 GFLOP; on this kernel they run 1.46×
// and 1.27× faster than on the half-width loop and (dW, transposed) the
// 8×32 tile, and the sequential run made dW 1.10× faster again at batch
// 32 (1.02× at batch 8, whose 45 MB partly stay in the last-level cache),
// and a run over X's next k block as well 1.075× and 1.05× more.
//
// Products with 24 or 40 columns, A read by rows and k within one block
// run on pair kernels instead (pairs.go): 12×24 and 8×40 tiles that take k
// steps two at a time, B packed so that one FMA on a broadcast pair of A
// values (a0 a1 a0 a1 …) serves the last 8 columns of both steps. The
// 32-wide tiles would leave a quarter or a sixth of their lanes idle.
//
// Blocking: kc = 512 keeps a B micro-panel (kc·32·4 bytes) and the A
// micro-panel it meets within the L1 and L2 caches while making C's
// load-add-store per kc block rare; mc = 144 (12 tiles) keeps the packed A
// block (288 KiB) in the 1 MiB L2; nc = 2048 bounds the packed B block.
// Measured on Zen 5, kc between 256 and 512 and mc between 72 and 288
// differ by less than the run-to-run noise; these values were the best.
//
// The AVX2 kernel for CPUs without AVX-512 is 6×16 (12 ymm accumulators
// of the 16 ymm registers) and computes edge tiles into a scratch tile.
// The portable kernel is a 4×4 tile of Go scalars.
//
// # Choosing a kernel
//
// On amd64 the kernel is chosen once at start-up from
// golang.org/x/sys/cpu, whose AVX-512 and AVX2 flags are set only when the
// operating system also saves the zmm and ymm register state: AVX-512F, else
// AVX2 with FMA, else the Go kernel. Other architectures, and any build with
// the noasm tag, compile no assembly and use the Go kernel. The tests run
// every kernel the machine supports against a float64 triple loop and
// against the Go kernel.
//
// # Parallelism and allocation
//
// A product worth more than about a million flops is shared by up to
// GOMAXPROCS goroutines: by blocks of rows of C, or of columns when those
// balance better; or, when k is long and C small (weight gradients), by
// ranges of k, the partial products being summed at the end; such a
// product runs transposed (Cᵀ = op(B)ᵀ·op(A)ᵀ, then added into C) when
// its tiles fill better that way, and, when it needs more bytes per FMA
// than two cores can stream, prefetches its next k block. A row split
// deals the rows out in chunks from a shared counter, four per worker, so
// that a core busy with other work does not hold up the call; each worker
// packs all of op(B) for itself before its first chunk. (Packing B per
// chunk had cost up to a tenth of the forward products, and one copy
// packed by the workers together cost as much again: on this machine a
// cache line one core wrote takes the other about 250 ns to read: see
// internal/parallel's BenchmarkCacheLineRoundTrip.)
// Packing buffers come from a free list that is a pure cache; once warm a
// call allocates nothing, serial or parallel (the parts run on
// internal/parallel's persistent workers).
//
// # Epilogue
//
// GemmEpilogue applies per-column scale and bias, SiLU and a residual add
// to each mc×nc block of C right after the block's last k block, while it
// is still in the L2 cache, with vmath's vector loops: an evaluation-mode
// 1×1 convolution with batch normalisation, activation and skip
// connection in one pass instead of three or four. A k split applies the
// epilogue while it adds the partial products. The epilogue is not in the
// micro-kernel's registers: the
// exponential would need registers the 12×32 tile uses, and a block is
// still in cache when the epilogue reads it.
package gemm
