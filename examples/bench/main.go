// Command bench measures effnet's whole-model speed and memory on the CPU:
// images per second (median over timed steps), peak resident memory and
// heap allocations per step, for inference (Forward in Eval mode) and for
// a training step (ZeroGrad, Forward, cross-entropy, Backward, SGD step).
//
//	go run ./examples/bench                                  # b0 eval at 224 px, batch 8
//	go run ./examples/bench -mode train -resolution 128 -batch 32
//	go run ./examples/bench -model b3 -mode all -iters 3
//	go run ./examples/bench -model b0,b1,b2,b3 -batch 1      # FLOPs against wall clock
//	go run ./examples/bench -torch                           # effnet against PyTorch
//	go run ./examples/bench -mode train -allocsites          # where a step allocates
//
// With -torch it runs, in one invocation, the configurations of the speed
// issue (B0 eval 224 px batch 8, B0 train 128 px and 224 px batch 32, and
// B0 eval 128 px batch 32), each first with effnet and then with PyTorch
// through scripts/torch_model_bench.py under Debian's python3-torch (2
// threads, memory retained between iterations: see the script's
// docstring). It prints a table and, as its last line, one JSON object
// {"configs":[{"name", "effnet_img_s", "torch_img_s", "ratio",
// "effnet_rss_mb", "torch_rss_mb"}, ...]}, ratio being effnet over torch.
//
// Every configuration runs in a process of its own (this command re-runs
// itself), so that each peak RSS belongs to that configuration alone, as
// the torch script's does. Without -torch and with a single configuration
// the measurement runs in-process; its last line is the JSON result.
//
// With several models (-model b0,b2,b4) it also prints how their forward
// multiply-accumulates (MACs) and their step times grow against the first
// model's: the compound-scaling question of whether FLOPs savings become
// wall-clock savings.
//
// Images/s is batch size over the median step time. Allocations per step
// are the runtime's malloc count over the timed steps divided by their
// number; -allocsites prints the call stacks that made them, from a memory
// profile of every allocation taken before and after the timed steps (the
// garbage collections it forces around them empty some of the runtime's
// caches, so it can find a few more than a plain run counts). The load
// average is printed before and after: on a shared machine, rerun when it
// was high.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
)

// childEnv marks a process started by run for a single configuration; the
// test binary checks it in TestMain to act as the command.
const childEnv = "EFFNET_BENCH_CHILD"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// issueConfigs are the configurations -torch compares, in the order of the
// speed issue, with iteration counts that keep the whole run within a few
// minutes on two cores. The warm-up steps cover more than the first step,
// which sizes the layers' buffers: the matrix products' cached packing
// buffers come off a free list in the order calls returned them, so a
// buffer can still meet a larger product a few steps later, and the Go
// runtime fills its caches of records for blocked goroutines over the
// first steps (see -allocsites).
var issueConfigs = []config{
	{Model: "b0", Mode: "eval", Resolution: 224, Batch: 8, Iters: 30, Warmup: 8},
	{Model: "b0", Mode: "train", Resolution: 128, Batch: 32, Iters: 8, Warmup: 6},
	{Model: "b0", Mode: "train", Resolution: 224, Batch: 32, Iters: 5, Warmup: 4},
	{Model: "b0", Mode: "eval", Resolution: 128, Batch: 32, Iters: 15, Warmup: 6},
}

// summary is one row of the -torch JSON line; its keys are fixed by the
// speed issue.
type summary struct {
	Name        string  `json:"name"`
	EffnetImgS  float64 `json:"effnet_img_s"`
	TorchImgS   float64 `json:"torch_img_s"`
	Ratio       float64 `json:"ratio"`
	EffnetRSSMB float64 `json:"effnet_rss_mb"`
	TorchRSSMB  float64 `json:"torch_rss_mb"`
}

// torchResult is the part of the torch script's JSON line used here.
type torchResult struct {
	ImgS         float64 `json:"img_s"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`
	ChannelsLast bool    `json:"channels_last"`
	Torch        string  `json:"torch"`
}

// run is the whole command, separated from main so tests can call it. It
// returns the exit status: 0, 1 for a failed measurement, 2 for bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "b0", "model preset: b0..b7 or any name arch.Preset knows; a comma-separated list compares several")
	resolution := fs.Int("resolution", 0, "input height and width (default: the model's own)")
	batch := fs.Int("batch", 8, "batch size")
	mode := fs.String("mode", "eval", "eval, train or all")
	iters := fs.Int("iters", 0, "timed steps per configuration (default 10 eval, 5 train; with -torch each configuration has its own)")
	warmup := fs.Int("warmup", 2, "untimed steps first (-torch: each configuration has its own)")
	classes := fs.Int("classes", 1000, "classifier outputs")
	seed := fs.Uint64("seed", 1, "seed of weights and input")
	withTorch := fs.Bool("torch", false, "compare with PyTorch on the speed issue's B0 configurations (ignores -model, -resolution, -batch, -mode)")
	python := fs.String("python", "/usr/bin/python3", "Python with torch and torchvision, for -torch")
	script := fs.String("torch-script", "", "path of torch_model_bench.py (default: scripts/ of this module)")
	channelsLast := fs.String("channels-last", "on", "torch memory format for -torch: on (faster here) or off")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps (single configuration only)")
	allocSites := fs.Bool("allocsites", false, "print the call stacks that allocate during the timed steps (single configuration only)")
	child := fs.Bool("child", false, "internal: measure one configuration and print its JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *batch < 1 || *iters < 0 || *warmup < 0 || *resolution < 0 || *classes < 1 {
		fmt.Fprintln(stderr, "bench: -batch and -classes must be positive, -iters, -warmup and -resolution not negative")
		return 2
	}

	var configs []config
	if *withTorch {
		configs = issueConfigs
		if *iters > 0 {
			configs = nil
			for _, c := range issueConfigs {
				c.Iters = *iters
				configs = append(configs, c)
			}
		}
	} else {
		var modes []string
		switch *mode {
		case "eval", "train":
			modes = []string{*mode}
		case "all":
			modes = []string{"eval", "train"}
		default:
			fmt.Fprintf(stderr, "bench: -mode must be eval, train or all, got %q\n", *mode)
			return 2
		}
		for _, name := range strings.Split(*model, ",") {
			if name = strings.TrimSpace(name); name == "" {
				fmt.Fprintf(stderr, "bench: empty model name in -model %q\n", *model)
				return 2
			}
			for _, md := range modes {
				n := *iters
				if n == 0 {
					n = map[string]int{"eval": 10, "train": 5}[md]
				}
				configs = append(configs, config{Model: name, Mode: md, Resolution: *resolution, Batch: *batch, Iters: n, Warmup: *warmup})
			}
		}
	}
	if *mode == "train" && *batch < 2 && !*withTorch {
		fmt.Fprintln(stderr, "bench: training needs -batch >= 2 (BatchNorm batch statistics)")
		return 2
	}

	if *child || (len(configs) == 1 && !*withTorch) {
		if len(configs) != 1 {
			fmt.Fprintln(stderr, "bench: -child measures exactly one configuration")
			return 2
		}
		pr := probes{cpuprofile: *cpuprofile}
		if *allocSites {
			pr.allocSites = stdout
		}
		res, err := measure(configs[0], *classes, *seed, pr)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		if !*child {
			printResult(stdout, res)
		}
		line, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s\n", line)
		return 0
	}
	if *cpuprofile != "" || *allocSites {
		fmt.Fprintln(stderr, "bench: -cpuprofile and -allocsites need a single configuration (one model and -mode, no -torch)")
		return 2
	}

	fmt.Fprintf(stdout, "load average before: %s; GOMAXPROCS %d\n", loadAvg(), runtime.GOMAXPROCS(0))
	var torchScript string
	if *withTorch {
		var err error
		if torchScript, err = findScript(*script); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	var results []result
	var torchRes []torchResult
	for _, c := range configs {
		res, err := runChild(c, *classes, *seed)
		if err != nil {
			fmt.Fprintf(stderr, "bench: effnet %s: %v\n", c.name(), err)
			return 1
		}
		printResult(stdout, res)
		results = append(results, res)
		if !*withTorch {
			continue
		}
		tr, err := runTorch(*python, torchScript, c, *channelsLast)
		if err != nil {
			fmt.Fprintf(stderr, "bench: torch %s: %v\n", c.name(), err)
			return 1
		}
		fmt.Fprintf(stdout, "torch  %-22s %8.2f img/s  peak RSS %6.0f MB  (torch %s, channels_last %t)\n",
			c.name(), tr.ImgS, tr.PeakRSSMB, tr.Torch, tr.ChannelsLast)
		torchRes = append(torchRes, tr)
	}
	after := loadAvg()
	fmt.Fprintf(stdout, "load average after: %s\n", after)
	if f := strings.Fields(after); len(f) > 0 {
		// The run itself keeps about GOMAXPROCS threads busy; more than
		// that on the 1-minute average means other processes took cores,
		// which slows PyTorch's OpenMP threads far more than effnet.
		if l, err := strconv.ParseFloat(f[0], 64); err == nil && l > float64(runtime.GOMAXPROCS(0))+0.5 {
			fmt.Fprintf(stdout, "warning: load average %.2f above %d cores: other processes competed for the CPU; rerun on a quiet machine\n", l, runtime.GOMAXPROCS(0))
		}
	}
	if !*withTorch {
		printScaling(stdout, results)
		line, _ := json.Marshal(struct {
			Configs []result `json:"configs"`
		}{results})
		fmt.Fprintf(stdout, "%s\n", line)
		return 0
	}
	var rows []summary
	for i, r := range results {
		t := torchRes[i]
		ratio := 0.0
		if t.ImgS > 0 {
			ratio = round(r.ImgS/t.ImgS, 3)
		}
		rows = append(rows, summary{Name: r.name(), EffnetImgS: r.ImgS, TorchImgS: t.ImgS, Ratio: ratio,
			EffnetRSSMB: r.PeakRSSMB, TorchRSSMB: t.PeakRSSMB})
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "config\teffnet img/s\ttorch img/s\tratio\teffnet RSS MB\ttorch RSS MB\teffnet allocs/step\t")
	for i, s := range rows {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.3f\t%.0f\t%.0f\t%.0f\t\n", s.Name, s.EffnetImgS, s.TorchImgS, s.Ratio,
			s.EffnetRSSMB, s.TorchRSSMB, results[i].AllocsPerStep)
	}
	tw.Flush()
	line, _ := json.Marshal(struct {
		Configs []summary `json:"configs"`
	}{rows})
	fmt.Fprintf(stdout, "%s\n", line)
	return 0
}

// printScaling prints, per mode, how MACs and step time per image grow from
// the first model measured, when more than one model was.
func printScaling(w io.Writer, results []result) {
	for _, mode := range []string{"eval", "train"} {
		var rs []result
		for _, r := range results {
			if r.Mode == mode {
				rs = append(rs, r)
			}
		}
		if len(rs) < 2 || rs[0].ImgS == 0 || rs[0].MACs == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: forward MACs against time per image, relative to %s\n", mode, rs[0].Model)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "model\tresolution\tGMACs/img\tms/img\tMACs ×\ttime ×\tGMAC/s\t")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.2f\t%.2f\t%.2f\t%.1f\t\n", r.Model, r.Resolution, float64(r.MACs)/1e9, 1e3/r.ImgS,
				float64(r.MACs)/float64(rs[0].MACs), rs[0].ImgS/r.ImgS, r.GMACS)
		}
		tw.Flush()
	}
}

func printResult(w io.Writer, r result) {
	fmt.Fprintf(w, "effnet %-22s %8.2f img/s  peak RSS %6.0f MB  %.0f allocs/step (%.0f B)  step %.1f ms (best %.2f, worst %.2f img/s; %d iters after %d warm-up)\n",
		r.name(), r.ImgS, r.PeakRSSMB, r.AllocsPerStep, r.BytesPerStep, r.StepMS, r.ImgSBest, r.ImgSWorst, r.Iters, r.Warmup)
}

// runChild measures c in a fresh process of this executable, so that its
// peak RSS is its own.
func runChild(c config, classes int, seed uint64) (result, error) {
	exe, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(exe, "-child", "-model", c.Model, "-mode", c.Mode,
		"-resolution", fmt.Sprint(c.Resolution), "-batch", fmt.Sprint(c.Batch),
		"-iters", fmt.Sprint(c.Iters), "-warmup", fmt.Sprint(c.Warmup),
		"-classes", fmt.Sprint(classes), "-seed", fmt.Sprint(seed))
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var res result
	return res, runJSON(cmd, &res)
}

// runTorch times c with the torch script.
func runTorch(python, script string, c config, channelsLast string) (torchResult, error) {
	if c.Model != "b0" {
		return torchResult{}, fmt.Errorf("the torch script runs efficientnet_b0 only, not %q", c.Model)
	}
	cmd := exec.Command(python, script, "--json-only", "--mode", c.Mode,
		"--resolution", fmt.Sprint(c.Resolution), "--batch", fmt.Sprint(c.Batch),
		"--iters", fmt.Sprint(c.Iters), "--warmup", fmt.Sprint(c.Warmup), "--channels-last", channelsLast)
	var res torchResult
	return res, runJSON(cmd, &res)
}

// runJSON runs cmd and decodes the last line of its output into v.
func runJSON(cmd *exec.Cmd, v any) error {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		return fmt.Errorf("reading the JSON line of %s: %v", filepath.Base(cmd.Path), err)
	}
	return nil
}

// findScript returns the torch script: the given path, or
// scripts/torch_model_bench.py in the nearest directory above the working
// directory that has one (the module root when run with go run).
func findScript(given string) (string, error) {
	if given != "" {
		if _, err := os.Stat(given); err != nil {
			return "", err
		}
		return given, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "torch_model_bench.py")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/torch_model_bench.py not found above the working directory; pass -torch-script")
		}
		dir = parent
	}
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
