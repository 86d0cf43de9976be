// Package train holds what it takes to fit an EfficientNet: optimisers,
// learning-rate schedules, an exponential moving average of the weights and
// the checks that stop a run that has gone numerically wrong, and the
// Trainer that puts them together.
//
// # The loop
//
// New(model, Config) returns a Trainer whose Run goes over the epochs of a
// data.Loader: ZeroGrad, Forward in Train mode, cross-entropy with the
// configured label smoothing, Backward, the non-finite checks, Step at the
// schedule's rate, the EMA update; then an evaluation in Eval mode (top-1
// and top-5, with the EMA weights if asked). Progress goes to an optional
// progress bar, metrics to JSON lines (one per LogEvery steps and one per
// epoch), and OnStep/OnEpoch callbacks let user code watch or stop the run
// (ErrStop). After every epoch, if CheckpointPath is set, the whole
// training state (weights, BN statistics, optimiser and EMA state, the
// model's random generator, counters, history and spec) is written
// atomically to one safetensors file; LoadCheckpoint then continues a run
// bit-identically. A non-finite loss or gradient ends Run with an error
// naming the epoch and step before the bad update is applied, leaving the
// last checkpoint as it was.
//
// # Optimisers
//
// SGD (with momentum and Nesterov momentum) follows PyTorch's
// torch.optim.SGD, the optimiser of the torchvision recipes. RMSProp
// follows TensorFlow, because that is the optimiser the EfficientNet paper
// trained with and its constants (ε = 1e-3 inside the square root, the mean
// square starting at one) only give the paper's behaviour with TensorFlow's
// arithmetic; see RMSProp for how PyTorch's differs. Both apply weight decay
// as L2 regularisation, λ·w added to the gradient, which is what both
// reference recipes do, and a NoDecay predicate can exempt parameters
// (NormAndBias exempts BatchNorm scales and shifts and biases, timm's rule).
//
// An optimiser is built over a fixed slice of parameters and holds state
// tensors shaped like them, allocated once, so Step allocates nothing. Step
// only reads Param.Grad; the loop zeroes gradients with ZeroGrad before
// each backward pass, because Backward accumulates into them. Update loops
// are plain loops over flat slices on one goroutine: a step over B0's 5.3 M
// parameters takes tens of milliseconds, a small fraction of a training
// step, so spreading it over cores would buy little.
//
// # Checkpoints
//
// Optimisers and the EMA expose their state as named layers.Buffer tensors
// (State) and copy a saved set back (LoadState). The names derive from the
// parameter names, which must therefore be unique. Saving the model, the
// state and the step number, then loading them into fresh objects built the
// same way continues training bit-identically. Schedules are pure functions
// of the step, so they need no state.
//
// # Non-finite values
//
// CheckLoss and CheckGrads return errors wrapping ErrNonFinite, as does
// Step for a NaN or infinite learning rate, so a loop can stop on a
// diverged run with errors.Is before it corrupts the weights.
package train
