package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type entry struct {
	name, link string
	typ        byte
	body       []byte
}

func makeTgz(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ == tar.TypeDir {
			hdr.Mode = 0o755
		}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		require.NoError(t, tw.WriteHeader(hdr))
		if e.typ == tar.TypeReg {
			_, err := tw.Write(e.body)
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// imagenetteTgz is a miniature imagenette2-160.tgz with fastai's layout.
func imagenetteTgz(t *testing.T) []byte {
	jpg := encodeJPEG(t, pattern(8, 8))
	return makeTgz(t, []entry{
		{name: "imagenette2-160/", typ: tar.TypeDir},
		{name: "imagenette2-160/train/n01440764/a.JPEG", typ: tar.TypeReg, body: jpg},
		{name: "imagenette2-160/train/n03888257/b.JPEG", typ: tar.TypeReg, body: jpg},
		{name: "imagenette2-160/val/n01440764/c.JPEG", typ: tar.TypeReg, body: jpg},
		{name: "imagenette2-160/noisy_imagenette.csv", typ: tar.TypeReg, body: []byte(csvHeader +
			"train/n01440764/a.JPEG,n01440764,n01440764,n01440764,n01440764,n01440764,False\n" +
			"train/n03888257/b.JPEG,n03888257,n03888257,n03888257,n03888257,n03888257,False\n" +
			"val/n01440764/c.JPEG,n01440764,n01440764,n01440764,n01440764,n01440764,True\n")},
	})
}

// serve answers every request with body, announcing length bytes
// (len(body) when length < 0), and counts the requests.
func serve(t *testing.T, body []byte, length int) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/imagenette2-160.tgz" {
			http.NotFound(w, r)
			return
		}
		if length < 0 {
			length = len(body)
		}
		w.Header().Set("Content-Length", strconv.Itoa(length))
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// onlyEntries lists the cache folder, to check that failures leave nothing.
func onlyEntries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}

func TestDownloadSuccessAndCache(t *testing.T) {
	srv, hits := serve(t, imagenetteTgz(t), -1)
	cache := t.TempDir()
	var progress bytes.Buffer
	d := &Downloader{CacheDir: cache, BaseURL: srv.URL + "/", Progress: &progress}
	dir, err := d.Fetch(context.Background(), "imagenette2-160")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(cache, "imagenette2-160"), dir)
	assert.Contains(t, progress.String(), "imagenette2-160.tgz")
	assert.Equal(t, []string{"imagenette2-160"}, onlyEntries(t, cache), "archive and temporary folder removed")

	train, val, err := Imagenette(dir)
	require.NoError(t, err)
	assert.Equal(t, 2, train.Len())
	assert.Equal(t, 1, val.Len())
	_, err = train.Load(0)
	require.NoError(t, err)
	_, nval, err := NoisyImagenette(dir, 0)
	require.NoError(t, err)
	assert.Equal(t, 1, nval.Len())

	again, err := d.Fetch(context.Background(), "imagenette2-160")
	require.NoError(t, err)
	assert.Equal(t, dir, again)
	assert.Equal(t, int32(1), hits.Load(), "second Fetch uses the cache")
}

func TestDownloadFailures(t *testing.T) {
	good := imagenetteTgz(t)
	for name, tc := range map[string]struct {
		body   []byte
		length int
		want   string
	}{
		// The server announces the truncated size, so only gzip/tar notice.
		"truncated archive": {good[:len(good)/2], -1, "unexpected EOF"},
		// The connection ends before the announced length.
		"short download": {good, len(good) + 1000, "download stopped after"},
		"not gzip":       {[]byte("<html>error page</html>"), -1, "gzip"},
	} {
		srv, _ := serve(t, tc.body, tc.length)
		cache := t.TempDir()
		d := &Downloader{CacheDir: cache, BaseURL: srv.URL}
		_, err := d.Fetch(context.Background(), "imagenette2-160")
		assert.ErrorContains(t, err, tc.want, name)
		assert.Empty(t, onlyEntries(t, cache), "%s leaves nothing behind", name)
	}

	srv, _ := serve(t, good, -1)
	d := &Downloader{CacheDir: t.TempDir(), BaseURL: srv.URL}
	_, err := d.Fetch(context.Background(), "imagenette2-320")
	assert.ErrorContains(t, err, "404")
	_, err = d.Fetch(context.Background(), "imagenet")
	assert.ErrorContains(t, err, "unknown archive")
	_, err = (&Downloader{BaseURL: srv.URL}).Fetch(context.Background(), "imagenette2-160")
	assert.ErrorContains(t, err, "CacheDir")
}

func TestDownloadNoServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	d := &Downloader{CacheDir: t.TempDir(), BaseURL: url}
	_, err := d.Fetch(context.Background(), "imagenette2-160")
	require.ErrorIs(t, err, ErrNoNetwork)
	assert.Contains(t, err.Error(), "cannot reach "+url[len("http://"):])
}

func TestDownloadRefusesEscapes(t *testing.T) {
	jpg := []byte("x")
	for name, entries := range map[string][]entry{
		"dot-dot":  {{name: "imagenette2-160/../../evil", typ: tar.TypeReg, body: jpg}},
		"absolute": {{name: "/tmp/evil", typ: tar.TypeReg, body: jpg}},
		"symlink out": {
			{name: "imagenette2-160/link", typ: tar.TypeSymlink, link: "../../.."},
		},
		"absolute symlink": {
			{name: "imagenette2-160/link", typ: tar.TypeSymlink, link: "/etc"},
		},
		"through symlink": { // each link alone stays inside; chained they would not
			{name: "a", typ: tar.TypeSymlink, link: "."},
			{name: "a/b", typ: tar.TypeSymlink, link: ".."},
			{name: "b/evil", typ: tar.TypeReg, body: jpg},
		},
		"hard link out": {
			{name: "imagenette2-160/h", typ: tar.TypeLink, link: "../../etc/passwd"},
		},
	} {
		parent := t.TempDir()
		cache := filepath.Join(parent, "cache")
		srv, _ := serve(t, makeTgz(t, entries), -1)
		d := &Downloader{CacheDir: cache, BaseURL: srv.URL}
		_, err := d.Fetch(context.Background(), "imagenette2-160")
		require.Error(t, err, name)
		assert.Regexp(t, "escapes|absolute|points outside|under symlink", err.Error(), name)
		assert.Equal(t, []string{"cache"}, onlyEntries(t, parent), "%s wrote outside the cache", name)
		assert.Empty(t, onlyEntries(t, cache), "%s leaves nothing behind", name)
	}

	// Symlinks that stay inside are fine.
	srv, _ := serve(t, makeTgz(t, []entry{
		{name: "imagenette2-160/train/x.JPEG", typ: tar.TypeReg, body: jpg},
		{name: "imagenette2-160/val", typ: tar.TypeSymlink, link: "train"},
	}), -1)
	dir, err := (&Downloader{CacheDir: t.TempDir(), BaseURL: srv.URL}).Fetch(context.Background(), "imagenette2-160")
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "val", "x.JPEG"))
	require.NoError(t, err)
	assert.Equal(t, jpg, b)
}
