package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func call(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestTable(t *testing.T) {
	code, out, errs := call()
	require.Equal(t, 0, code, errs)
	assert.Empty(t, errs)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, lines, 1+8+1)
	assert.Regexp(t, `model\s+width\s+depth\s+resolution\s+params\s+MACs\s+blocks\s+×B0`, lines[0])
	assert.Regexp(t, `^\s*b0\s+1\s+1\s+224\s+5,288,548\s+385,814,752\s+16\s+1\.00$`, lines[1])
	assert.Regexp(t, `^\s*b7\s+2\s+3\.1\s+600\s+66,347,960\s+37,745,884,192\s+55\s+97\.83$`, lines[8])
}

func decode(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	return rows
}

func TestJSON(t *testing.T) {
	code, out, errs := call("-models", "b0,b3", "-json")
	require.Equal(t, 0, code, errs)
	rows := decode(t, out)
	require.Len(t, rows, 2)
	// JSON numbers decode as float64; these integers are exact in float64.
	assert.Equal(t, "b0", rows[0]["name"])
	assert.Equal(t, 1.0, rows[0]["width"])
	assert.Equal(t, 1.0, rows[0]["depth"])
	assert.Equal(t, 224.0, rows[0]["resolution"])
	assert.Equal(t, 1000.0, rows[0]["classes"])
	assert.Equal(t, 5288548.0, rows[0]["params"])
	assert.Equal(t, 385814752.0, rows[0]["macs"])
	assert.Equal(t, "b3", rows[1]["name"])
	assert.Equal(t, 1.2, rows[1]["width"])
	assert.Equal(t, 1.4, rows[1]["depth"])
	assert.Equal(t, 300.0, rows[1]["resolution"])
	assert.Equal(t, 12233232.0, rows[1]["params"])
	assert.Equal(t, 1827141392.0, rows[1]["macs"])
	assert.NotContains(t, rows[0], "phi", "compound fields only for -phi")
}

func TestClassesAndResolution(t *testing.T) {
	code, out, errs := call("-models", "tf_efficientnet_b2", "-classes", "10", "-resolution", "288", "-json")
	require.Equal(t, 0, code, errs)
	rows := decode(t, out)
	require.Len(t, rows, 1)
	assert.Equal(t, "tf_efficientnet_b2", rows[0]["name"])
	assert.Equal(t, 1.1, rows[0]["width"])
	assert.Equal(t, 10.0, rows[0]["classes"])
	assert.Equal(t, 288.0, rows[0]["resolution"])
	// torchvision's b2 at 288 is 1,087,529,456 MACs with 1000 classes; 990
	// fewer outputs of a 1408-wide classifier remove 990·1408 MACs.
	assert.Equal(t, float64(1087529456-990*1408), rows[0]["macs"])
}

func TestCustom(t *testing.T) {
	code, out, errs := call("-phi", "1", "-json")
	require.Equal(t, 0, code, errs)
	rows := decode(t, out)
	require.Len(t, rows, 1)
	r := rows[0]
	assert.Equal(t, "custom", r["name"])
	assert.Equal(t, 258.0, r["resolution"]) // 224·1.15 = 257.6
	// Multipliers are α^1 and β^1 to within float64 rounding of math.Pow.
	assert.InDelta(t, 1.1, r["width"], 1e-12)
	assert.InDelta(t, 1.2, r["depth"], 1e-12)
	assert.Equal(t, 1.0, r["phi"])
	assert.InDelta(t, 1.92027, r["flops_factor"], 1e-5) // 1.2·1.21·1.3225 to 5 decimals

	code, out, errs = call("-width", "0.5", "-depth", "0.5", "-resolution", "128", "-classes", "10", "-json")
	require.Equal(t, 0, code, errs)
	rows = decode(t, out)
	require.Len(t, rows, 1)
	assert.Equal(t, "custom", rows[0]["name"])
	assert.Equal(t, 0.5, rows[0]["width"])
	assert.Equal(t, 128.0, rows[0]["resolution"])
	assert.Equal(t, 10.0, rows[0]["blocks"]) // ceil(0.5·r): 1+1+1+2+2+2+1

	code, out, errs = call("-alpha", "1.3", "-beta", "1.1", "-gamma", "1.1", "-phi", "1")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "custom")
	assert.Contains(t, out, "α=1.3 β=1.1 γ=1.1 φ=1")
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-models", "b9"}, `unknown network "b9"`},
		{[]string{"-models", "b0,,b1"}, `unknown network ""`},
		{[]string{"-classes", "0"}, "-classes 0"},
		{[]string{"-resolution", "-5"}, "-resolution -5"},
		{[]string{"-width", "0"}, "width multiplier = 0"},
		{[]string{"-depth", "-1"}, "depth multiplier = -1"},
		{[]string{"-phi", "1", "-width", "2"}, "not both"},
		{[]string{"-alpha", "1.3"}, "need -phi"},
		{[]string{"-phi", "1", "-models", "b0"}, "cannot be combined"},
		{[]string{"-phi", "1", "-gamma", "0"}, "gamma = 0"},
		{[]string{"-phi", "200"}, "more than"},
		{[]string{"-width", "1e9"}, "width multiplier 1e+09"},
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		code, out, errs := call(tc.args...)
		assert.Equal(t, 2, code, "%v", tc.args)
		assert.Empty(t, out, "%v", tc.args)
		assert.Contains(t, errs, tc.msg, "%v", tc.args)
	}
}
