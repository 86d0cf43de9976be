package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet"
)

func call(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// tinyModel makes a run on the mini set take a few seconds: a narrow,
// shallow B0 at 32 px for one epoch.
var tinyModel = []string{"-width", "0.25", "-depth", "0.1", "-resolution", "32", "-epochs", "1", "-progress=false"}

func TestTinyRunWritesMetricsCheckpointAndPlot(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := call(append(tinyModel, "-out", out)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "embedded mini-Imagenette: 1000 train, 200 val images, 10 classes")
	assert.Regexp(t, `epoch  1/1  train loss \d+\.\d+ acc +\d+\.\d%  val loss \d+\.\d+ top-1 +\d+\.\d%`, stdout)
	for _, want := range []string{"model            custom width 0.25 depth 0.1", "params ", "MACs ", "resolution       32 px",
		"epochs           1", "best top-1", "final top-1", "train images/s", "seconds/epoch"} {
		assert.Contains(t, stdout, want)
	}

	raw, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	require.Len(t, lines, 1000/16+1, "62 full batches of the default 16, then the epoch line")
	var epoch map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &epoch))
	for _, k := range []string{"epoch", "train_loss", "val_loss", "val_top1", "val_top5", "images_per_s", "seconds", "lr"} {
		assert.Contains(t, epoch, k)
	}
	assert.Equal(t, "epoch", epoch["kind"])

	f, err := os.Open(filepath.Join(out, "curves.png"))
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 500)

	// Weights load as a model on their own.
	m, err := effnet.Load[float32](filepath.Join(out, "final.safetensors"), "")
	require.NoError(t, err)
	assert.Equal(t, 10, m.Spec.Classes)
	assert.FileExists(t, filepath.Join(out, "best.safetensors"))
	assert.FileExists(t, filepath.Join(out, "checkpoint.safetensors"))

	// Resuming with more epochs continues from the checkpoint, appends to
	// the log and reports both epochs.
	code, stdout, stderr = call("-out", out, "-resume", "-epochs", "2", "-progress=false")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "resumed from")
	assert.Contains(t, stdout, "epoch  2/2")
	assert.NotContains(t, stdout, "epoch  1/2", "epoch 1 is not trained again")
	assert.Contains(t, stdout, "epochs           2")
	raw, err = os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(raw), `"kind":"epoch"`))
}

func TestBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-epochs", "0"}, "-epochs 0: want at least 1"},
		{[]string{"-optimizer", "adam"}, `-optimizer "adam": want sgd or rmsprop`},
		{[]string{"-lr", "-1"}, "-lr -1: want a positive number"},
		{[]string{"-model", "b0", "-width", "0.5"}, "give either -model, or -phi"},
		{[]string{"-phi", "1", "-depth", "2"}, "-phi sets width and depth itself"},
		{[]string{"-alpha", "1.3"}, "-alpha, -beta and -gamma need -phi"},
		{[]string{"-download", "cifar10"}, `-download "cifar10": want one of imagenette2`},
		{[]string{"-data", "x", "-download", "imagenette2-160"}, "give -data or -download, not both"},
		{[]string{"-resume"}, "-resume needs -out"},
		{[]string{"-resume", "-out", "/nonexistent", "-lr", "0.1"}, "-lr cannot be given with -resume"},
		{[]string{"-epochs", "three"}, `invalid value "three" for flag -epochs`},
		{[]string{"-nonsense"}, "flag provided but not defined: -nonsense"},
		{[]string{"extra"}, `unexpected arguments ["extra"]`},
		{[]string{"-smoothing", "1"}, "-smoothing 1: want a value in [0, 1)"},
	}
	for _, c := range cases {
		code, stdout, stderr := call(c.args...)
		assert.Equal(t, 2, code, "%v", c.args)
		assert.Contains(t, stderr, c.want, "%v", c.args)
		assert.Empty(t, stdout, "%v", c.args)
	}
}

func TestRunErrorsExitOne(t *testing.T) {
	code, _, stderr := call("-data", filepath.Join(t.TempDir(), "missing"), "-progress=false")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "missing")

	code, _, stderr = call("-model", "b9", "-progress=false")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "b9")
}

// An image folder without train/ and val/ is split by holding out every
// tenth image.
func TestImageFolderHoldOut(t *testing.T) {
	dir := t.TempDir()
	for c, name := range []string{"dark", "light"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, name), 0o755))
		for i := range 20 {
			img := image.NewGray(image.Rect(0, 0, 12, 12))
			for p := range img.Pix {
				img.Pix[p] = uint8(40 + 150*c + i)
			}
			var buf bytes.Buffer
			require.NoError(t, png.Encode(&buf, img))
			require.NoError(t, os.WriteFile(filepath.Join(dir, name, string(rune('a'+i))+".png"), buf.Bytes(), 0o644))
		}
	}
	code, stdout, stderr := call(append(tinyModel, "-data", dir, "-batch", "6")...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "every 10th image held out): 36 train, 4 val images, 2 classes")
}
