package data

import (
	"fmt"
	"image"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// Dataset is a labelled collection of images addressed by index.
//
// Load must be safe to call from several goroutines at once; the Loader's
// workers do. Labels are in [0, len(ClassNames())).
type Dataset interface {
	Len() int
	Label(i int) int
	Load(i int) (image.Image, error)
	ClassNames() []string
}

// FileError reports an image file that could not be read or decoded.
type FileError struct {
	Path string // the file, as the dataset knows it (joined with its root folder)
	Err  error
}

func (e *FileError) Error() string { return fmt.Sprintf("data: %s: %v", e.Path, e.Err) }
func (e *FileError) Unwrap() error { return e.Err }

// Files is a Dataset of image files, each with a class label. It is what the
// image-folder, Imagenette and noisy-CSV readers return.
type Files struct {
	fsys    fs.FS
	root    string   // shown in errors; "" for an fs.FS given by the caller
	paths   []string // slash-separated, relative to fsys
	labels  []int
	classes []string // human-readable names
	ids     []string // folder names or label strings as found on disk
}

// Len returns the number of images.
func (f *Files) Len() int { return len(f.paths) }

// Label returns the class index of image i.
func (f *Files) Label(i int) int { return f.labels[i] }

// Path returns the file name of image i, relative to the dataset root.
func (f *Files) Path(i int) string { return f.paths[i] }

// ClassNames returns the human-readable class names, indexed by label.
// For Imagenette and Imagewoof WordNet ids these are names such as "tench";
// for other folders they are the folder names.
func (f *Files) ClassNames() []string { return f.classes }

// ClassIDs returns the class names as they appear on disk (folder names or
// CSV labels, e.g. WordNet ids), indexed by label.
func (f *Files) ClassIDs() []string { return f.ids }

// Load opens and decodes image i. Errors are *FileError naming the file.
func (f *Files) Load(i int) (image.Image, error) {
	p := f.paths[i]
	r, err := f.fsys.Open(p)
	if err != nil {
		return nil, &FileError{Path: f.display(p), Err: err}
	}
	defer r.Close()
	img, err := Decode(r)
	if err != nil {
		return nil, &FileError{Path: f.display(p), Err: err}
	}
	return img, nil
}

func (f *Files) display(p string) string {
	if f.root == "" {
		return p
	}
	return f.root + string(os.PathSeparator) + p
}

// isImageName reports whether name has a .jpg, .jpeg or .png extension, in
// any letter case (Imagenette's files end in .JPEG).
func isImageName(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// ImageFolder reads a dataset laid out as root/<class>/<image>, one folder
// per class, classes numbered in sorted folder-name order (the torchvision
// ImageFolder convention, so labels match models trained with it). Only
// .jpg, .jpeg and .png files count; other files and nested folders are
// ignored. Images are listed in sorted order within each class.
func ImageFolder(root string) (*Files, error) {
	f, err := ImageFolderFS(os.DirFS(root))
	if err != nil {
		return nil, fmt.Errorf("data: image folder %s: %w", root, err)
	}
	f.root = root
	return f, nil
}

// ImageFolderFS is ImageFolder on the root of fsys.
func ImageFolderFS(fsys fs.FS) (*Files, error) {
	dirs, err := classDirs(fsys, ".")
	if err != nil {
		return nil, err
	}
	f := &Files{fsys: fsys, ids: dirs, classes: humanNames(dirs)}
	if err := f.addFolders(".", dirs, dirs); err != nil {
		return nil, err
	}
	return f, nil
}

// classDirs lists the sub-folders of dir, sorted.
func classDirs(fsys fs.FS, dir string) ([]string, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			dirs = append(dirs, e.Name())
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no class folders in %s", dir)
	}
	slices.Sort(dirs)
	return dirs, nil
}

// addFolders appends the images of dir/<d> for each d in dirs, labelled by
// d's position in classes.
func (f *Files) addFolders(dir string, dirs, classes []string) error {
	for _, d := range dirs {
		label := slices.Index(classes, d)
		if label < 0 {
			return fmt.Errorf("class folder %s is not among the training classes", path.Join(dir, d))
		}
		entries, err := fs.ReadDir(f.fsys, path.Join(dir, d))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.IsDir() || !isImageName(e.Name()) {
				continue
			}
			f.paths = append(f.paths, path.Join(dir, d, e.Name()))
			f.labels = append(f.labels, label)
		}
	}
	if len(f.paths) == 0 {
		return fmt.Errorf("no .jpg, .jpeg or .png files under %s", dir)
	}
	return nil
}

// Imagenette reads fastai's Imagenette (or Imagewoof) layout: root/train and
// root/val, each with one folder per WordNet id. Labels follow the sorted
// folder names of train; ClassNames gives human names such as "tench".
// A val folder that is not a train class is an error.
func Imagenette(root string) (train, val *Files, err error) {
	train, val, err = ImagenetteFS(os.DirFS(root))
	if err != nil {
		return nil, nil, fmt.Errorf("data: imagenette %s: %w", root, err)
	}
	train.root, val.root = root, root
	return train, val, nil
}

// ImagenetteFS is Imagenette on the root of fsys (for example MiniImagenette()).
func ImagenetteFS(fsys fs.FS) (train, val *Files, err error) {
	ids, err := classDirs(fsys, "train")
	if err != nil {
		return nil, nil, err
	}
	names := humanNames(ids)
	train = &Files{fsys: fsys, ids: ids, classes: names}
	if err := train.addFolders("train", ids, ids); err != nil {
		return nil, nil, err
	}
	valDirs, err := classDirs(fsys, "val")
	if err != nil {
		return nil, nil, err
	}
	val = &Files{fsys: fsys, ids: ids, classes: names}
	if err := val.addFolders("val", valDirs, ids); err != nil {
		return nil, nil, err
	}
	return train, val, nil
}

// HasImagenetteLayout reports whether root has train/ and val/ folders, the
// sign that Imagenette rather than ImageFolder should read it.
func HasImagenetteLayout(fsys fs.FS) bool {
	for _, d := range []string{"train", "val"} {
		st, err := fs.Stat(fsys, d)
		if err != nil || !st.IsDir() {
			return false
		}
	}
	return true
}

// humanNames maps WordNet ids to the names fastai uses for Imagenette and
// Imagewoof; other names are kept as they are.
func humanNames(ids []string) []string {
	names := make([]string, len(ids))
	for i, id := range ids {
		if n, ok := wordNetNames[id]; ok {
			names[i] = n
		} else {
			names[i] = id
		}
	}
	return names
}

// wordNetNames holds the ten Imagenette and ten Imagewoof classes.
var wordNetNames = map[string]string{
	// Imagenette
	"n01440764": "tench",
	"n02102040": "English springer",
	"n02979186": "cassette player",
	"n03000684": "chain saw",
	"n03028079": "church",
	"n03394916": "French horn",
	"n03417042": "garbage truck",
	"n03425413": "gas pump",
	"n03445777": "golf ball",
	"n03888257": "parachute",
	// Imagewoof
	"n02086240": "Shih-Tzu",
	"n02087394": "Rhodesian ridgeback",
	"n02088364": "beagle",
	"n02089973": "English foxhound",
	"n02093754": "Border terrier",
	"n02096294": "Australian terrier",
	"n02099601": "golden retriever",
	"n02105641": "Old English sheepdog",
	"n02111889": "Samoyed",
	"n02115641": "dingo",
}
