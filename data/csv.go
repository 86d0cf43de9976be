package data

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// NoiseLevels are the label-noise percentages of fastai's noisy_imagenette.csv:
// column noisy_labels_N has N % of the training labels replaced at random.
// Read only.
var NoiseLevels = []int{0, 1, 5, 25, 50}

// csvNames are the file names fastai ships in the Imagenette and Imagewoof archives.
var csvNames = []string{"noisy_imagenette.csv", "noisy_imagewoof.csv"}

// NoisyImagenette reads the split and labels from root/noisy_imagenette.csv
// (or noisy_imagewoof.csv): columns path, noisy_labels_0, _1, _5, _25, _50,
// is_valid. noise picks the label column (0 gives the clean labels); rows with
// is_valid True form val, the others train. Paths in the CSV are relative to
// root. Classes are the sorted distinct labels of the chosen column, which for
// Imagenette is the same order as Imagenette(root).
func NoisyImagenette(root string, noise int) (train, val *Files, err error) {
	train, val, err = NoisyImagenetteFS(os.DirFS(root), noise)
	if err != nil {
		return nil, nil, fmt.Errorf("data: noisy imagenette %s: %w", root, err)
	}
	train.root, val.root = root, root
	return train, val, nil
}

// NoisyImagenetteFS is NoisyImagenette on the root of fsys.
func NoisyImagenetteFS(fsys fs.FS, noise int) (train, val *Files, err error) {
	if !slices.Contains(NoiseLevels, noise) {
		return nil, nil, fmt.Errorf("noise level %d %% is not one of %v", noise, NoiseLevels)
	}
	for _, name := range csvNames {
		f, err := fsys.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		train, val, err = readNoisyCSV(fsys, f, fmt.Sprintf("noisy_labels_%d", noise))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		return train, val, nil
	}
	return nil, nil, fmt.Errorf("none of %v found", csvNames)
}

func readNoisyCSV(fsys fs.FS, r io.Reader, column string) (train, val *Files, err error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("reading header: %w", err)
	}
	col := func(name string) (int, error) {
		i := slices.Index(header, name)
		if i < 0 {
			return 0, fmt.Errorf("no column %q in header %v", name, header)
		}
		return i, nil
	}
	pathCol, err := col("path")
	if err != nil {
		return nil, nil, err
	}
	labelCol, err := col(column)
	if err != nil {
		return nil, nil, err
	}
	validCol, err := col("is_valid")
	if err != nil {
		return nil, nil, err
	}

	type row struct {
		path, label string
		valid       bool
	}
	var rows []row
	seen := map[string]bool{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err // csv.ParseError carries the line
		}
		line, _ := cr.FieldPos(0)
		p, label := rec[pathCol], strings.TrimSpace(rec[labelCol])
		if !fs.ValidPath(p) || p == "." {
			return nil, nil, fmt.Errorf("line %d: path %q is not a relative path inside the dataset", line, p)
		}
		if label == "" {
			return nil, nil, fmt.Errorf("line %d: empty %s", line, column)
		}
		var valid bool
		switch strings.ToLower(strings.TrimSpace(rec[validCol])) {
		case "true", "1":
			valid = true
		case "false", "0":
		default:
			return nil, nil, fmt.Errorf("line %d: is_valid is %q, want True or False", line, rec[validCol])
		}
		rows = append(rows, row{p, label, valid})
		seen[label] = true
	}
	if len(rows) == 0 {
		return nil, nil, errors.New("no rows")
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	names := humanNames(ids)
	train = &Files{fsys: fsys, ids: ids, classes: names}
	val = &Files{fsys: fsys, ids: ids, classes: names}
	for _, r := range rows {
		dst := train
		if r.valid {
			dst = val
		}
		dst.paths = append(dst.paths, r.path)
		label, _ := slices.BinarySearch(ids, r.label)
		dst.labels = append(dst.labels, label)
	}
	if train.Len() == 0 || val.Len() == 0 {
		return nil, nil, fmt.Errorf("train has %d rows and val %d; both must be non-empty", train.Len(), val.Len())
	}
	return train, val, nil
}
