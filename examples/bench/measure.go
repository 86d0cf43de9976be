package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/effnet-go/effnet"
	"github.com/effnet-go/effnet/flops"
	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
	"github.com/effnet-go/effnet/train"
)

// probes are optional looks into a configuration's timed steps.
type probes struct {
	cpuprofile string    // if not empty, a CPU profile of the steps is written to this file
	allocSites io.Writer // if not nil, where the steps allocate is written to it
}

// config is one measured configuration.
type config struct {
	Model      string `json:"model"`
	Mode       string `json:"mode"` // "eval" or "train"
	Resolution int    `json:"resolution"`
	Batch      int    `json:"batch"`
	Iters      int    `json:"iters"`
	Warmup     int    `json:"warmup"`
}

// name is the configuration as the table and the JSON summary call it.
func (c config) name() string {
	return fmt.Sprintf("%s %s %dpx b%d", c.Model, c.Mode, c.Resolution, c.Batch)
}

// result is effnet's measurement of one configuration, printed by a child
// process as its last line; the JSON keys are part of the command's output.
type result struct {
	config
	Classes       int     `json:"classes"`
	Params        int     `json:"params"`
	MACs          int64   `json:"macs"`        // multiply-accumulates of one image's forward pass
	GMACS         float64 `json:"gmac_s"`      // MACs·images/s/1e9: forward work done per second
	ImgS          float64 `json:"img_s"`       // batch / median step time
	ImgSBest      float64 `json:"img_s_best"`  // batch / fastest step
	ImgSWorst     float64 `json:"img_s_worst"` // batch / slowest step
	StepMS        float64 `json:"step_ms_median"`
	PeakRSSMB     float64 `json:"peak_rss_mb"` // VmHWM of the process
	AllocsPerStep float64 `json:"allocs_per_step"`
	BytesPerStep  float64 `json:"bytes_per_step"`
	GCPerStep     float64 `json:"gc_per_step"`
	GoMaxProcs    int     `json:"gomaxprocs"`
}

// measure builds the model, runs cfg.Warmup untimed and cfg.Iters timed
// steps and reports the median speed, the allocations of the timed steps
// and the process's peak resident memory. A train step is what a training
// loop does per batch: ZeroGrad, Forward in Train mode, cross-entropy,
// Backward and an SGD step (momentum 0.9, lr 0.01, PyTorch's defaults
// otherwise), the same as the torch script times. The probes of pr look
// into the timed steps.
func measure(cfg config, classes int, seed uint64, pr probes) (result, error) {
	var allocs *allocProfile
	if pr.allocSites != nil {
		allocs = newAllocProfile()
	}
	m, err := effnet.NewPreset[float32](cfg.Model, classes, seed)
	if err != nil {
		return result{}, err
	}
	// As in PyTorch, where the images do not require a gradient.
	m.SkipInputGrad = true
	res := result{config: cfg, Classes: classes, Params: m.NumParams(), GoMaxProcs: runtime.GOMAXPROCS(0)}
	if res.Resolution == 0 {
		res.Resolution = m.Spec.Resolution
	}
	spec := m.Spec.Clone()
	spec.Resolution = res.Resolution
	count, err := flops.Count(spec)
	if err != nil {
		return result{}, err
	}
	res.MACs = count.MACs
	rng := rand.New(rand.NewPCG(seed, 1))
	x := tensor.New[float32](cfg.Batch, res.Resolution, res.Resolution, m.Spec.InChannels)
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, cfg.Batch)
	for i := range labels {
		labels[i] = rng.IntN(classes)
	}
	var step func() error
	switch cfg.Mode {
	case "eval":
		step = func() error {
			_, err := m.Forward(x, layers.Eval)
			return err
		}
	case "train":
		opt, err := train.NewSGD(m.Params(), train.SGDConfig{Momentum: 0.9})
		if err != nil {
			return result{}, err
		}
		loss := layers.NewCrossEntropy[float32](0)
		step = func() error {
			opt.ZeroGrad()
			logits, err := m.Forward(x, layers.Train)
			if err != nil {
				return err
			}
			if _, err := loss.Forward(logits, labels); err != nil {
				return err
			}
			if _, err := m.Backward(loss.Backward()); err != nil {
				return err
			}
			return opt.Step(0.01)
		}
	default:
		return result{}, fmt.Errorf("unknown mode %q (want eval or train)", cfg.Mode)
	}
	for range cfg.Warmup {
		if err := step(); err != nil {
			return result{}, err
		}
	}
	if pr.cpuprofile != "" {
		f, err := os.Create(pr.cpuprofile)
		if err != nil {
			return result{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return result{}, err
		}
		defer pprof.StopCPUProfile()
	}
	times := make([]float64, cfg.Iters)
	var before, after runtime.MemStats
	if allocs != nil {
		if err := allocs.start(); err != nil {
			return result{}, err
		}
	}
	runtime.ReadMemStats(&before)
	for i := range times {
		t0 := time.Now()
		if err := step(); err != nil {
			return result{}, err
		}
		times[i] = time.Since(t0).Seconds()
	}
	runtime.ReadMemStats(&after)
	if allocs != nil {
		sites, err := allocs.stop()
		if err != nil {
			return result{}, err
		}
		printAllocSites(pr.allocSites, sites, cfg.Iters)
	}
	n := float64(cfg.Iters)
	res.AllocsPerStep = float64(after.Mallocs-before.Mallocs) / n
	res.BytesPerStep = float64(after.TotalAlloc-before.TotalAlloc) / n
	res.GCPerStep = float64(after.NumGC-before.NumGC) / n
	med := median(times)
	b := float64(cfg.Batch)
	res.StepMS = round(1e3*med, 3)
	res.ImgS = round(b/med, 3)
	res.ImgSBest = round(b/slices.Min(times), 3)
	res.ImgSWorst = round(b/slices.Max(times), 3)
	res.GMACS = round(float64(res.MACs)*res.ImgS/1e9, 3)
	if rss, err := peakRSS(); err == nil {
		res.PeakRSSMB = round(rss, 1)
	} else {
		return result{}, err
	}
	return res, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func round(v float64, digits int) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', digits, 64), 64)
	return r
}

// peakRSS returns the process's peak resident set in MB (2^20 bytes), the
// kernel's VmHWM: everything ever resident at once, Go heap, stacks and
// binary alike, comparable with ru_maxrss of the torch process.
func peakRSS() (float64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	return parseVmHWM(b)
}

func parseVmHWM(status []byte) (float64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			break
		}
		return kb / 1024, nil
	}
	return 0, fmt.Errorf("peak RSS: no VmHWM line in /proc/self/status")
}
