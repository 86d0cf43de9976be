package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/data"
)

var long = flag.Bool("long", false, "run the full Fashion-MNIST training (about 15-25 minutes on two cores) and require ≥ 90 % test accuracy")

func needData(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(data.FashionMNISTDir, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("Fashion-MNIST is not installed in %s (apt-get install dataset-fashion-mnist): %v", data.FashionMNISTDir, err)
	}
}

func fitArgs(t *testing.T, args ...string) Result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append(args, "-progress=false"), &out, &errb)
	require.Equal(t, 0, code, errb.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var r Result
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &r))
	t.Log(out.String())
	return r
}

// The short proof, part of every go test run: one epoch on the first 6,000
// training images, tested on the first 1,000 test images. Chance is 10 %;
// this run measured 64 % (seed 1; the data order and augmentation are fixed
// by the seed, so only a change of arithmetic, such as the pure-Go kernels
// of -tags noasm, moves it). 50 % fails a network that does not learn, or
// learns far slower than it did, while leaving room for that arithmetic.
func TestShortTrainingLearns(t *testing.T) {
	needData(t)
	r := fitArgs(t, "-train", "6000", "-test", "1000", "-epochs", "1")
	assert.Equal(t, 6000, r.TrainImages)
	assert.Equal(t, 1000, r.TestImages)
	assert.GreaterOrEqual(t, r.TestTop1, 0.50)
}

// The full proof: go test ./examples/fashionmnist -run Long -long -timeout 60m -v
func TestLongTrainingReaches90Percent(t *testing.T) {
	if !*long {
		t.Skip("the full Fashion-MNIST run takes many minutes; enable it with -long")
	}
	needData(t)
	r := fitArgs(t)
	assert.Equal(t, 60000, r.TrainImages)
	assert.Equal(t, 10000, r.TestImages)
	assert.GreaterOrEqual(t, r.TestTop1, 0.90)
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-epochs", "0"}, {"-lr", "0"}, {"-train", "-1"}, {"stray"}} {
		var out, errb bytes.Buffer
		assert.Equal(t, 2, run(args, &out, &errb), "%v", args)
		assert.NotEmpty(t, errb.String())
	}
	var out, errb bytes.Buffer
	assert.Equal(t, 1, run([]string{"-data", t.TempDir(), "-progress=false"}, &out, &errb))
	assert.Contains(t, errb.String(), "train-images-idx3-ubyte")
}
