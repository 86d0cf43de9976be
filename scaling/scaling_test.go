package scaling

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPresetsAreTheReleasedTable(t *testing.T) {
	want := []Preset{
		{"b0", 1.0, 1.0, 224, 0.2},
		{"b1", 1.0, 1.1, 240, 0.2},
		{"b2", 1.1, 1.2, 260, 0.3},
		{"b3", 1.2, 1.4, 300, 0.3},
		{"b4", 1.4, 1.8, 380, 0.4},
		{"b5", 1.6, 2.2, 456, 0.4},
		{"b6", 1.8, 2.6, 528, 0.5},
		{"b7", 2.0, 3.1, 600, 0.5},
	}
	require.Equal(t, want, Presets())

	p, err := LookupPreset("b3")
	require.NoError(t, err)
	assert.Equal(t, want[3], p)

	_, err = LookupPreset("b8")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"b8"`)
	assert.Contains(t, err.Error(), "b0, b1, b2, b3, b4, b5, b6, b7")
}

func TestPresetsAreNotAlphaPowPhi(t *testing.T) {
	// The reason the presets are a literal table: φ=1 with the paper's
	// coefficients is not B1.
	m := Paper().Multipliers(1)
	b1, err := LookupPreset("b1")
	require.NoError(t, err)
	assert.NotEqual(t, b1.Depth, m.Depth)
	assert.Equal(t, 258, ScaleResolution(BaseResolution, m.Resolution))
	assert.NotEqual(t, b1.Resolution, ScaleResolution(BaseResolution, m.Resolution))
}

func TestMultipliersAndFLOPsFactor(t *testing.T) {
	c := Paper()
	m := c.Multipliers(2)
	// Tolerances: these are one or two float64 roundings away from the
	// exact decimal products, so 1e-12 is generous and still catches a
	// wrong exponent or base.
	assert.InDelta(t, 1.44, m.Depth, 1e-12)
	assert.InDelta(t, 1.21, m.Width, 1e-12)
	assert.InDelta(t, 1.3225, m.Resolution, 1e-12)
	assert.InDelta(t, 1.2*1.21*1.3225, c.Product(), 1e-12)
	assert.InDelta(t, math.Pow(1.92027, 3), c.FLOPsFactor(3), 1e-4) // 1.92027 is the product rounded to 5 decimals
	assert.Equal(t, Multipliers{1, 1, 1}, c.Multipliers(0))
	assert.Equal(t, 1.0, c.FLOPsFactor(0))
}

func TestCoefficientsValidate(t *testing.T) {
	require.NoError(t, Paper().Validate())
	err := Coefficients{Alpha: 0, Beta: math.NaN(), Gamma: math.Inf(1)}.Validate()
	require.Error(t, err)
	for _, s := range []string{"alpha", "beta", "gamma"} {
		assert.Contains(t, err.Error(), s)
	}
	assert.Error(t, Coefficients{1, -1, 1}.Validate())
}

func TestRoundChannels(t *testing.T) {
	for _, tc := range []struct {
		c     int
		w     float64
		div   int
		want  int
		about string
	}{
		{32, 1.0, 8, 32, "multiple of 8 is kept"},
		{32, 1.1, 8, 32, "35.2 rounds down to 32, within 10 %"},
		{40, 1.1, 8, 48, "44 is a tie, int(48)//8*8 = 48"},
		{16, 1.1, 8, 16, "17.6 rounds to 16"},
		{320, 1.1, 8, 352, "b2's last stage"},
		{1280, 1.1, 8, 1408, "b2's head"},
		{16, 0.25, 8, 8, "4 rounds to 0, clamped to the divisor"},
		{24, 0.5, 8, 16, "12 is a tie: int(16)//8*8 = 16"},
		{10, 1.0, 8, 16, "10 rounds to 8, < 0.9·10 = 9, so +8"},
		{11, 1.0, 4, 12, "divisor 4"},
		{112, 1.8, 8, 200, "b6: 201.6 → 200"},
		{40, 1.8, 8, 72, "b6: 72 exactly"},
		{24, 1.6, 8, 40, "b5: 38.4 → 40"},
	} {
		assert.Equal(t, tc.want, RoundChannels(tc.c, tc.w, tc.div), tc.about)
	}
	assert.Panics(t, func() { RoundChannels(8, 1, 0) })
}

func TestRoundRepeats(t *testing.T) {
	b0 := []int{1, 2, 2, 3, 3, 4, 1}
	total := func(d float64) int {
		n := 0
		for _, r := range b0 {
			n += RoundRepeats(r, d)
		}
		return n
	}
	// Block counts of the released models (torchvision_table.json).
	for _, tc := range []struct {
		d    float64
		want int
	}{{1.0, 16}, {1.1, 23}, {1.2, 23}, {1.4, 26}, {1.8, 32}, {2.2, 39}, {2.6, 45}, {3.1, 55}} {
		assert.Equal(t, tc.want, total(tc.d), "depth %v", tc.d)
	}
	assert.Equal(t, 1, RoundRepeats(3, 0.1))
}

func TestScaleResolution(t *testing.T) {
	assert.Equal(t, 224, ScaleResolution(224, 1))
	assert.Equal(t, 258, ScaleResolution(224, 1.15))   // 257.6
	assert.Equal(t, 296, ScaleResolution(224, 1.3225)) // 296.24
	assert.Equal(t, 1, ScaleResolution(224, 1e-9))
}

func TestGrid(t *testing.T) {
	cs, err := Grid(DefaultGrid())
	require.NoError(t, err)
	require.NotEmpty(t, cs)
	assert.Contains(t, cs, Paper(), "the paper's choice is on the default grid")
	o := DefaultGrid()
	for i, c := range cs {
		assert.GreaterOrEqual(t, c.Alpha, 1.0)
		assert.GreaterOrEqual(t, c.Beta, 1.0)
		assert.GreaterOrEqual(t, c.Gamma, 1.0)
		assert.LessOrEqual(t, math.Abs(c.Product()-o.Target), o.Tolerance)
		if i > 0 {
			p := cs[i-1]
			less := p.Alpha < c.Alpha || p.Alpha == c.Alpha && (p.Beta < c.Beta || p.Beta == c.Beta && p.Gamma < c.Gamma)
			assert.True(t, less, "grid order at %d", i)
		}
	}

	// A hand-checked small grid: on {1, 1.5, 2} the products near 2 are
	// 2 (α=2), 2.25 (β or γ = 1.5) and 1.5 (α=1.5); ± 0.2 keeps only α=2.
	small, err := Grid(GridOptions{Step: 0.5, Max: 2, Target: 2, Tolerance: 0.2})
	require.NoError(t, err)
	assert.Equal(t, []Coefficients{{2, 1, 1}}, small)

	// Tolerance 0.3 around 2.25 adds (1, 1.5, 1) and (1, 1, 1.5).
	small, err = Grid(GridOptions{Step: 0.5, Max: 2, Target: 2.25, Tolerance: 0.3})
	require.NoError(t, err)
	assert.Equal(t, []Coefficients{{1, 1, 1.5}, {1, 1.5, 1}, {2, 1, 1}}, small)

	for _, bad := range []GridOptions{
		{Step: 0, Max: 2, Target: 2, Tolerance: 0.1},
		{Step: 0.1, Max: 0.5, Target: 2, Tolerance: 0.1},
		{Step: 0.1, Max: 2, Target: -1, Tolerance: 0.1},
		{Step: 0.1, Max: 2, Target: 2, Tolerance: math.NaN()},
		{Step: 1e-9, Max: 2, Target: 2, Tolerance: 0.1},
	} {
		_, err := Grid(bad)
		assert.Error(t, err, "%+v", bad)
	}
}

func TestSearchSortsAndIsReproducible(t *testing.T) {
	cs := []Coefficients{{1, 1, 2}, {1.2, 1.1, 1.15}, {2, 1, 1}, {1, 2, 1}}
	// Ties between {1,1,2} and {1,2,1} must fall back to (α, β, γ) order.
	score := func(_ context.Context, c Coefficients) (float64, error) {
		switch c {
		case Paper():
			return 0.9, nil
		case Coefficients{2, 1, 1}:
			return 0.5, nil
		}
		return 0.7, nil
	}
	got, err := Search(context.Background(), cs, score)
	require.NoError(t, err)
	want := []Result{
		{Paper(), 0.9},
		{Coefficients{1, 1, 2}, 0.7},
		{Coefficients{1, 2, 1}, 0.7},
		{Coefficients{2, 1, 1}, 0.5},
	}
	assert.Equal(t, want, got)

	// Reversed input order, same output.
	rev := []Coefficients{cs[3], cs[2], cs[1], cs[0]}
	got2, err := Search(context.Background(), rev, score)
	require.NoError(t, err)
	assert.Equal(t, want, got2)
}

func TestSearchErrors(t *testing.T) {
	boom := errors.New("boom")
	_, err := Search(context.Background(), []Coefficients{Paper()}, func(context.Context, Coefficients) (float64, error) {
		return 0, boom
	})
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "α=1.2")

	_, err = Search(context.Background(), []Coefficients{Paper()}, func(context.Context, Coefficients) (float64, error) {
		return math.NaN(), nil
	})
	require.Error(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err = Search(ctx, []Coefficients{{1, 1, 1}, {2, 1, 1}}, func(context.Context, Coefficients) (float64, error) {
		calls++
		cancel()
		return 1, nil
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, calls)
}
