package direct

import "fmt"

// Shape is a convolution of a padded NHWC input [N, HP, WP, C] with
// weights stored tap-major as [K·K·C, O] (output channels contiguous),
// giving [N, OH, OW, O] with output pixel (oy, ox) reading the input window
// whose top left corner is (oy·S, ox·S).
type Shape struct {
	N, HP, WP, C int // padded input
	K, S         int // square kernel size and stride
	OH, OW, O    int // output
}

func (s *Shape) String() string {
	return fmt.Sprintf("direct N=%d padded %d×%d×%d K=%d S=%d out %d×%d×%d", s.N, s.HP, s.WP, s.C, s.K, s.S, s.OH, s.OW, s.O)
}

// pixels is the number of output pixels the assembly kernel computes at
// once, and lanes the output channels of one vector.
const (
	pixels = 8
	lanes  = 16
)

// Supported reports whether s runs on an assembly kernel on this CPU.
func Supported(s Shape) bool {
	return best != nil && s.S == 2 && s.C == 3 && s.O%lanes == 0 && s.O > 0
}

// Offsets returns the byte offsets, from a window's top left input value,
// of the K·K·C taps in the weight order: tap (ky, kx, c) at
// ((ky·WP + kx)·C + c)·4. The kernel reads them from this table, which the
// caller computes once per input width.
func (s *Shape) Offsets(dst []int) []int {
	dst = dst[:0]
	for ky := range s.K {
		for kx := range s.K {
			for c := range s.C {
				dst = append(dst, 4*((ky*s.WP+kx)*s.C+c))
			}
		}
	}
	return dst
}

// Rows computes output rows [lo, hi) of the N·OH rows of out from the
// padded input x and the weights w [K·K·C, O], using offs from Offsets.
// Rows are independent, so disjoint ranges may run concurrently. It
// panics when a slice is too short: a bug in the caller, which checks user
// shapes itself.
func (s *Shape) Rows(out, x, w []float32, offs []int, lo, hi int) {
	taps := s.K * s.K * s.C
	switch {
	case len(out) < s.N*s.OH*s.OW*s.O, len(x) < s.N*s.HP*s.WP*s.C, len(w) < taps*s.O, len(offs) < taps:
		panic(fmt.Sprintf("direct: slices too short for %v", s))
	case (s.OH-1)*s.S+s.K > s.HP, (s.OW-1)*s.S+s.K > s.WP:
		panic(fmt.Sprintf("direct: windows of %v leave the padded input", s))
	}
	for r := lo; r < hi; r++ {
		n, oy := r/s.OH, r%s.OH
		row := out[r*s.OW*s.O : (r+1)*s.OW*s.O]
		in := (n*s.HP + oy*s.S) * s.WP * s.C // top left of the row's first window
		ox := 0
		if Supported(*s) {
			for ; ox+pixels <= s.OW; ox += pixels {
				x0 := in + ox*s.S*s.C
				cb := 0
				for ; cb+2*lanes <= s.O; cb += 2 * lanes {
					best(row[ox*s.O+cb:], s.O, x[x0:], offs[:taps], w[cb:], 2*lanes)
				}
				if cb < s.O {
					best(row[ox*s.O+cb:], s.O, x[x0:], offs[:taps], w[cb:], lanes)
				}
			}
		}
		for ; ox < s.OW; ox++ {
			s.pixelGo(row[ox*s.O:(ox+1)*s.O], x, in+ox*s.S*s.C, w)
		}
	}
}

// pixelGo computes one output pixel from the window at x[x0:]: the
// portable path for the pixels and shapes the assembly does not cover, and
// the reference the tests hold the assembly to.
func (s *Shape) pixelGo(dst, x []float32, x0 int, w []float32) {
	clear(dst)
	t := 0
	for ky := range s.K {
		for kx := range s.K {
			for c := range s.C {
				v := x[x0+(ky*s.WP+kx)*s.C+c]
				for j, wj := range w[t*s.O : (t+1)*s.O] {
					dst[j] += v * wj
				}
				t++
			}
		}
	}
}
