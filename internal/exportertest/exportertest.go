// Package exportertest runs the real thing in tests: it builds the
// debt_exporter binary once per test process, starts it on a free loopback
// port, and finds the Prometheus tools the end-to-end tests need.
//
//	func TestMain(m *testing.M) { os.Exit(exportertest.Main(m)) }
//
//	e := exportertest.Start(t, nil, "--demo")
//	resp, err := http.Get(e.URL + "/metrics")
package exportertest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RepoRoot is the module root, two levels above this file.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the repository")
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// Tool finds an executable on PATH. When it is missing the test fails in CI,
// where .ci/run installs it (a skip would let a green CI hide that nothing
// ran), and is skipped elsewhere.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; .ci/run must install it: %v", name, err)
	}
	t.Skipf("%s is not installed (apt-get install prometheus prometheus-alertmanager); skipping", name)
	return ""
}

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

// Binary builds the exporter from the repository once per test process and
// returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "debt_exporter-test"); buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "debt_exporter")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Main runs the tests and removes the binary Binary built.
func Main(m *testing.M) int {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}

// FreeAddr returns a loopback address with a port nobody listens on, for
// a process the test starts to listen on. The port is free when FreeAddr
// returns, not reserved: it is taken below the kernel's ephemeral range,
// where no other listener on port 0 and no outgoing connection is given a
// port, so that nothing else on the machine takes it before the process
// binds it; and never twice in one test process.
func FreeAddr(t testing.TB) string {
	t.Helper()
	low, high := fixedPortRange()
	freePorts.Lock()
	defer freePorts.Unlock()
	for range 1000 {
		port := low + freePorts.rand.IntN(high-low)
		if freePorts.given[port] {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue // in use
		}
		l.Close()
		freePorts.given[port] = true
		return addr
	}
	t.Fatalf("no free port in %d-%d", low, high-1)
	return ""
}

var freePorts = struct {
	sync.Mutex
	rand  *rand.Rand
	given map[int]bool
}{rand: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid()))), given: map[int]bool{}}

// fixedPortRange is [low, high): the ports up to 12,000 below the first
// ephemeral port (ip_local_port_range; Linux's default starts at 32768),
// and above the 10,000 where well-known services (9090, 9093) live.
func fixedPortRange() (low, high int) {
	high = 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				high = n
			}
		}
	}
	return max(10000, high-12000), high
}

// SyncBuffer collects output written from several goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Exporter is a running debt_exporter process.
type Exporter struct {
	Addr   string      // 127.0.0.1:port
	URL    string      // http://Addr
	Cmd    *exec.Cmd   // to signal it
	Log    *SyncBuffer // its stdout and stderr
	Exited chan struct{}
}

// Start runs the binary on a free loopback port with args, in an
// environment of PATH plus env, and waits until it accepts connections. It
// is killed when the test ends; its log is shown if the test failed.
func Start(t *testing.T, env []string, args ...string) *Exporter {
	t.Helper()
	addr := FreeAddr(t)
	e := &Exporter{Addr: addr, URL: "http://" + addr, Log: &SyncBuffer{}, Exited: make(chan struct{})}
	e.Cmd = exec.Command(Binary(t), append([]string{"--web.listen-address=" + addr}, args...)...)
	e.Cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	e.Cmd.Stdout, e.Cmd.Stderr = e.Log, e.Log
	if err := e.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.Cmd.Wait(); close(e.Exited) }()
	t.Cleanup(func() {
		_ = e.Cmd.Process.Kill()
		<-e.Exited
		if t.Failed() {
			t.Logf("exporter log:\n%s", e.Log)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return e
		}
		select {
		case <-e.Exited:
			t.Fatalf("exporter exited at start:\n%s", e.Log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter did not listen on %s:\n%s", addr, e.Log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
