package scaling

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
)

// GridOptions describes the candidate (α, β, γ) of the paper's step 1: every
// coefficient runs from 1 to Max in steps of Step, and a triple is kept when
// |α·β²·γ² − Target| ≤ Tolerance.
type GridOptions struct {
	Step      float64
	Max       float64
	Target    float64
	Tolerance float64
}

// DefaultGrid returns a grid of step 0.05 up to 2 around the paper's target
// of 2. The tolerance of 0.1 is the smallest round value that keeps the
// paper's own choice (1.2, 1.1, 1.15), whose product is 1.92.
func DefaultGrid() GridOptions {
	return GridOptions{Step: 0.05, Max: 2, Target: 2, Tolerance: 0.1}
}

func (o GridOptions) validate() error {
	var errs []error
	if !(o.Step > 0) || math.IsInf(o.Step, 0) {
		errs = append(errs, fmt.Errorf("scaling: grid step = %v, want > 0", o.Step))
	}
	if !(o.Max >= 1) || math.IsInf(o.Max, 0) {
		errs = append(errs, fmt.Errorf("scaling: grid max = %v, want ≥ 1", o.Max))
	}
	if !(o.Target > 0) || math.IsInf(o.Target, 0) {
		errs = append(errs, fmt.Errorf("scaling: grid target = %v, want > 0", o.Target))
	}
	if !(o.Tolerance >= 0) || math.IsInf(o.Tolerance, 0) {
		errs = append(errs, fmt.Errorf("scaling: grid tolerance = %v, want ≥ 0", o.Tolerance))
	}
	if len(errs) == 0 && (o.Max-1)/o.Step > 1e4 {
		errs = append(errs, fmt.Errorf("scaling: grid of step %v up to %v has more than 1e4 points per axis", o.Step, o.Max))
	}
	return errors.Join(errs...)
}

// Grid enumerates the admissible coefficients in ascending (α, β, γ) order.
// Grid points are computed as 1 + i·step and rounded to 12 decimals, so 1.2
// on a 0.05 grid is exactly the float64 1.2 and not 1.2000000000000002.
func Grid(o GridOptions) ([]Coefficients, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	// The small epsilon keeps Max itself on the grid despite float division.
	n := int(math.Floor((o.Max-1)/o.Step+1e-9)) + 1
	axis := make([]float64, n)
	for i := range axis {
		axis[i] = math.Round((1+float64(i)*o.Step)*1e12) / 1e12
	}
	var out []Coefficients
	for _, a := range axis {
		for _, b := range axis {
			for _, g := range axis {
				c := Coefficients{a, b, g}
				if math.Abs(c.Product()-o.Target) <= o.Tolerance {
					out = append(out, c)
				}
			}
		}
	}
	return out, nil
}

// Result is one scored candidate.
type Result struct {
	Coefficients Coefficients
	Score        float64
}

// Search scores every candidate with score, one at a time in the given order
// (so a scorer that seeds itself from the coefficients is reproducible), and
// returns the results best first: higher score first, ties broken by
// ascending (α, β, γ). A score that fails or is NaN stops the search with an
// error naming the candidate; a cancelled ctx stops it between candidates.
func Search(ctx context.Context, candidates []Coefficients, score func(context.Context, Coefficients) (float64, error)) ([]Result, error) {
	out := make([]Result, 0, len(candidates))
	for _, c := range candidates {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := score(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("scaling: scoring α=%v β=%v γ=%v: %w", c.Alpha, c.Beta, c.Gamma, err)
		}
		if math.IsNaN(s) {
			return nil, fmt.Errorf("scaling: scoring α=%v β=%v γ=%v returned NaN", c.Alpha, c.Beta, c.Gamma)
		}
		out = append(out, Result{c, s})
	}
	slices.SortStableFunc(out, func(x, y Result) int {
		return cmp.Or(
			cmp.Compare(y.Score, x.Score),
			cmp.Compare(x.Coefficients.Alpha, y.Coefficients.Alpha),
			cmp.Compare(x.Coefficients.Beta, y.Coefficients.Beta),
			cmp.Compare(x.Coefficients.Gamma, y.Coefficients.Gamma),
		)
	})
	return out, nil
}
