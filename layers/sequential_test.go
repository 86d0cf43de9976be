package layers

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/tensor"
)

func TestSequentialGradients(t *testing.T) {
	s := NewSequential[float64](
		NewSqueezeExcite[float64](6, 2, SiLU),
		NewActivation[float64](SiLU),
		NewGlobalAvgPool[float64](),
		NewLinear[float64](6, 3, true),
	)
	ncFillParams(s, 61)
	assert.Len(t, s.Params(), 6)
	checkLayerGrads(t, s, ncRandn(62, 1, 2, 3, 3, 6), Train)
}

func TestSequentialErrors(t *testing.T) {
	s := NewSequential[float64](NewActivation[float64](ReLU), NewLinear[float64](4, 2, true))
	_, err := s.Forward(tensor.New[float64](3, 5), Train)
	var se *ShapeError
	require.ErrorAs(t, err, &se, "the layer's *ShapeError stays reachable")
	assert.Equal(t, "Sequential layer 1: Linear(4→2): input has shape [3 5], want [N 4] or [N 1 1 4]", err.Error())

	_, err = s.Forward(tensor.New[float64](3, 4), Eval)
	require.NoError(t, err)
	_, err = s.Backward(tensor.New[float64](3, 2))
	require.ErrorContains(t, err, "Sequential layer 1: Linear(4→2): Backward called without")

	// The parameters are the layers' own, so optimiser state stays valid.
	assert.Same(t, s.Layers[1].Params()[0], s.Params()[0])
}
