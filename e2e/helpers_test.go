// Package e2e tests the exporter as users meet it: the built binary, the
// real Prometheus, Alertmanager and promtool on its output, and the files a
// newcomer reads (README.md, examples/, the Dockerfile, the Makefile, the
// rules, dashboards and mixin), so that none of them drifts from the code.
package e2e

import (
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/internal/exportertest"
)

var update = flag.Bool("update", false, "rewrite the generated parts of README.md")

func readRepoFile(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(exportertest.RepoRoot(t), rel))
	require.NoError(t, err)
	return string(b)
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(exportertest.Main(m))
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
