package layers

import "fmt"

// Padding selects how a convolution pads its input. The two EfficientNet
// lineages disagree here: PyTorch ports (torchvision, timm) pad every side
// by the same fixed amount, while the original TensorFlow models use "SAME"
// padding, which depends on the input size and is asymmetric for stride 2.
// Weights trained with one convention give shifted features under the other,
// so the choice has to follow the weights.
type Padding int

const (
	// PadSymmetric pads (k-1)/2 on every side (odd kernels only), as
	// PyTorch's nn.Conv2d(padding=k//2) and timm's default do. The output
	// size is floor((in-1)/stride)+1.
	PadSymmetric Padding = iota
	// PadSame is TensorFlow's SAME: the output size is ceil(in/stride) and
	// the total padding max((out-1)·stride+k-in, 0) is split with the
	// smaller half before (top/left) and the rest after (bottom/right).
	PadSame
)

func (p Padding) String() string {
	switch p {
	case PadSymmetric:
		return "symmetric"
	case PadSame:
		return "same"
	}
	return fmt.Sprintf("Padding(%d)", int(p))
}

func (p Padding) valid() bool { return p == PadSymmetric || p == PadSame }

// convPad returns the output size and the padding before the first element
// along one spatial dimension of size in, for a kernel of size k. It is
// computed per call because SAME padding depends on the input size.
func convPad(p Padding, in, k, stride int) (out, before int) {
	if p == PadSame {
		out = (in + stride - 1) / stride
		total := max((out-1)*stride+k-in, 0)
		return out, total / 2
	}
	pad := (k - 1) / 2
	return (in+2*pad-k)/stride + 1, pad
}
