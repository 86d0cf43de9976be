// Package gradcheck compares analytic gradients with central finite
// differences in float64. It serves the tests of every differentiable piece
// of effnet.
package gradcheck
