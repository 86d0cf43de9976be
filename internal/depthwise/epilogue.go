package depthwise

import (
	"github.com/effnet-go/effnet/internal/chanops"
	"github.com/effnet-go/effnet/internal/vmath"
)

// Act is the activation an Epilogue applies.
type Act int

const (
	ActNone Act = iota // identity
	ActSiLU            // x·sigmoid(x), as vmath.SiLU computes it
)

// Epilogue is the work that follows a depthwise convolution in an MBConv
// block, done on each output row right after the row is computed, while it
// is still in cache, instead of in passes of its own over an output that
// at B0's early stages is far larger than the caches:
//
//	y[b, oy, ox, c] = Act(conv[b, oy, ox, c]·Scale[c] + Bias[c])
//
// Scale and Bias are an eval-mode batch normalisation folded into one
// multiply-add (in assembly, on the accumulators before they are stored);
// nil means 1 and 0. ChanSum, when not nil, has N·C elements and receives
// += Σ over the sample's pixels of y, per sample and channel: the global
// average pool of squeeze-and-excitation times OH·OW.
//
// ChanSum is added to, never cleared, and calls that run
// concurrently must each have their own: give every block of rows a
// partial of its own and add the partials afterwards (see
// ExampleShape_ForwardEpilogue). Scale, Bias and Act may be shared.
type Epilogue struct {
	Scale, Bias []float32 // [C]
	Act         Act
	ChanSum     []float32 // [N·C]
}

// ForwardEpilogue computes output rows [lo, hi) of the N·OH rows like
// Forward without a bias, then applies e to each row (nil e is allowed and
// does nothing). Rows are independent, but concurrent calls must not share
// e.ChanSum.
func (s *Shape) ForwardEpilogue(out, x, wt []float32, e *Epilogue, lo, hi int) {
	s.forward(best, out, x, wt, e, lo, hi)
}

// checkEpilogue panics when a slice of e is too short for the shape.
func (s *Shape) checkEpilogue(e *Epilogue) {
	C := s.C
	if e.Scale != nil {
		s.check("epilogue scale", len(e.Scale), C)
	}
	if e.Bias != nil {
		s.check("epilogue bias", len(e.Bias), C)
	}
	if e.ChanSum != nil {
		s.check("epilogue channel sums", len(e.ChanSum), s.N*C)
	}
	if e.Act != ActNone && e.Act != ActSiLU {
		panic("depthwise: unknown epilogue activation")
	}
}

// finishRow runs the parts of e that follow the convolution's scale and
// bias on one output row of sample b: the activation and the channel sums.
func (s *Shape) finishRow(y []float32, b int, e *Epilogue) {
	C := s.C
	if e.Act == ActSiLU {
		vmath.SiLU(y, nil, y)
	}
	if e.ChanSum != nil {
		chanops.ColSums(e.ChanSum[b*C:(b+1)*C], y)
	}
}

// affine sets y = y·scale + bias (nil meaning 1 and 0) on channels
// [c0, C) of every pixel of a row: the part of the epilogue that the row
// kernel did not fuse.
func affine(y []float32, C, c0 int, scale, bias []float32) {
	if c0 >= C || (scale == nil && bias == nil) {
		return
	}
	for p := 0; p+C <= len(y); p += C {
		d := y[p+c0 : p+C]
		switch {
		case scale == nil:
			for i, b := range bias[c0:C] {
				d[i] += b
			}
		case bias == nil:
			for i, a := range scale[c0:C] {
				d[i] *= a
			}
		default:
			bb := bias[c0:C]
			for i, a := range scale[c0:C] {
				d[i] = d[i]*a + bb[i]
			}
		}
	}
}
