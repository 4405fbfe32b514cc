package e2e

import (
	"github.com/debt-exporter/debt_exporter/internal/exportertest"

	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	flagsBegin = "<!-- BEGIN FLAGS: generated from --help by `go test ./e2e -run TestREADMEFlags -update`; do not edit -->"
	flagsEnd   = "<!-- END FLAGS -->"
)

// helpFlag is one flag as kingpin's --help shows it.
type helpFlag struct {
	Name       string // without dashes
	Bool       bool   // shown as --[no-]name
	Default    string
	HasDefault bool
	Env        string
	Repeatable bool
	Help       string
}

var (
	// Flag lines are indented 2 (with a short flag) or 6 spaces; help
	// continuation lines far more, and may themselves start with "--".
	flagLineRE = regexp.MustCompile(`^ {2,6}(?:-\w, )?--(\[no-\])?([A-Za-z0-9][A-Za-z0-9._-]*)(?:=("[^"]*"|\S*))?( \.\.\.)?(?:\s{2,}(.*))?$`)
	envRE      = regexp.MustCompile(`\s*\(\$([A-Z0-9_]+)\)`)
)

// parseHelp reads the flags out of kingpin's --help output.
func parseHelp(help string) ([]helpFlag, error) {
	var flags []helpFlag
	inFlags := false
	for _, line := range strings.Split(help, "\n") {
		if strings.TrimSpace(line) == "Flags:" {
			inFlags = true
			continue
		}
		if !inFlags || strings.TrimSpace(line) == "" {
			continue
		}
		if m := flagLineRE.FindStringSubmatch(line); m != nil {
			f := helpFlag{Name: m[2], Bool: m[1] != "", Repeatable: m[4] != "", Help: strings.TrimSpace(m[5])}
			switch v := m[3]; {
			case f.Bool:
				f.Default, f.HasDefault = "false", true
			case strings.HasPrefix(v, `"`):
				f.Default, f.HasDefault = strings.Trim(v, `"`), true
			// kingpin shows a flag without default as its upper-cased name.
			case v != "" && v != strings.ToUpper(f.Name):
				f.Default, f.HasDefault = v, true
			}
			flags = append(flags, f)
			continue
		}
		if len(flags) == 0 || !strings.HasPrefix(line, strings.Repeat(" ", 7)) {
			return nil, fmt.Errorf("unexpected --help line %q", line)
		}
		last := &flags[len(flags)-1]
		last.Help = strings.TrimSpace(last.Help + " " + strings.TrimSpace(line))
	}
	for i := range flags {
		if m := envRE.FindStringSubmatch(flags[i].Help); m != nil {
			flags[i].Env = m[1]
			flags[i].Help = strings.TrimSpace(envRE.ReplaceAllString(flags[i].Help, ""))
		}
	}
	return flags, nil
}

func TestParseHelp(t *testing.T) {
	help := `usage: x [<flags>]

Flags:
  -h, --[no-]help                Show help (also try
                                 --help-long and --help-man).
      --web.listen-address=:9846 ...  
                                 Addresses. Repeatable.
      --web.config.file=""       Path to config.
      --window="30d"             Window.
      --api.timeout=10s          Timeout.
      --api.public-key=API.PUBLIC-KEY  
                                 API public key (required).
                                 ($DEBT_EXPORTER_PUBLIC_KEY)
`
	flags, err := parseHelp(help)
	require.NoError(t, err)
	assert.Equal(t, []helpFlag{
		{Name: "help", Bool: true, Default: "false", HasDefault: true, Help: "Show help (also try --help-long and --help-man)."},
		{Name: "web.listen-address", Default: ":9846", HasDefault: true, Repeatable: true, Help: "Addresses. Repeatable."},
		{Name: "web.config.file", Default: "", HasDefault: true, Help: "Path to config."},
		{Name: "window", Default: "30d", HasDefault: true, Help: "Window."},
		{Name: "api.timeout", Default: "10s", HasDefault: true, Help: "Timeout."},
		{Name: "api.public-key", Env: "DEBT_EXPORTER_PUBLIC_KEY", Help: "API public key (required)."},
	}, flags)

	_, err = parseHelp("Flags:\nnot a flag line\n")
	assert.Error(t, err)
}

func exporterHelp(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(exportertest.Binary(t), "--help").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}

// flagsTable renders the README's configuration table.
func flagsTable(flags []helpFlag) string {
	var b strings.Builder
	b.WriteString("| flag | env | default | meaning |\n|---|---|---|---|\n")
	code := func(s string) string {
		if s == "" {
			return ""
		}
		return "`" + s + "`"
	}
	for _, f := range flags {
		name := "--" + f.Name
		if f.Bool {
			name = "--[no-]" + f.Name
		}
		def := code(f.Default)
		if f.HasDefault && f.Default == "" {
			def = `""`
		}
		help := f.Help
		if f.Repeatable && !strings.Contains(strings.ToLower(help), "repeatable") {
			help += " Repeatable."
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", code(name), code(f.Env), def, strings.ReplaceAll(help, "|", `\|`))
	}
	return b.String()
}

// TestREADMEFlags: the configuration table in README.md is exactly what
// --help says (every flag, its env var and default), so neither can drift.
func TestREADMEFlags(t *testing.T) {
	flags, err := parseHelp(exporterHelp(t))
	require.NoError(t, err)
	require.Greater(t, len(flags), 10, "parsed too few flags from --help")

	path := filepath.Join(exportertest.RepoRoot(t), "README.md")
	readme := readRepoFile(t, "README.md")
	begin := strings.Index(readme, flagsBegin)
	end := strings.Index(readme, flagsEnd)
	require.True(t, begin >= 0 && end > begin, "README.md lacks the markers %q ... %q", flagsBegin, flagsEnd)
	want := flagsTable(flags)
	got := readme[begin+len(flagsBegin)+1 : end]
	if *update {
		readme = readme[:begin+len(flagsBegin)+1] + want + readme[end:]
		require.NoError(t, os.WriteFile(path, []byte(readme), 0o644))
		return
	}
	assert.Equal(t, want, got, "README.md's flag table differs from --help: run go test ./e2e -run TestREADMEFlags -update")

	// The table sits in the Configuration section, where readers look.
	assert.Contains(t, readmeSection(t, readme, "Configuration"), flagsBegin)

	// Every flag the README names anywhere exists.
	known := map[string]bool{"help-long": true, "help-man": true}
	for _, f := range flags {
		known[f.Name] = true
	}
	for _, m := range regexp.MustCompile("`--(?:\\[no-\\])?([a-z][a-z0-9._-]*\\*?)").FindAllStringSubmatch(readme, -1) {
		name := m[1]
		if prefix, ok := strings.CutSuffix(name, "*"); ok { // `--filter.*`
			found := false
			for k := range known {
				found = found || strings.HasPrefix(k, prefix)
			}
			assert.True(t, found, "README.md names --%s, but no flag starts with --%s", name, prefix)
			continue
		}
		assert.True(t, known[name], "README.md names --%s, which --help does not list", name)
	}
}

// TestREADMEEnvVars: every DEBT_EXPORTER_* variable the exporter reads (as
// --help names them, including the private key's, which has no flag) is in
// the README, and the README names no other.
func TestREADMEEnvVars(t *testing.T) {
	help := exporterHelp(t)
	readme := readRepoFile(t, "README.md")
	envRE := regexp.MustCompile(`DEBT_EXPORTER_[A-Z0-9_]+`)
	inHelp := map[string]bool{}
	for _, v := range envRE.FindAllString(help, -1) {
		inHelp[v] = true
	}
	require.Contains(t, inHelp, "DEBT_EXPORTER_PRIVATE_KEY")
	config := readmeSection(t, readme, "Configuration")
	for v := range inHelp {
		assert.Contains(t, config, "`"+v+"`", "README.md's Configuration section does not document %s", v)
	}
	for _, v := range envRE.FindAllString(readme, -1) {
		assert.True(t, inHelp[v], "README.md names %s, which --help does not mention", v)
	}
}
