package e2e

import (
	"github.com/debt-exporter/debt_exporter/internal/exportertest"

	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestREADMEQuickStart: the quick start is exactly the two commands the
// project promises, the URL it sends readers to is the exporter's default,
// `make test` is the whole test suite, and CI runs that same command.
func TestREADMEQuickStart(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	quick := readmeSection(t, readme, "Quick start")
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(quick, -1)
	require.Len(t, blocks, 1, "the quick start has one code block")
	assert.Equal(t, "go run . --demo\nmake test\n", blocks[0][1])

	flags, err := parseHelp(exporterHelp(t))
	require.NoError(t, err)
	defaults := map[string]string{}
	for _, f := range flags {
		defaults[f.Name] = f.Default
	}
	require.Contains(t, defaults, "web.listen-address")
	port := defaults["web.listen-address"][strings.LastIndex(defaults["web.listen-address"], ":")+1:]
	assert.Contains(t, quick, "<http://localhost:"+port+defaults["web.telemetry-path"]+">")

	makeBin := exportertest.Tool(t, "make")
	mk := exec.Command(makeBin, "--no-print-directory", "-n", "test")
	mk.Dir, mk.Env = exportertest.RepoRoot(t), cleanMakeEnv()
	out, err := mk.Output()
	require.NoError(t, err)
	// The exporter's module, the decoder without its assembly, the
	// chart's module (charts/test, a module of its own), then the timing
	// tests alone.
	assert.Equal(t, "go test -count=1 ./...\ngo test -count=1 -tags purego ./apiclient/ ./collector/\n"+
		"cd charts/test && go test -count=1 ./...\n"+
		"DEBT_EXPORTER_TIMING_TESTS=1 go test -count=1 -run 'TestThrottledGateway|TestRandomThrottles|TestRetryAfter' ./apiclient/", strings.TrimSpace(string(out)))

	ci := readRepoFile(t, ".ci/run")
	assert.Regexp(t, `(?m)^make test$`, ci, ".ci/run must run the README's test command")
	assert.Regexp(t, `(?m)^make lint$`, ci)
}

// TestREADMESections: the sections newcomers and other engineers rely on
// are there, under these exact headings.
func TestREADMESections(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	var headings []string
	for _, m := range regexp.MustCompile(`(?m)^(#{1,3} .+)$`).FindAllStringSubmatch(readme, -1) {
		headings = append(headings, m[1])
	}
	for _, h := range []string{"## Quick start", "## Configuration", "## Metrics", "### Label cardinality",
		"## Prometheus scrape configuration", "## Alerts", "## Dashboards", "## Running in Docker", "## Security",
		"## Troubleshooting", "## Performance", "# Changelog", "## Unreleased"} {
		assert.Contains(t, headings, h)
	}
	assert.Greater(t, strings.Index(readme, "\n## Unreleased\n"), strings.Index(readme, "\n# Changelog\n"), "## Unreleased belongs under # Changelog")
}

// TestREADMELinks: every relative link in the README points at a file or
// directory of the repository, and the README names each shipped dashboard,
// rule file and runbook.
func TestREADMELinks(t *testing.T) {
	root := exportertest.RepoRoot(t)
	readme := readRepoFile(t, "README.md")
	links := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`).FindAllStringSubmatch(readme, -1)
	require.NotEmpty(t, links)
	for _, m := range links {
		target := m[1]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
			continue
		}
		_, err := os.Stat(filepath.Join(root, target))
		assert.NoError(t, err, "README.md links to %s", target)
	}

	shipped := []string{"alerts/RUNBOOK.md"}
	for _, glob := range []string{"dashboards/*.json", "alerts/*.yaml"} {
		m, err := filepath.Glob(filepath.Join(root, glob))
		require.NoError(t, err)
		require.NotEmpty(t, m, glob)
		for _, f := range m {
			shipped = append(shipped, filepath.Base(f))
		}
	}
	for _, name := range shipped {
		assert.Contains(t, readme, name, "README.md does not mention %s", name)
	}
}

// TestDocsNameRealTests: every test file the README, the chart's README
// and the examples cite exists, and every `go test` command of the README
// (and of README.md's generated markers) names packages that exist, and
// tests that are defined in them.
func TestDocsNameRealTests(t *testing.T) {
	root := exportertest.RepoRoot(t)
	files := []string{"README.md", "charts/debt-exporter/README.md", "alerts/RUNBOOK.md"}
	examples, err := filepath.Glob(filepath.Join(root, "examples", "*"))
	require.NoError(t, err)
	for _, f := range examples {
		if st, err := os.Stat(f); err == nil && !st.IsDir() {
			files = append(files, filepath.Join("examples", filepath.Base(f)))
		}
	}
	testFileRE := regexp.MustCompile(`[A-Za-z0-9_./-]+_test\.go`)
	goTestRE := regexp.MustCompile("go test ([^`\n]*)")
	n := 0
	for _, f := range files {
		text := readRepoFile(t, f)
		for _, p := range testFileRE.FindAllString(text, -1) {
			_, err := os.Stat(filepath.Join(root, p))
			assert.NoError(t, err, "%s cites %s, which does not exist", f, p)
			n++
		}
		for _, m := range goTestRE.FindAllStringSubmatch(text, -1) {
			args := strings.Fields(m[1])
			var pkgs []string
			run := ""
			for i, a := range args {
				switch {
				case strings.HasPrefix(a, "./"):
					pkgs = append(pkgs, strings.TrimSuffix(strings.TrimSuffix(a, "..."), "/"))
				case a == "-run" && i+1 < len(args):
					run = args[i+1]
				}
			}
			for _, p := range pkgs {
				st, err := os.Stat(filepath.Join(root, p))
				if !assert.NoError(t, err, "%s: `%s` names package %s, which does not exist", f, m[0], p) {
					continue
				}
				assert.True(t, st.IsDir(), "%s: %s", f, p)
				// -run with a plain test name: it is defined there.
				if regexp.MustCompile(`^Test[A-Za-z0-9_]+$`).MatchString(run) {
					tests, err := filepath.Glob(filepath.Join(root, p, "*_test.go"))
					require.NoError(t, err)
					found := false
					for _, tf := range tests {
						b, err := os.ReadFile(tf)
						require.NoError(t, err)
						found = found || strings.Contains(string(b), "func "+run+"(")
					}
					assert.True(t, found, "%s: `%s`: no %s in %s", f, m[0], run, p)
				}
			}
			n++
		}
	}
	assert.Greater(t, n, 5, "too few citations found")
}
