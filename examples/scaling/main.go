// Command scaling prints the EfficientNet family as compound scaling makes
// it: for each model its width and depth multipliers, input resolution,
// parameters, multiply-accumulates and number of blocks, counted exactly by
// package flops from the specs of package arch.
//
//	go run ./examples/scaling                       # B0..B7 as a table
//	go run ./examples/scaling -models b0,b3 -json   # JSON array of objects
//	go run ./examples/scaling -classes 10 -resolution 128
//	go run ./examples/scaling -phi 2                # paper α, β, γ, φ = 2
//	go run ./examples/scaling -alpha 1.3 -beta 1.1 -gamma 1.1 -phi 1
//	go run ./examples/scaling -width 0.5 -depth 0.5 -resolution 128
//
// The MACs column counts convolutions and linear layers (timm and
// torchvision publish the same numbers); "×B0" is the ratio to B0 at 224 px
// with the same number of classes.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/effnet-go/effnet/arch"
	"github.com/effnet-go/effnet/flops"
	"github.com/effnet-go/effnet/scaling"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// row is one model of the output; the JSON keys are part of the command's
// interface.
type row struct {
	Name        string   `json:"name"`
	Width       float64  `json:"width"`
	Depth       float64  `json:"depth"`
	Resolution  int      `json:"resolution"`
	Classes     int      `json:"classes"`
	Params      int64    `json:"params"`
	MACs        int64    `json:"macs"`
	Blocks      int      `json:"blocks"`
	Dropout     float64  `json:"dropout"`
	MACsVsB0    float64  `json:"macs_vs_b0"`
	Alpha       *float64 `json:"alpha,omitempty"`
	Beta        *float64 `json:"beta,omitempty"`
	Gamma       *float64 `json:"gamma,omitempty"`
	Phi         *float64 `json:"phi,omitempty"`
	FLOPsFactor *float64 `json:"flops_factor,omitempty"`
}

// run is the whole command, separated from main so tests can call it. It
// returns the exit status: 0, 1 for a model that cannot be built, 2 for bad
// usage.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scaling", flag.ContinueOnError)
	fs.SetOutput(stderr)
	models := fs.String("models", "", "comma-separated models, e.g. b0,b3 or tf_efficientnet_b2 (default b0..b7)")
	classes := fs.Int("classes", 1000, "number of classes")
	resolution := fs.Int("resolution", 0, "input resolution for every model (default: each model's own)")
	paper := scaling.Paper()
	alpha := fs.Float64("alpha", paper.Alpha, "depth base α of compound scaling (needs -phi)")
	beta := fs.Float64("beta", paper.Beta, "width base β of compound scaling (needs -phi)")
	gamma := fs.Float64("gamma", paper.Gamma, "resolution base γ of compound scaling (needs -phi)")
	phi := fs.Float64("phi", 0, "compound coefficient φ: a custom model with depth α^φ, width β^φ, resolution 224·γ^φ")
	width := fs.Float64("width", 1, "width multiplier of a custom model")
	depth := fs.Float64("depth", 1, "depth multiplier of a custom model")
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "scaling: "+format+"\n", a...)
		return 2
	}
	// Library errors already name their package.
	fail := func(err error) int {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if fs.NArg() > 0 {
		return usage("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	compound := set["alpha"] || set["beta"] || set["gamma"] || set["phi"]
	custom := set["width"] || set["depth"]
	switch {
	case compound && custom:
		return usage("use either -alpha/-beta/-gamma/-phi or -width/-depth, not both")
	case compound && !set["phi"]:
		return usage("-alpha, -beta and -gamma need -phi")
	case (compound || custom) && set["models"]:
		return usage("-models names released models; it cannot be combined with custom scaling")
	}
	if *classes < 1 {
		return usage("-classes %d: want at least 1", *classes)
	}
	if set["resolution"] && *resolution < 1 {
		return usage("-resolution %d: want at least 1", *resolution)
	}

	b0 := arch.Baseline()
	b0.Classes = *classes
	ref, err := flops.Count(b0)
	if err != nil {
		fmt.Fprintln(stderr, "scaling:", err)
		return 1
	}

	var rows []row
	add := func(n arch.Network, r row) error {
		n.Classes = *classes
		if *resolution > 0 {
			n.Resolution = *resolution
		}
		c, err := flops.Count(n)
		if err != nil {
			return err
		}
		r.Resolution, r.Classes, r.Params, r.MACs = n.Resolution, n.Classes, c.Params, c.MACs
		r.Blocks, r.Dropout = n.NumBlocks(), n.Dropout
		r.MACsVsB0 = float64(c.MACs) / float64(ref.MACs)
		rows = append(rows, r)
		return nil
	}

	switch {
	case compound:
		co := scaling.Coefficients{Alpha: *alpha, Beta: *beta, Gamma: *gamma}
		n, err := arch.Compound(co, *phi)
		if err != nil {
			return fail(err)
		}
		m := co.Multipliers(*phi)
		f := co.FLOPsFactor(*phi)
		err = add(n, row{Name: "custom", Width: m.Width, Depth: m.Depth,
			Alpha: alpha, Beta: beta, Gamma: gamma, Phi: phi, FLOPsFactor: &f})
		if err != nil {
			fmt.Fprintln(stderr, "scaling:", err)
			return 1
		}
	case custom:
		res := scaling.BaseResolution
		if *resolution > 0 {
			res = *resolution
		}
		n, err := arch.Custom(*width, *depth, res)
		if err != nil {
			return fail(err)
		}
		if err := add(n, row{Name: "custom", Width: *width, Depth: *depth}); err != nil {
			fmt.Fprintln(stderr, "scaling:", err)
			return 1
		}
	default:
		names := make([]string, 0, 8)
		if *models == "" {
			for _, p := range scaling.Presets() {
				names = append(names, p.Name)
			}
		} else {
			for name := range strings.SplitSeq(*models, ",") {
				names = append(names, strings.TrimSpace(name))
			}
		}
		for _, name := range names {
			n, err := arch.Preset(name)
			if err != nil {
				return fail(err)
			}
			// Every preset name ends in its b0..b7 coefficient row.
			p, err := scaling.LookupPreset(name[strings.LastIndexByte(name, '_')+1:])
			if err != nil {
				return fail(err)
			}
			if err := add(n, row{Name: name, Width: p.Width, Depth: p.Depth}); err != nil {
				fmt.Fprintln(stderr, "scaling:", err)
				return 1
			}
		}
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			fmt.Fprintln(stderr, "scaling:", err)
			return 1
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\twidth\tdepth\tresolution\tparams\tMACs\tblocks\t×B0\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.3g\t%.3g\t%d\t%s\t%s\t%d\t%.2f\t\n",
			r.Name, r.Width, r.Depth, r.Resolution, group(r.Params), group(r.MACs), r.Blocks, r.MACsVsB0)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(stderr, "scaling:", err)
		return 1
	}
	if compound {
		fmt.Fprintf(stdout, "α=%g β=%g γ=%g φ=%g: (α·β²·γ²)^φ = %.3f; channel and repeat rounding make the real ratio differ\n",
			*alpha, *beta, *gamma, *phi, *rows[0].FLOPsFactor)
	}
	fmt.Fprintf(stdout, "%d classes; ×B0 is MACs relative to B0 at 224 px (%s MACs)\n", *classes, group(ref.MACs))
	return 0
}

// group writes n with thousands separators: 385,814,752.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
