// Package docs_test keeps the newcomer-facing files honest: README.md,
// examples/, the Dockerfile and the Makefile are checked against the built
// exporter and the real Prometheus tools, so they cannot drift from the code.
package docs_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the generated parts of README.md")

// repoRoot is the module root, one level above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Dir(filepath.Dir(file))
}

func readRepoFile(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	require.NoError(t, err)
	return string(b)
}

// needTool returns the path of an external tool. Outside CI a missing tool
// skips the test; in CI it fails it, so that a green CI means it ran.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed; .ci/run must install it", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// exporterBinary builds the exporter once per test run.
func exporterBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "debt_exporter-docs-test")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "debt_exporter")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = repoRoot(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// exporter is a running debt_exporter process.
type exporter struct {
	URL    string // e.g. http://127.0.0.1:12345
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// startExporter runs the built binary on a free loopback port with args and
// env (added to a minimal environment), and waits until it accepts
// connections. It is stopped when the test ends.
func startExporter(t *testing.T, env []string, args ...string) *exporter {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, exporterBinary(t), append([]string{"--web.listen-address=" + addr}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	e := &exporter{URL: "http://" + addr, stderr: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = io.Discard, e.stderr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("exporter log:\n%s", e.stderr.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return e
		}
		select {
		case <-exited:
			t.Fatalf("exporter exited at start:\n%s", e.stderr.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "exporter did not listen on %s:\n%s", addr, e.stderr.String())
		time.Sleep(50 * time.Millisecond)
	}
}

func httpGet(t *testing.T, client *http.Client, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// readmeSection returns the text between "## <heading>" and the next
// heading of the same or a higher level.
func readmeSection(t testing.TB, readme, heading string) string {
	t.Helper()
	start := strings.Index(readme, "\n## "+heading+"\n")
	require.GreaterOrEqual(t, start, 0, "README.md has no section %q", "## "+heading)
	rest := readme[start+len("\n## "+heading+"\n"):]
	for _, next := range []string{"\n## ", "\n# "} {
		if end := strings.Index(rest, next); end >= 0 {
			rest = rest[:end]
		}
	}
	return rest
}

// tableRows parses the first Markdown table in text into rows of trimmed
// cells, header and separator excluded.
func tableRows(text string) [][]string {
	var rows [][]string
	inTable := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		if !inTable { // header
			inTable = true
			continue
		}
		cells := splitRow(line)
		if len(cells) > 0 && strings.Trim(cells[0], "-: ") == "" {
			continue // separator
		}
		rows = append(rows, cells)
	}
	return rows
}

// splitRow splits a Markdown table row on unescaped pipes.
func splitRow(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// unquote strips one pair of backticks.
func unquote(cell string) string {
	return strings.TrimSuffix(strings.TrimPrefix(cell, "`"), "`")
}
