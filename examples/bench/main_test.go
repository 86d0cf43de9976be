package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/arch"
	"github.com/effnet-go/effnet/flops"
)

// TestMain lets the test binary stand in for the command when run re-runs
// itself for one configuration (see runChild).
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func call(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// A tiny B0 (10 classes at 32 px) keeps each step in milliseconds.
var tiny = []string{"-model", "b0", "-classes", "10", "-resolution", "32", "-batch", "2", "-iters", "2", "-warmup", "1"}

func checkResult(t *testing.T, r map[string]any, mode string) {
	t.Helper()
	assert.Equal(t, "b0", r["model"])
	assert.Equal(t, mode, r["mode"])
	assert.EqualValues(t, 32, r["resolution"])
	assert.EqualValues(t, 2, r["batch"])
	assert.EqualValues(t, 2, r["iters"])
	assert.Greater(t, r["img_s"], 0.0)
	assert.GreaterOrEqual(t, r["img_s_best"], r["img_s"])
	assert.LessOrEqual(t, r["img_s_worst"], r["img_s"])
	// B0's weights alone are 16 MB in float32; a process holding them
	// cannot have a smaller high-water mark.
	assert.Greater(t, r["peak_rss_mb"], 16.0)
	assert.GreaterOrEqual(t, r["allocs_per_step"], 0.0)
	assert.EqualValues(t, 4_020_358, r["params"], "B0 with 10 classes")
}

func TestSingleConfigInProcess(t *testing.T) {
	code, out, errs := call(append([]string{"-mode", "train"}, tiny...)...)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "effnet b0 train 32px b2")
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(lastLine(out)), &r), out)
	checkResult(t, r, "train")
}

func TestAllModesInChildProcesses(t *testing.T) {
	code, out, errs := call(append([]string{"-mode", "all"}, tiny...)...)
	require.Equal(t, 0, code, errs)
	var doc struct {
		Configs []map[string]any `json:"configs"`
	}
	require.NoError(t, json.Unmarshal([]byte(lastLine(out)), &doc), out)
	require.Len(t, doc.Configs, 2)
	checkResult(t, doc.Configs[0], "eval")
	checkResult(t, doc.Configs[1], "train")
	assert.Contains(t, out, "load average before")
}

// TestTorchSummaryShape checks the -torch JSON line against the keys the
// speed issue fixes, with a stand-in for the torch script so that the test
// needs no PyTorch and takes seconds.
func TestTorchSummaryShape(t *testing.T) {
	dir := t.TempDir()
	fake := dir + "/fake_torch.sh"
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\necho 'progress line'\n"+
		`echo '{"img_s": 50.5, "peak_rss_mb": 321.0, "channels_last": true, "torch": "fake"}'`+"\n"), 0o755))
	saved := issueConfigs
	t.Cleanup(func() { issueConfigs = saved })
	issueConfigs = []config{
		{Model: "b0", Mode: "eval", Resolution: 32, Batch: 2, Iters: 1, Warmup: 0},
		{Model: "b0", Mode: "train", Resolution: 32, Batch: 2, Iters: 1, Warmup: 0},
	}
	code, out, errs := call("-torch", "-classes", "10", "-python", "/bin/sh", "-torch-script", fake)
	require.Equal(t, 0, code, errs)
	var doc map[string][]map[string]any
	require.NoError(t, json.Unmarshal([]byte(lastLine(out)), &doc), out)
	require.Len(t, doc, 1, "only the configs key")
	rows := doc["configs"]
	require.Len(t, rows, 2)
	for i, name := range []string{"b0 eval 32px b2", "b0 train 32px b2"} {
		r := rows[i]
		assert.Len(t, r, 6, "keys %v", r)
		assert.Equal(t, name, r["name"])
		assert.Greater(t, r["effnet_img_s"], 0.0)
		assert.Equal(t, 50.5, r["torch_img_s"])
		assert.Equal(t, 321.0, r["torch_rss_mb"])
		assert.Greater(t, r["effnet_rss_mb"], 16.0)
		// ratio is rounded to three decimals.
		assert.InDelta(t, r["effnet_img_s"].(float64)/50.5, r["ratio"], 5e-4)
	}
	assert.Regexp(t, `config\s+effnet img/s\s+torch img/s\s+ratio\s+effnet RSS MB\s+torch RSS MB`, out)
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-mode", "fast"},
		{"-batch", "0"},
		{"-mode", "train", "-batch", "1"},
		{"stray"},
		{"-mode", "all", "-cpuprofile", "x.prof"},
		{"-model", "b0,b1", "-allocsites"},
	} {
		code, _, errs := call(args...)
		assert.Equal(t, 2, code, "%v", args)
		assert.NotEmpty(t, errs, "%v", args)
	}
	code, _, errs := call("-model", "b9", "-iters", "1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "b9")
}

func TestParseVmHWM(t *testing.T) {
	mb, err := parseVmHWM([]byte("Name:\tbench\nVmPeak:\t  999 kB\nVmHWM:\t  204800 kB\nVmRSS:\t 1 kB\n"))
	require.NoError(t, err)
	assert.Equal(t, 200.0, mb)
	_, err = parseVmHWM([]byte("Name:\tbench\n"))
	assert.Error(t, err)
}

// TestModelSweep: several models in one run print the MACs-against-time
// table, with MACs from package flops (B0 and B1 at 32 px, 10 classes:
// exact counts that flops' own tests pin at other sizes).
func TestModelSweep(t *testing.T) {
	code, out, errs := call("-model", "b0,b1", "-classes", "10", "-resolution", "32", "-batch", "1", "-iters", "1", "-warmup", "0")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "eval: forward MACs against time per image, relative to b0")
	var doc struct {
		Configs []struct {
			Model string  `json:"model"`
			MACs  int64   `json:"macs"`
			GMACS float64 `json:"gmac_s"`
		} `json:"configs"`
	}
	require.NoError(t, json.Unmarshal([]byte(lastLine(out)), &doc), out)
	require.Len(t, doc.Configs, 2)
	assert.Equal(t, "b0", doc.Configs[0].Model)
	assert.Equal(t, "b1", doc.Configs[1].Model)
	for i, name := range []string{"b0", "b1"} {
		spec, err := arch.Preset(name)
		require.NoError(t, err)
		spec.Classes, spec.Resolution = 10, 32
		want, err := flops.Count(spec)
		require.NoError(t, err)
		assert.Equal(t, want.MACs, doc.Configs[i].MACs, name)
	}
	assert.Greater(t, doc.Configs[0].GMACS, 0.0)

	code, _, errs = call("-model", "b0,,b1")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "empty model name")
}
