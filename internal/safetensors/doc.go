// Package safetensors reads and writes the safetensors format: an 8-byte
// little-endian header length, a JSON header mapping each tensor name to its
// dtype, shape and byte range, and the raw little-endian data.
//
// Reading is defensive because weights files come from strangers: the header
// size is bounded, names are unique, the dtype must be known, the byte count
// must match the shape, and the byte ranges must tile the data section with
// no overlap, gap or trailing bytes, as the reference implementation
// (huggingface/safetensors) requires. A file that breaks any rule is rejected
// with an error naming the tensor and the rule. Writing refuses anything
// reading would refuse.
package safetensors
