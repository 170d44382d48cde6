// Command mkimage writes a container image as a docker-archive tarball
// (loadable by docker load and ctr images import) without a registry or a
// Docker build: an optional root filesystem tarball as the first layer, then
// a layer of files.
//
//	mkimage -o out.tar -ref registry.k8s.io/pause:3.10.1 -file bin/pause:/pause -entrypoint /pause
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var refs, files, env, entrypoint, cmd list
	out := flag.String("o", "", "output tarball")
	base := flag.String("base", "", "root filesystem tarball for the first layer")
	stop := flag.String("stopsignal", "", "stop signal, e.g. SIGRTMIN+3 for systemd")
	user := flag.String("user", "", "user[:group] the image runs as, e.g. 1337:1337 (charts with runAsNonRoot need a non-root image user)")
	workdir := flag.String("workdir", "", "working directory")
	flag.Var(&refs, "ref", "image reference (repeatable)")
	flag.Var(&files, "file", "src:dst file to add, mode 0755 (repeatable)")
	flag.Var(&env, "env", "K=V (repeatable)")
	flag.Var(&entrypoint, "entrypoint", "entrypoint word (repeatable)")
	flag.Var(&cmd, "cmd", "cmd word (repeatable)")
	flag.Parse()
	if err := build(*out, *base, *stop, *user, *workdir, refs, files, env, entrypoint, cmd); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func build(out, base, stop, user, workdir string, refs, files, env, entrypoint, cmd []string) error {
	if out == "" || len(refs) == 0 {
		return fmt.Errorf("-o and at least one -ref are required")
	}
	img := empty.Image
	var err error
	if base != "" {
		layer, err := tarball.LayerFromFile(base)
		if err != nil {
			return err
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return err
		}
	}
	if len(files) > 0 {
		data, err := filesTar(files)
		if err != nil {
			return err
		}
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			return err
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return err
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Config.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	cfg.Config.Entrypoint, cfg.Config.Cmd, cfg.Config.StopSignal = entrypoint, cmd, stop
	cfg.Config.User, cfg.Config.WorkingDir = user, workdir
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	tagged := map[name.Tag]v1.Image{}
	for _, r := range refs {
		t, err := name.NewTag(r)
		if err != nil {
			return err
		}
		tagged[t] = img
	}
	return tarball.MultiWriteToFile(out, tagged)
}

// filesTar packs src:dst pairs, with their parent directories.
func filesTar(files []string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range files {
		src, dst, ok := strings.Cut(f, ":")
		if !ok {
			return nil, fmt.Errorf("-file %q is not src:dst", f)
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		dst = strings.TrimPrefix(dst, "/")
		var parents []string
		for d := path.Dir(dst); d != "." && d != "/" && !dirs[d]; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				return nil, err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: dst, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), tw.Close()
}
