package train

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
)

func buffer[T layers.Float](name string, value ...T) *layers.Buffer[T] {
	v, err := tensor.FromData(append([]T(nil), value...), len(value))
	if err != nil {
		panic(err)
	}
	return &layers.Buffer[T]{Name: name, Value: v}
}

func TestEMAByHand(t *testing.T) {
	w := param("w", []float64{0, 4}, 2)
	mean := buffer("bn.running_mean", 10.0)
	e, err := NewEMA([]*layers.Param[float64]{w}, []*layers.Buffer[float64]{mean}, EMAConfig{Decay: 0.9})
	require.NoError(t, err)

	// The weights jump to 1 and 4, the running mean to 20, and stay there.
	// From ema0, each update gives ema = 0.9·ema + 0.1·x, so after n
	// updates ema = x + 0.9ⁿ·(ema0 − x):
	//   w0:   1 − 0.9ⁿ          0.1, 0.19, 0.271
	//   w1:   4 (unchanged)
	//   mean: 20 − 10·0.9ⁿ      11, 11.9, 12.71
	copy(w.Value.Data, []float64{1, 4})
	mean.Value.Data[0] = 20
	for n, want := range [][]float64{{0.1, 4, 11}, {0.19, 4, 11.9}, {0.271, 4, 12.71}} {
		assert.Equal(t, 0.9, e.Decay(), "constant decay without warmup")
		require.NoError(t, e.Update())
		st := e.State()
		got := []float64{st[0].Value.Data[0], st[0].Value.Data[1], st[1].Value.Data[0]}
		assert.InDeltaSlice(t, want, got, 1e-14, "after %d updates", n+1) // three roundings on values ≤ 20
	}
	assert.Equal(t, 3, e.Updates())
	assert.Equal(t, []float64{1, 4}, w.Value.Data, "Update must not touch the model")
}

func TestEMACopyBuffers(t *testing.T) {
	w := param("w", []float64{0}, 1)
	mean := buffer("bn.running_mean", 10.0)
	e, err := NewEMA([]*layers.Param[float64]{w}, []*layers.Buffer[float64]{mean}, EMAConfig{Decay: 0.9, CopyBuffers: true})
	require.NoError(t, err)
	w.Value.Data[0] = 1
	mean.Value.Data[0] = 20
	require.NoError(t, e.Update())
	st := e.State()
	assert.InDelta(t, 0.1, st[0].Value.Data[0], 1e-16, "parameters are still averaged")
	assert.Equal(t, 20.0, st[1].Value.Data[0], "buffers are copied")
}

func TestEMAWarmup(t *testing.T) {
	w := param("w", []float64{0}, 1)
	e, err := NewEMA([]*layers.Param[float64]{w}, nil, EMAConfig{Decay: 0.9999, WarmupPower: 2.0 / 3})
	require.NoError(t, err)
	// timm ModelEmaV3.get_decay(step=n) for the n-th update, gamma 1:
	//   n = 1: 0 (the average becomes a copy)
	//   n = 2: 1 − 2^(−2/3) ≈ 0.370
	//   n = 3: 1 − 3^(−2/3) ≈ 0.519
	d2, d3 := 1-math.Pow(2, -2.0/3), 1-math.Pow(3, -2.0/3)
	ema := 0.0
	for n, x := range []float64{5, 1, 2} {
		want := []float64{0, d2, d3}[n]
		assert.InDelta(t, want, e.Decay(), 1e-15, "decay for update %d", n+1)
		w.Value.Data[0] = x
		require.NoError(t, e.Update())
		ema = want*ema + (1-want)*x
		assert.InDelta(t, ema, e.State()[0].Value.Data[0], 1e-14, "after update %d", n+1)
	}
	// Written out: the first update copied 5, then 5·d2 + 1·(1−d2), then
	// that·d3 + 2·(1−d3).
	assert.InDelta(t, 5*d2*d3+(1-d2)*d3+2*(1-d3), e.State()[0].Value.Data[0], 1e-14)

	// The warmup never exceeds Decay: power 1 gives n/(n+1), capped at 0.6.
	e, err = NewEMA([]*layers.Param[float64]{w}, nil, EMAConfig{Decay: 0.6, WarmupPower: 1, WarmupGamma: 1})
	require.NoError(t, err)
	var got []float64
	for range 4 {
		got = append(got, e.Decay())
		require.NoError(t, e.Update())
	}
	assert.InDeltaSlice(t, []float64{0, 0.5, 0.6, 0.6}, got, 1e-15)
}

func TestEMAApplyRestore(t *testing.T) {
	w := param("w", []float32{0, 0}, 2)
	mean := buffer[float32]("bn.running_mean", 0)
	params, buffers := []*layers.Param[float32]{w}, []*layers.Buffer[float32]{mean}
	e, err := NewEMA(params, buffers, EMAConfig{Decay: 0.5})
	require.NoError(t, err)
	copy(w.Value.Data, []float32{2, 4})
	mean.Value.Data[0] = 8
	require.NoError(t, e.Update()) // ema = 0.5·0 + 0.5·x: 1, 2 and 4, exact

	require.ErrorContains(t, e.Restore(), "without Apply")
	require.NoError(t, e.Apply())
	assert.Equal(t, []float32{1, 2}, w.Value.Data, "averaged weights in the model")
	assert.Equal(t, []float32{4}, mean.Value.Data, "averaged buffers in the model")
	require.ErrorContains(t, e.Apply(), "twice")
	require.ErrorContains(t, e.Update(), "Restore first")
	require.ErrorContains(t, e.LoadState(e.State()), "Restore first")
	assert.Equal(t, []float32{1, 2}, e.State()[0].Value.Data, "State is the average while applied")

	require.NoError(t, e.Restore())
	assert.Equal(t, []float32{2, 4}, w.Value.Data, "training weights back")
	assert.Equal(t, []float32{8}, mean.Value.Data)
	require.NoError(t, e.Update())
	assert.Equal(t, []float32{1.5, 3}, e.State()[0].Value.Data, "updates resume after Restore")

	// Apply/Restore reuse their space after the first time.
	assert.Zero(t, testing.AllocsPerRun(10, func() {
		_ = e.Apply()
		_ = e.Restore()
	}))
	assert.Zero(t, testing.AllocsPerRun(10, func() { _ = e.Update() }))
}

// TestEMAStateRoundTrip saves the average mid-run and resumes it in a fresh
// EMA: the continuation must be bit-identical.
func TestEMAStateRoundTrip(t *testing.T) {
	model := func() ([]*layers.Param[float32], []*layers.Buffer[float32]) {
		return []*layers.Param[float32]{param("conv.weight", []float32{0.1, 0.2, 0.3, 0.4}, 2, 2)},
			[]*layers.Buffer[float32]{buffer[float32]("bn.running_var", 1, 2)}
	}
	cfg := EMAConfig{Decay: 0.999, WarmupPower: 0.75}
	drive := func(e *EMA[float32], ps []*layers.Param[float32], bs []*layers.Buffer[float32], from, to int) {
		for s := from; s < to; s++ {
			for j := range ps[0].Value.Data {
				ps[0].Value.Data[j] = float32(math.Sin(float64(s + j)))
			}
			bs[0].Value.Data[1] = float32(s)
			require.NoError(t, e.Update())
		}
	}
	ps, bs := model()
	e, err := NewEMA(ps, bs, cfg)
	require.NoError(t, err)
	drive(e, ps, bs, 0, 25)
	var saved []*layers.Buffer[float32]
	for _, b := range e.State() {
		saved = append(saved, &layers.Buffer[float32]{Name: b.Name, Value: b.Value.Clone()})
	}
	assert.Equal(t, []string{"conv.weight", "bn.running_var", EMAUpdatesName}, names(saved), "model names, so the average loads as a model")
	drive(e, ps, bs, 25, 50)

	ps2, bs2 := model() // a different starting average, overwritten by the load
	e2, err := NewEMA(ps2, bs2, cfg)
	require.NoError(t, err)
	require.NoError(t, e2.LoadState(saved))
	assert.Equal(t, 25, e2.Updates())
	assert.Equal(t, e.cfg, e2.cfg)
	drive(e2, ps2, bs2, 25, 50)
	for i, b := range e.State() {
		require.Equal(t, b.Value.Data, e2.State()[i].Value.Data, "%s differs after resume", b.Name)
	}
}

func names[T layers.Float](bs []*layers.Buffer[T]) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Name)
	}
	return out
}

// TestEMACounterBeyondFloat32 checks that an update count float32 cannot
// hold in one number survives a float32 checkpoint.
func TestEMACounterBeyondFloat32(t *testing.T) {
	w := param("w", []float32{0}, 1)
	e, err := NewEMA([]*layers.Param[float32]{w}, nil, EMAConfig{Decay: 0.9})
	require.NoError(t, err)
	const n = 1<<24 + 3 // float32(n) rounds to 1<<24 + 4
	e.updates = n
	st := e.State()
	e2, err := NewEMA([]*layers.Param[float32]{w}, nil, EMAConfig{Decay: 0.9})
	require.NoError(t, err)
	require.NoError(t, e2.LoadState(st))
	assert.Equal(t, n, e2.Updates())
}

func TestEMAErrors(t *testing.T) {
	w := func() []*layers.Param[float32] { return []*layers.Param[float32]{param("w", []float32{1, 2}, 2)} }
	for _, cfg := range []EMAConfig{{Decay: 1}, {Decay: -0.1}, {Decay: math.NaN()}, {Decay: 0.9, WarmupPower: -1}, {Decay: 0.9, WarmupGamma: math.Inf(1)}} {
		_, err := NewEMA(w(), nil, cfg)
		assert.Error(t, err, "%+v", cfg)
	}
	_, err := NewEMA(append(w(), w()...), nil, EMAConfig{Decay: 0.9})
	assert.ErrorContains(t, err, "used twice")
	_, err = NewEMA(w(), []*layers.Buffer[float32]{buffer[float32](EMAUpdatesName, 0)}, EMAConfig{Decay: 0.9})
	assert.ErrorContains(t, err, "reserved")
	_, err = NewEMA(w(), []*layers.Buffer[float32]{nil}, EMAConfig{Decay: 0.9})
	assert.Error(t, err)

	ps := w()
	e, err := NewEMA(ps, nil, EMAConfig{Decay: 0.9})
	require.NoError(t, err)
	state := func(count ...float32) []*layers.Buffer[float32] {
		c, _ := tensor.FromData(count, len(count))
		return []*layers.Buffer[float32]{{Name: "w", Value: tensor.New[float32](2)}, {Name: EMAUpdatesName, Value: c}}
	}
	require.NoError(t, e.LoadState(state(3, 1)))
	assert.Equal(t, 1<<20+3, e.Updates())
	assert.ErrorContains(t, e.LoadState(state(1.5, 0)), "not an update count")
	assert.ErrorContains(t, e.LoadState(state(-1, 0)), "not an update count")
	assert.ErrorContains(t, e.LoadState(state(float32(math.NaN()), 0)), "not an update count")
	assert.ErrorContains(t, e.LoadState(state(1)), "has shape [1], want [2]")
	assert.ErrorContains(t, e.LoadState(state(1, 0)[:1]), "has 1 tensors, want 2")
	assert.Equal(t, 1<<20+3, e.Updates(), "failed loads change nothing")

	ps[0].Value = tensor.New[float32](3)
	assert.ErrorContains(t, e.Update(), `"w" has 3 values, the average has 2`)
}
