// Package apiserver runs a real etcd and kube-apiserver on 127.0.0.1 for the
// API server tier: fixtures are applied to it with the real upstream CRDs
// and installers run against it. Nothing schedules pods there (no
// controller-manager, scheduler or kubelet), so readiness waits are not part
// of this tier.
package apiserver

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// BinDirEnv names the directory holding kube-apiserver and etcd, as printed
// by scripts/build-k8s.sh.
const BinDirEnv = "MC_KUBE_BIN_DIR"

// Server is a running etcd + kube-apiserver pair.
type Server struct {
	Config *rest.Config
	dir    string
	procs  []*exec.Cmd
	logs   []*os.File
}

// Start launches etcd and kube-apiserver from binDir, listening on 127.0.0.1
// only, and waits (at most 90s) until the API server is ready. Every flag
// that could make the API server dial off this machine is set so it does
// not: webhooks and aggregated APIs are reached through endpoints (not
// through ClusterIPs via the default route), and no endpoint reconciler
// publishes an address.
func Start(binDir string) (*Server, error) {
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: build it with scripts/build-k8s.sh (make k8s-binaries)", b, binDir)
		}
	}
	dir, err := os.MkdirTemp("", "mc-apiserver-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	fail := func(err error) (*Server, error) { s.Stop(); return nil, err }

	ports, err := freePorts(3)
	if err != nil {
		return fail(err)
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	if err := s.spawn(filepath.Join(binDir, "etcd"),
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		"--initial-cluster", fmt.Sprintf("default=http://127.0.0.1:%d", ports[1]),
		"--unsafe-no-fsync", "--log-level", "error",
	); err != nil {
		return fail(err)
	}

	token, err := randomHex(16)
	if err != nil {
		return fail(err)
	}
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+",admin,admin,system:masters\n"), 0o600); err != nil {
		return fail(err)
	}
	saKey, saPub, err := writeServiceAccountKeys(dir)
	if err != nil {
		return fail(err)
	}
	if err := s.spawn(filepath.Join(binDir, "kube-apiserver"),
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(ports[2]),
		"--cert-dir", filepath.Join(dir, "certs"),
		"--token-auth-file", tokens,
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", saPub, "--service-account-signing-key-file", saKey,
		"--service-cluster-ip-range", "10.96.0.0/16",
		"--endpoint-reconciler-type", "none",
		"--enable-aggregator-routing=true",
		"--enable-priority-and-fairness=false",
		"--v", "0",
	); err != nil {
		return fail(err)
	}
	s.Config = &rest.Config{
		Host:            fmt.Sprintf("https://127.0.0.1:%d", ports[2]),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             200, Burst: 400,
	}
	if err := s.waitReady(90 * time.Second); err != nil {
		return fail(fmt.Errorf("%w; logs in %s", err, dir))
	}
	return s, nil
}

// spawn starts a process in its own process group, killed if the test
// binary dies (Pdeathsig), with its output in the server's directory.
func (s *Server) spawn(bin string, args ...string) error {
	log, err := os.Create(filepath.Join(s.dir, filepath.Base(bin)+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	s.procs = append(s.procs, cmd)
	s.logs = append(s.logs, log)
	return nil
}

func (s *Server) waitReady(limit time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: insecureTLS()}}
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		for _, p := range s.procs {
			if p.ProcessState != nil {
				return fmt.Errorf("%s exited early", p.Path)
			}
		}
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, s.Config.Host+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+s.Config.BearerToken)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/readyz answered %d", resp.StatusCode)
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready within %s: %v", limit, last)
}

// Stop kills both processes (their whole process groups) and removes the
// data directory. It is safe to call more than once.
func (s *Server) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		if p.Process != nil {
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
			_, _ = p.Process.Wait()
		}
	}
	s.procs = nil
	for _, l := range s.logs {
		l.Close()
	}
	s.logs = nil
	if s.dir != "" && os.Getenv("MC_KEEP_APISERVER_LOGS") == "" {
		os.RemoveAll(s.dir)
	}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func writeServiceAccountKeys(dir string) (string, string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", err
	}
	keyPath, pubPath := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	err = errors.Join(
		os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600),
		os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644),
	)
	return keyPath, pubPath, err
}
