package tensor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLayoutRoundTrip(t *testing.T) {
	x := New[float32](2, 3, 4, 5) // NCHW
	for i := range x.Data {
		x.Data[i] = float32(i)
	}
	y := NCHWToNHWC(x)
	require.Equal(t, []int{2, 4, 5, 3}, y.Shape)
	// Element (n=1, c=2, h=3, w=4) sits at ((1·3+2)·4+3)·5+4 in NCHW and at
	// ((1·4+3)·5+4)·3+2 in NHWC.
	require.Equal(t, x.Data[((1*3+2)*4+3)*5+4], y.Data[((1*4+3)*5+4)*3+2])
	require.Equal(t, x, NHWCToNCHW(y))
}

func TestResizeReusesStorage(t *testing.T) {
	x := New[float64](4, 4)
	p := &x.Data[0]
	x.Resize(2, 3)
	require.Equal(t, []int{2, 3}, x.Shape)
	require.Len(t, x.Data, 6)
	require.Same(t, p, &x.Data[0], "shrinking must keep the buffer")
	x.Resize(5, 5)
	require.Len(t, x.Data, 25)
	require.Zero(t, testing.AllocsPerRun(10, func() { x.Resize(5, 5) }))
}

func TestFromDataChecksLength(t *testing.T) {
	_, err := FromData([]float32{1, 2, 3}, 2, 2)
	require.ErrorContains(t, err, "needs 4 elements, got 3")
	x, err := FromData([]float32{1, 2, 3, 4}, 2, 2)
	require.NoError(t, err)
	require.True(t, x.HasShape(2, 2))
	require.Equal(t, []float64{1, 2, 3, 4}, Convert[float64](x).Data)
}
