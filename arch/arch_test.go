package arch

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/scaling"
)

// tvTable is the part of testdata/torchvision_table.json (copied from
// ../shared/reference, made with torchvision 0.14) these tests read.
type tvTable struct {
	Models []struct {
		Model         string      `json:"model"`
		Res           int         `json:"res"`
		BNEpsMomentum [][]float64 `json:"bn_eps_momentum"`
		Dropout       float64     `json:"dropout"`
		NBlocks       int         `json:"n_mbconv_blocks"`
		MaxDropPath   float64     `json:"max_stochastic_depth_p"`
		Head          int         `json:"head_channels"`
		Stem          int         `json:"stem_channels"`
	} `json:"models"`
	B0Blocks []struct {
		Name      string  `json:"name"`
		Stage     int     `json:"stage"`
		HasExpand bool    `json:"has_expand_conv"`
		Expand    float64 `json:"expand_ratio"`
		Kernel    int     `json:"kernel"`
		Stride    int     `json:"stride"`
		Padding   int     `json:"padding"`
		In        int     `json:"in_ch"`
		Mid       int     `json:"expanded_ch"`
		SE        int     `json:"se_squeeze_ch"`
		Out       int     `json:"out_ch"`
		Skip      bool    `json:"use_res_connect"`
		DropPath  float64 `json:"stochastic_depth_p"`
		InShape   []int   `json:"in_shape"`
		OutShape  []int   `json:"out_shape"`
	} `json:"b0_blocks"`
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

func TestB0BlocksMatchTorchvision(t *testing.T) {
	var tv tvTable
	readJSON(t, "testdata/torchvision_table.json", &tv)
	n, err := Preset("b0")
	require.NoError(t, err)
	blocks := n.Blocks()
	require.Len(t, blocks, len(tv.B0Blocks))
	for i, want := range tv.B0Blocks {
		b := blocks[i]
		assert.Equal(t, i, b.Index, want.Name)
		assert.Equal(t, want.Stage-1, b.Stage, want.Name)
		assert.Equal(t, want.HasExpand, b.HasExpand(), want.Name)
		assert.Equal(t, int(want.Expand), b.Expand, want.Name)
		assert.Equal(t, want.Kernel, b.Kernel, want.Name)
		assert.Equal(t, want.Stride, b.Stride, want.Name)
		pb, pa := n.Padding.Pads(want.InShape[2], b.Kernel, b.Stride)
		assert.Equal(t, []int{want.Padding, want.Padding}, []int{pb, pa}, want.Name)
		assert.Equal(t, want.In, b.In, want.Name)
		assert.Equal(t, want.Mid, b.Mid, want.Name)
		assert.Equal(t, want.Out, b.Out, want.Name)
		assert.Equal(t, want.SE, b.SE, want.Name)
		assert.Equal(t, want.Skip, b.Skip, want.Name)
		// Exact: the rate is computed in the same order as torchvision.
		assert.Equal(t, want.DropPath, b.DropPath, want.Name)
		assert.Equal(t, want.OutShape[2], n.Padding.OutSize(want.InShape[2], b.Kernel, b.Stride), want.Name)
	}
	assert.Equal(t, DepthwiseSeparable, blocks[0].Kind)
	assert.Equal(t, MBConv, blocks[1].Kind)
}

func TestPresetsMatchTorchvision(t *testing.T) {
	var tv tvTable
	readJSON(t, "testdata/torchvision_table.json", &tv)
	require.Len(t, tv.Models, 8)
	for _, m := range tv.Models {
		n, err := Preset("torchvision_" + m.Model)
		require.NoError(t, err, m.Model)
		assert.Equal(t, "torchvision_"+m.Model, n.Name)
		assert.Equal(t, m.Res, n.Resolution, m.Model)
		assert.Equal(t, m.Stem, n.Stem, m.Model)
		assert.Equal(t, m.Head, n.Head, m.Model)
		assert.Equal(t, m.Dropout, n.Dropout, m.Model)
		assert.Equal(t, m.NBlocks, n.NumBlocks(), m.Model)
		blocks := n.Blocks()
		assert.Equal(t, m.MaxDropPath, blocks[len(blocks)-1].DropPath, m.Model)
		require.Len(t, m.BNEpsMomentum, 1)
		assert.Equal(t, m.BNEpsMomentum[0], []float64{n.BNEps, n.BNMomentum}, m.Model)
		assert.Equal(t, Symmetric, n.Padding)
		assert.Equal(t, 1000, n.Classes)

		// The plain and efficientnet_ names are timm's: same shapes, BN
		// eps 1e-5 and momentum 0.1 for every model.
		short := strings.TrimPrefix(m.Model, "efficientnet_")
		for _, name := range []string{short, m.Model} {
			p, err := Preset(name)
			require.NoError(t, err)
			assert.Equal(t, m.Model, p.Name)
			assert.Equal(t, n.Stages, p.Stages)
			assert.Equal(t, [2]float64{1e-5, 0.1}, [2]float64{p.BNEps, p.BNMomentum})
			assert.Equal(t, Symmetric, p.Padding)
		}
		tf, err := Preset("tf_" + m.Model)
		require.NoError(t, err)
		assert.Equal(t, n.Stages, tf.Stages)
		assert.Equal(t, Same, tf.Padding)
		assert.Equal(t, [2]float64{1e-3, 0.1}, [2]float64{tf.BNEps, tf.BNMomentum})
	}
}

// smallModels is testdata/small_models.json: parameter shapes of timm's
// efficientnet_b0 generator at width 0.25 and depth 0.5 (timm 1.0.29, from
// ../shared/reference/timm_small.safetensors) and the block list of
// torchvision's width 0.25, depth 0.34 model (effnet_tiny_train_f64).
type smallModels struct {
	TimmSmall struct {
		Shapes map[string][]int `json:"shapes"`
	} `json:"timm_small"`
	TorchvisionTiny struct {
		Blocks []struct {
			Name      string `json:"name"`
			HasExpand bool   `json:"has_expand_conv"`
			In        int    `json:"in"`
			Mid       int    `json:"expanded"`
			Out       int    `json:"out"`
			Kernel    int    `json:"kernel"`
			Stride    int    `json:"stride"`
			SE        int    `json:"se_squeeze"`
			Skip      bool   `json:"residual"`
		} `json:"blocks"`
		Head int `json:"last_conv_channels"`
	} `json:"torchvision_tiny"`
}

func TestSmallModelsMatchReferences(t *testing.T) {
	var ref smallModels
	readJSON(t, "testdata/small_models.json", &ref)

	// timm: channel 0.25, depth 0.5. Its block names are blocks.<stage>.<i>.
	n, err := Custom(0.25, 0.5, 64)
	require.NoError(t, err)
	shapes := ref.TimmSmall.Shapes
	assert.Equal(t, []int{n.Stem, 3, 3, 3}, shapes["conv_stem.weight"])
	assert.Equal(t, []int{n.Head, n.Stages[6].Out, 1, 1}, shapes["conv_head.weight"])
	seen := 0
	for _, b := range n.Blocks() {
		p := "blocks." + itoa(b.Stage) + "." + itoa(b.IndexInStage) + "."
		assert.Equal(t, []int{b.Mid, 1, b.Kernel, b.Kernel}, shapes[p+"conv_dw.weight"], p)
		assert.Equal(t, []int{b.SE, b.Mid, 1, 1}, shapes[p+"se.conv_reduce.weight"], p)
		if b.Kind == DepthwiseSeparable {
			assert.Equal(t, []int{b.Out, b.Mid, 1, 1}, shapes[p+"conv_pw.weight"], p)
		} else {
			assert.Equal(t, []int{b.Mid, b.In, 1, 1}, shapes[p+"conv_pw.weight"], p)
			assert.Equal(t, []int{b.Out, b.Mid, 1, 1}, shapes[p+"conv_pwl.weight"], p)
		}
		seen++
	}
	// Every timm block has a depthwise conv: no block of the reference is
	// missing from ours.
	dw := 0
	for k := range shapes {
		if strings.HasSuffix(k, ".conv_dw.weight") {
			dw++
		}
	}
	assert.Equal(t, dw, seen)

	// torchvision: width 0.25, depth 0.34.
	tvn, err := Custom(0.25, 0.34, 64)
	require.NoError(t, err)
	blocks := tvn.Blocks()
	require.Len(t, blocks, len(ref.TorchvisionTiny.Blocks))
	for i, want := range ref.TorchvisionTiny.Blocks {
		b := blocks[i]
		got := [...]any{b.HasExpand(), b.In, b.Mid, b.Out, b.Kernel, b.Stride, b.SE, b.Skip}
		assert.Equal(t, [...]any{want.HasExpand, want.In, want.Mid, want.Out, want.Kernel, want.Stride, want.SE, want.Skip}, got, want.Name)
	}
	assert.Equal(t, ref.TorchvisionTiny.Head, tvn.Head)
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestPadding(t *testing.T) {
	for _, tc := range []struct {
		p                  Padding
		in, k, s           int
		before, after, out int
	}{
		{Symmetric, 224, 3, 2, 1, 1, 112},
		{Symmetric, 7, 5, 1, 2, 2, 7},
		{Symmetric, 65, 3, 2, 1, 1, 33},
		{Same, 224, 3, 2, 0, 1, 112}, // total (112-1)·2+3-224 = 1, the extra pixel goes after
		{Same, 65, 3, 2, 1, 1, 33},   // total 32·2+3-65 = 2
		{Same, 56, 5, 2, 1, 2, 28},   // total 27·2+5-56 = 3
		{Same, 14, 5, 1, 2, 2, 14},
		{Same, 1, 5, 2, 2, 2, 1}, // total 0·2+5-1 = 4
		{Symmetric, 1, 5, 2, 2, 2, 1},
	} {
		b, a := tc.p.Pads(tc.in, tc.k, tc.s)
		assert.Equal(t, [3]int{tc.before, tc.after, tc.out}, [3]int{b, a, tc.p.OutSize(tc.in, tc.k, tc.s)}, "%v in %d k %d s %d", tc.p, tc.in, tc.k, tc.s)
	}
	assert.Panics(t, func() { Padding(0).Pads(1, 1, 1) })
	assert.Equal(t, "symmetric", Symmetric.String())
	assert.Equal(t, "same", Same.String())
	assert.Equal(t, "Padding(0)", Padding(0).String())
}

func TestValidate(t *testing.T) {
	require.NoError(t, Baseline().Validate())
	for _, tc := range []struct {
		name   string
		edit   func(*Network)
		substr string
	}{
		{"zero stem", func(n *Network) { n.Stem = 0 }, "stem channels = 0"},
		{"zero head", func(n *Network) { n.Head = 0 }, "head channels = 0"},
		{"zero out", func(n *Network) { n.Stages[2].Out = 0 }, "stage 2: output channels = 0"},
		{"zero input", func(n *Network) { n.InChannels = 0 }, "input channels = 0"},
		{"no classes", func(n *Network) { n.Classes = 0 }, "classes = 0"},
		{"negative resolution", func(n *Network) { n.Resolution = -1 }, "resolution = -1"},
		{"no stages", func(n *Network) { n.Stages = nil }, "no stages"},
		{"even kernel same", func(n *Network) { n.Padding = Same; n.Stages[1].Kernel = 4 }, "even kernel 4 with SAME"},
		{"even kernel symmetric", func(n *Network) { n.Stages[1].Kernel = 2 }, "even kernel 2"},
		{"stride 3", func(n *Network) { n.Stages[3].Stride = 3 }, "stride = 3"},
		{"zero repeats", func(n *Network) { n.Stages[0].Repeats = 0 }, "repeats = 0"},
		{"zero expand", func(n *Network) { n.Stages[4].Expand = 0 }, "expand ratio = 0"},
		{"ds with expand", func(n *Network) { n.Stages[0].Expand = 6 }, "depthwise-separable block with expand ratio 6"},
		{"unset kind", func(n *Network) { n.Stages[5].Kind = 0 }, "block kind BlockKind(0) unset"},
		{"SE ratio", func(n *Network) { n.Stages[5].SERatio = 1.5 }, "SE ratio = 1.5"},
		{"unset padding", func(n *Network) { n.Padding = 0 }, "padding Padding(0) unset"},
		{"unset activation", func(n *Network) { n.Activation = 0 }, "activation Activation(0) unset"},
		{"dropout 1", func(n *Network) { n.Dropout = 1 }, "dropout = 1"},
		{"drop path", func(n *Network) { n.DropPathRate = -0.1 }, "drop-path rate = -0.1"},
		{"eps", func(n *Network) { n.BNEps = 0 }, "BN eps = 0"},
		{"tf momentum", func(n *Network) { n.BNMomentum = 0.99 + 1 }, "BN momentum = 1.99"},
		{"zero momentum", func(n *Network) { n.BNMomentum = 0 }, "BN momentum = 0"},
		{"huge", func(n *Network) { n.Stages[6].Out = 1 << 21 }, "output channels = 2097152"},
	} {
		n := Baseline()
		tc.edit(&n)
		err := n.Validate()
		require.Error(t, err, tc.name)
		assert.Contains(t, err.Error(), tc.substr, tc.name)
		assert.Contains(t, err.Error(), `"efficientnet_b0"`, tc.name)
	}
	// Several problems are all reported.
	n := Baseline()
	n.Stem, n.Classes = 0, 0
	err := n.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stem")
	assert.Contains(t, err.Error(), "classes")

	// The zero Network is invalid, not a silent default.
	assert.Error(t, Network{}.Validate())
}

func TestPresetErrors(t *testing.T) {
	for _, name := range []string{"b8", "", "efficientnet_", "tf_b0", "B0", "efficientnet_b0x", "torchvision_b3"} {
		_, err := Preset(name)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "unknown network")
		assert.Contains(t, err.Error(), "tf_efficientnet_b0..b7")
	}
	names := PresetNames()
	assert.Len(t, names, 32)
	for _, name := range names {
		_, err := Preset(name)
		assert.NoError(t, err, name)
	}
}

func TestScale(t *testing.T) {
	// B7 by hand: stem 32·2 = 64; stage outs 16·2=32, 24·2=48, 80, 160,
	// 224, 384, 640; repeats ceil(3.1·r).
	n, err := Preset("b7")
	require.NoError(t, err)
	assert.Equal(t, 64, n.Stem)
	assert.Equal(t, 2560, n.Head)
	var outs, reps []int
	for _, s := range n.Stages {
		outs = append(outs, s.Out)
		reps = append(reps, s.Repeats)
	}
	assert.Equal(t, []int{32, 48, 80, 160, 224, 384, 640}, outs)
	assert.Equal(t, []int{4, 7, 7, 10, 10, 13, 4}, reps)
	assert.Equal(t, 0.5, n.Dropout)

	// Scaling leaves the base untouched.
	base := Baseline()
	_, err = Scale(base, 2, 2)
	require.NoError(t, err)
	assert.Equal(t, Baseline(), base)

	for _, bad := range [][2]float64{{0, 1}, {1, -1}, {1e30, 1}, {1, 1e9}} {
		_, err := Scale(base, bad[0], bad[1])
		assert.Error(t, err, "%v", bad)
	}
	invalid := Baseline()
	invalid.Classes = 0
	_, err = Scale(invalid, 1, 1)
	assert.Error(t, err)
}

func TestCompound(t *testing.T) {
	n, err := Compound(scaling.Paper(), 1)
	require.NoError(t, err)
	assert.Equal(t, "custom", n.Name)
	assert.Equal(t, 258, n.Resolution)
	// Width 1.1 and depth 1.2: the B2 multipliers at a different resolution.
	b2, err := Custom(1.1, 1.2, 258)
	require.NoError(t, err)
	assert.Equal(t, b2.Stages, n.Stages)

	n0, err := Compound(scaling.Paper(), 0)
	require.NoError(t, err)
	assert.Equal(t, Baseline().Stages, n0.Stages)

	_, err = Compound(scaling.Coefficients{Alpha: 0, Beta: 1, Gamma: 1}, 1)
	assert.Error(t, err)
	_, err = Compound(scaling.Paper(), 100)
	assert.Error(t, err)
	_, err = Custom(1, 1, 0)
	assert.Error(t, err)
}

func TestClone(t *testing.T) {
	a := Baseline()
	b := a.Clone()
	b.Stages[0].Out = 99
	assert.Equal(t, 16, a.Stages[0].Out)
}

func TestString(t *testing.T) {
	n, err := Preset("b0")
	require.NoError(t, err)
	s := n.String()
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	require.Len(t, lines, 2+1+16)
	assert.Contains(t, lines[0], "efficientnet_b0: 224x224 input")
	assert.Contains(t, lines[1], "padding symmetric, activation silu")
	assert.Regexp(t, `^\s*0\s+1\.0\s+ds\s+32\s+32\s+16\s+3\s+1\s+8\s+-\s+0\.0000$`, lines[3])
	assert.Regexp(t, `^\s*15\s+7\.0\s+mbconv\s+192\s+1152\s+320\s+3\s+1\s+48\s+-\s+0\.1875$`, lines[18])
}
