package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/effnet-go/effnet/train"
)

// plotCurves draws the loss (train and validation) and the accuracy (train
// top-1, validation top-1 and top-5) per epoch side by side into a PNG.
func plotCurves(hist []train.EpochMetrics, path string) error {
	series := func(f func(train.EpochMetrics) float64) plotter.XYs {
		xy := make(plotter.XYs, len(hist))
		for i, m := range hist {
			xy[i] = plotter.XY{X: float64(m.Epoch), Y: f(m)}
		}
		return xy
	}
	type curve struct {
		name string
		xy   plotter.XYs
		col  color.Color
		dash bool
	}
	blue, orange, green := color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255}
	panel := func(title, ylabel string, curves []curve) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "epoch"
		p.Y.Label.Text = ylabel
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		for _, c := range curves {
			l, pts, err := plotter.NewLinePoints(c.xy)
			if err != nil {
				return nil, err
			}
			l.Color, pts.Color = c.col, c.col
			if c.dash {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			}
			p.Add(l, pts)
			p.Legend.Add(c.name, l, pts)
		}
		return p, nil
	}
	loss, err := panel("loss", "cross-entropy", []curve{
		{"train (smoothed labels)", series(func(m train.EpochMetrics) float64 { return m.TrainLoss }), blue, false},
		{"validation", series(func(m train.EpochMetrics) float64 { return m.ValLoss }), orange, false},
	})
	if err != nil {
		return err
	}
	acc, err := panel("accuracy", "%", []curve{
		{"train top-1", series(func(m train.EpochMetrics) float64 { return 100 * m.TrainTop1 }), blue, false},
		{"val top-1", series(func(m train.EpochMetrics) float64 { return 100 * m.ValTop1 }), orange, false},
		{"val top-5", series(func(m train.EpochMetrics) float64 { return 100 * m.ValTop5 }), green, true},
	})
	if err != nil {
		return err
	}
	acc.Y.Min, acc.Y.Max = 0, 100

	img := vgimg.New(vg.Points(720), vg.Points(300))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(16), PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(10)}
	plots := [][]*plot.Plot{{loss, acc}}
	canvases := plot.Align(plots, tiles, dc)
	loss.Draw(canvases[0][0])
	acc.Draw(canvases[0][1])

	// Write next to the target and rename, so a reader never sees half a
	// PNG (the plot is redrawn after every run).
	tmp, err := os.CreateTemp(filepath.Dir(path), ".curves*.png")
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("plot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
