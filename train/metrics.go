package train

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// StepMetrics describes one optimiser step. It is what OnStep receives and
// what a "step" line of the metrics log holds.
type StepMetrics struct {
	Kind       string  `json:"kind"`         // always "step"
	Epoch      int     `json:"epoch"`        // from 1
	Step       int     `json:"step"`         // steps done, counting this one and those before a resume
	Loss       float64 `json:"loss"`         // the batch's training loss (label-smoothed)
	Top1       float64 `json:"top1"`         // the batch's training accuracy, a fraction in 0..1
	LR         float64 `json:"lr"`           // learning rate of this step
	Images     int     `json:"images"`       // images in the batch
	ImagesPerS float64 `json:"images_per_s"` // training throughput of the epoch so far
}

// EvalMetrics is the result of an evaluation pass.
type EvalMetrics struct {
	Loss   float64 // mean cross-entropy, without label smoothing
	Top1   float64 // fraction of images whose label has the largest logit
	Top5   float64 // fraction whose label is among the five largest
	Images int
}

// EpochMetrics summarises one epoch. It is what OnEpoch receives, what an
// "epoch" line of the metrics log holds and what Run returns per epoch.
type EpochMetrics struct {
	Kind      string  `json:"kind"`  // always "epoch"
	Epoch     int     `json:"epoch"` // from 1
	Step      int     `json:"step"`  // steps done at the end of the epoch
	LR        float64 `json:"lr"`    // learning rate of the epoch's last step
	TrainLoss float64 `json:"train_loss"`
	TrainTop1 float64 `json:"train_top1"`
	ValLoss   float64 `json:"val_loss"`
	ValTop1   float64 `json:"val_top1"`
	ValTop5   float64 `json:"val_top5"`
	// ValEMA reports whether validation used the EMA weights.
	ValEMA bool `json:"val_ema"`
	// ImagesPerS is training throughput: images over the time spent in
	// training steps, evaluation excluded.
	ImagesPerS   float64 `json:"images_per_s"`
	TrainSeconds float64 `json:"train_seconds"`
	// Seconds is the wall time of the epoch's training and evaluation
	// (the checkpoint written after it is not counted).
	Seconds float64 `json:"seconds"`
}

// metricsLog appends one JSON object per line to a writer. Lines are
// flushed as they are written, so a crashed or interrupted run keeps every
// line up to its last step.
type metricsLog struct {
	w   *bufio.Writer
	enc *json.Encoder
}

func newMetricsLog(w io.Writer) *metricsLog {
	if w == nil {
		return nil
	}
	bw := bufio.NewWriter(w)
	return &metricsLog{w: bw, enc: json.NewEncoder(bw)}
}

func (l *metricsLog) write(v any) error {
	if l == nil {
		return nil
	}
	if err := l.enc.Encode(v); err != nil {
		return fmt.Errorf("train: metrics: %w", err)
	}
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("train: metrics: %w", err)
	}
	return nil
}

// ReadEpochMetrics reads the "epoch" lines of a metrics log written by a
// Trainer, skipping the "step" lines. A resumed run appends to the same
// log; when it re-runs epochs (resumed from an older checkpoint), a line
// for epoch e drops the earlier lines for e and later epochs, so the result
// is the history of the run that reached the end of the log.
func ReadEpochMetrics(r io.Reader) ([]EpochMetrics, error) {
	var out []EpochMetrics
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var kind struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(sc.Bytes(), &kind); err != nil {
			return nil, fmt.Errorf("train: metrics line %d: %w", line, err)
		}
		if kind.Kind != "epoch" {
			continue
		}
		var m EpochMetrics
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("train: metrics line %d: %w", line, err)
		}
		for len(out) > 0 && out[len(out)-1].Epoch >= m.Epoch {
			out = out[:len(out)-1]
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("train: metrics: %w", err)
	}
	return out, nil
}

// topK counts, for logits [n, k] and labels, how many rows rank their label
// first and how many within the first five. A row's rank is the number of
// logits larger than the label's, ties broken toward the lower index as
// CrossEntropy.Correct breaks them, so the two top-1 counts agree.
func topK[T ~float32 | ~float64](logits []T, n, k int, labels []int) (top1, top5 int) {
	for i, y := range labels[:n] {
		row := logits[i*k : (i+1)*k]
		ly := row[y]
		rank := 0
		for j, v := range row {
			if v > ly || (v == ly && j < y) {
				rank++
			}
		}
		if rank == 0 {
			top1++
		}
		if rank < 5 {
			top5++
		}
	}
	return top1, top5
}
