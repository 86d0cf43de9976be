package data

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// DefaultBaseURL is where fastai publishes Imagenette and Imagewoof.
const DefaultBaseURL = "https://s3.amazonaws.com/fast-ai-imageclas/"

// Archives are the names Downloader.Fetch accepts: full-size, 160 px and
// 320 px (shorter side) versions of Imagenette and Imagewoof. Read only.
var Archives = []string{
	"imagenette2", "imagenette2-160", "imagenette2-320",
	"imagewoof2", "imagewoof2-160", "imagewoof2-320",
}

// ErrNoNetwork marks a download that failed because the server could not be
// reached at all (no network, DNS failure, connection refused), as opposed
// to one that the server answered with an error.
var ErrNoNetwork = errors.New("no network or host unreachable")

// Downloader fetches and unpacks fastai's dataset archives into a cache folder.
type Downloader struct {
	CacheDir string       // where <name>/ ends up; required
	BaseURL  string       // "" means DefaultBaseURL; archives are BaseURL + name + ".tgz"
	Client   *http.Client // nil means http.DefaultClient
	Progress io.Writer    // where the progress bar is drawn; nil draws none
}

// Fetch returns CacheDir/name, downloading and extracting it first unless it
// is already there.
//
// The download must match the Content-Length the server announced; the gzip
// checksum and tar structure are verified to the last byte; entries that
// would land outside the target (absolute paths, "..", symlinks pointing out
// or paths through symlinks) are refused. Extraction happens in a temporary
// folder that is renamed into place only when complete, so an interrupted
// Fetch never leaves a half-extracted dataset that a later Fetch would trust.
func (d *Downloader) Fetch(ctx context.Context, name string) (string, error) {
	if !slices.Contains(Archives, name) {
		return "", fmt.Errorf("data: unknown archive %q, want one of %v", name, Archives)
	}
	if d.CacheDir == "" {
		return "", errors.New("data: Downloader.CacheDir is empty")
	}
	final := filepath.Join(d.CacheDir, name)
	if st, err := os.Stat(final); err == nil && st.IsDir() {
		return final, nil
	}
	if err := os.MkdirAll(d.CacheDir, 0o755); err != nil {
		return "", err
	}
	archive, err := d.download(ctx, name)
	if err != nil {
		return "", err
	}
	defer os.Remove(archive)

	tmp, err := os.MkdirTemp(d.CacheDir, ".extract-"+name+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := extractTarGz(archive, tmp); err != nil {
		return "", fmt.Errorf("data: %s.tgz: %w", name, err)
	}
	// fastai's archives hold a single top folder named like the archive.
	src := tmp
	if st, err := os.Lstat(filepath.Join(tmp, name)); err == nil && st.IsDir() {
		src = filepath.Join(tmp, name)
	}
	if err := os.Rename(src, final); err != nil {
		return "", err
	}
	return final, nil
}

// download saves BaseURL/name.tgz to a temporary file in CacheDir and
// returns its path.
func (d *Downloader) download(ctx context.Context, name string) (path string, err error) {
	base := d.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.JoinPath(base, name+".tgz")
	if err != nil {
		return "", fmt.Errorf("data: base URL %q: %w", base, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	client := d.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", reachError(req.URL.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("data: GET %s: %s", u, resp.Status)
	}

	f, err := os.CreateTemp(d.CacheDir, "."+name+"-*.tgz.part")
	if err != nil {
		return "", err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	var w io.Writer = f
	if d.Progress != nil {
		bar := progressbar.NewOptions64(resp.ContentLength,
			progressbar.OptionSetWriter(d.Progress),
			progressbar.OptionSetDescription(name+".tgz"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(d.Progress) }),
		)
		defer bar.Finish()
		w = io.MultiWriter(f, bar)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		if resp.ContentLength >= 0 && n < resp.ContentLength {
			return "", fmt.Errorf("data: GET %s: download stopped after %d of %d bytes: %w", u, n, resp.ContentLength, err)
		}
		return "", fmt.Errorf("data: GET %s: %w", u, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return "", fmt.Errorf("data: GET %s: received %d bytes, server announced %d", u, n, resp.ContentLength)
	}
	return f.Name(), nil
}

// reachError turns transport failures into ErrNoNetwork with the host named.
func reachError(host string, err error) error {
	var dns *net.DNSError
	var op *net.OpError
	if errors.As(err, &dns) || errors.As(err, &op) {
		return fmt.Errorf("data: cannot reach %s: %w (%v); download the archive elsewhere and pass its folder instead", host, ErrNoNetwork, err)
	}
	return fmt.Errorf("data: downloading from %s: %w", host, err)
}

// extractTarGz unpacks the gzipped tar file archive into dir.
func extractTarGz(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		if err := extractEntry(root, tr, hdr); err != nil {
			return err
		}
	}
	// The tar end marker can come before the gzip trailer; read on so that
	// the gzip checksum and length are verified.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	return nil
}

// entryName validates an archive path and returns it cleaned.
func entryName(name string) (string, error) {
	if strings.HasPrefix(name, "/") || filepath.IsAbs(name) {
		return "", fmt.Errorf("entry %q has an absolute path", name)
	}
	clean := path.Clean(strings.TrimPrefix(name, "./"))
	if !filepath.IsLocal(filepath.FromSlash(clean)) {
		return "", fmt.Errorf("entry %q escapes the target folder", name)
	}
	return clean, nil
}

func extractEntry(root *os.Root, tr *tar.Reader, hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := entryName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil
	}
	if err := noSymlinkParents(root, name); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return root.MkdirAll(name, 0o755)
	case tar.TypeReg:
		if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
			return err
		}
		out, err := root.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, tr); err != nil {
			out.Close()
			return fmt.Errorf("%s: %w", name, noEOF(err))
		}
		return out.Close()
	case tar.TypeSymlink:
		target := hdr.Linkname
		if path.IsAbs(target) || filepath.IsAbs(target) ||
			!filepath.IsLocal(filepath.FromSlash(path.Join(path.Dir(name), target))) {
			return fmt.Errorf("symlink %q -> %q points outside the target folder", hdr.Name, target)
		}
		if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
			return err
		}
		return root.Symlink(target, name)
	case tar.TypeLink:
		old, err := entryName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hard link %q: %w", hdr.Name, err)
		}
		if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
			return err
		}
		return root.Link(old, name)
	}
	// Devices, FIFOs and the like have no place in an image dataset.
	return nil
}

// noSymlinkParents refuses entries whose parent folders include a symlink:
// a link that is harmless on its own could otherwise redirect later entries
// (a -> ".", then a/b -> "..") outside the target.
func noSymlinkParents(root *os.Root, name string) error {
	dir := path.Dir(name)
	for dir != "." {
		st, err := root.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			dir = path.Dir(dir)
			continue
		}
		if err != nil {
			return err
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("entry %q lies under symlink %q", name, dir)
		}
		dir = path.Dir(dir)
	}
	return nil
}
