package e2e

import (
	"github.com/debt-exporter/debt_exporter/internal/exportertest"

	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type dockerInstr struct {
	Cmd  string // upper case
	Args string
}

type dockerStage struct {
	From, Name string
	Instrs     []dockerInstr
}

// parseDockerfile splits a Dockerfile into stages of instructions, with
// line continuations joined and comments dropped.
func parseDockerfile(text string) []dockerStage {
	var stages []dockerStage
	var logical []string
	cur := ""
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		logical = append(logical, cur+trimmed)
		cur = ""
	}
	for _, l := range logical {
		cmd, args, _ := strings.Cut(l, " ")
		in := dockerInstr{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			s := dockerStage{From: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.Name = f[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].Instrs = append(stages[len(stages)-1].Instrs, in)
		}
	}
	return stages
}

func (s dockerStage) all(cmd string) []string {
	var out []string
	for _, in := range s.Instrs {
		if in.Cmd == cmd {
			out = append(out, in.Args)
		}
	}
	return out
}

// TestDockerfile checks the image's shape: a builder stage that builds with
// `make build`, and a minimal non-root runtime with the binary, the port and
// an exec-form entrypoint.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(readRepoFile(t, "Dockerfile"))
	require.GreaterOrEqual(t, len(stages), 2, "the Dockerfile must be multi-stage")
	builder, final := stages[0], stages[len(stages)-1]
	require.NotEmpty(t, builder.Name)

	// The builder's Go is the one go.mod asks for.
	goMod := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(readRepoFile(t, "go.mod"))
	require.NotNil(t, goMod)
	assert.Regexp(t, `^golang:`+regexp.QuoteMeta(goMod[1])+`([.-]|$)`, builder.From, "builder image vs go.mod's go %s", goMod[1])

	assert.Contains(t, []string{"gcr.io/distroless/static-debian12:nonroot", "quay.io/prometheus/busybox:latest", "quay.io/prometheus/busybox"}, final.From)
	users := final.all("USER")
	require.NotEmpty(t, users, "the runtime stage must set a non-root USER")
	assert.NotRegexp(t, `^(root|0)(:|$)`, users[len(users)-1])
	assert.Equal(t, []string{"9846"}, final.all("EXPOSE"))

	entry := final.all("ENTRYPOINT")
	require.Len(t, entry, 1)
	var argv []string
	require.NoError(t, json.Unmarshal([]byte(entry[0]), &argv), "ENTRYPOINT must be exec form (a JSON array)")
	assert.Equal(t, []string{"/bin/debt_exporter"}, argv)

	// The binary copied is the one `make build` wrote in the builder.
	workdir := builder.all("WORKDIR")
	require.NotEmpty(t, workdir)
	bin := regexp.MustCompile(`(?m)^BIN\s*\?=\s*(\S+)`).FindStringSubmatch(readRepoFile(t, "Makefile"))
	require.NotNil(t, bin, "Makefile has no BIN ?= default")
	assert.Contains(t, final.all("COPY"), "--from="+builder.Name+" "+filepath.Join(workdir[len(workdir)-1], bin[1])+" /bin/debt_exporter")
}

// TestDockerBuildCommand runs the Dockerfile's build command, as the builder
// stage would (same command line, its ARGs in the environment), and checks
// that it is `make build`, that the result is static, built with -trimpath
// and stamped with the version, and that `make docker` passes every ARG.
func TestDockerBuildCommand(t *testing.T) {
	makeBin := exportertest.Tool(t, "make")
	stages := parseDockerfile(readRepoFile(t, "Dockerfile"))
	require.NotEmpty(t, stages)
	builder := stages[0]
	var buildCmd string
	for _, run := range builder.all("RUN") {
		if strings.HasPrefix(run, "make build") {
			require.Empty(t, buildCmd, "two `make build` steps")
			buildCmd = run
		}
	}
	require.NotEmpty(t, buildCmd, "the builder stage must build with `make build`, the Makefile's command")

	args := map[string]string{
		"VERSION": "9.8.7-docs-test", "REVISION": "0123456789abcdef", "BRANCH": "docs-test-branch",
		"BUILD_USER": "docs@test", "BUILD_DATE": "20260102-03:04:05",
	}
	var declared []string
	for _, a := range builder.all("ARG") {
		name, _, _ := strings.Cut(a, "=")
		declared = append(declared, name)
	}
	assert.ElementsMatch(t, []string{"VERSION", "REVISION", "BRANCH", "BUILD_USER", "BUILD_DATE"}, declared)

	out := filepath.Join(t.TempDir(), "debt_exporter")
	cmd := exec.Command("sh", "-c", buildCmd)
	cmd.Dir = exportertest.RepoRoot(t)
	// BIN only moves the output out of the work tree; in the image it is
	// the Makefile's default, which TestDockerfile ties to the COPY.
	cmd.Env = append(cleanMakeEnv(), "BIN="+out)
	for k, v := range args {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s:\n%s", buildCmd, b)

	version, err := exec.Command(out, "--version").CombinedOutput()
	require.NoError(t, err, "%s", version)
	for _, want := range []string{"version 9.8.7-docs-test", "branch: docs-test-branch", "revision: 0123456789abcdef",
		"build user:       docs@test", "build date:       20260102-03:04:05"} {
		assert.Contains(t, string(version), want)
	}

	info, err := buildinfo.ReadFile(out)
	require.NoError(t, err)
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	assert.Equal(t, "0", settings["CGO_ENABLED"])
	assert.Equal(t, "true", settings["-trimpath"])
	f, err := elf.Open(out)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "the binary is dynamically linked; the distroless static image has no libc")
	}
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.False(t, bytes.Contains(raw, []byte(exportertest.RepoRoot(t))), "the binary holds the build directory: not built with -trimpath")

	// `make docker` hands the same values to the same ARGs.
	mk := exec.Command(makeBin, "--no-print-directory", "-n", "docker")
	mk.Dir, mk.Env = exportertest.RepoRoot(t), cleanMakeEnv()
	dry, err := mk.CombinedOutput()
	require.NoError(t, err, "%s", dry)
	for _, name := range declared {
		assert.Contains(t, string(dry), "--build-arg "+name+"=", "make docker does not pass %s", name)
	}
}

// cleanMakeEnv is the environment without what an enclosing `make test`
// passes down: its variable overrides would replace the test's values.
func cleanMakeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch name, _, _ := strings.Cut(kv, "="); name {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES":
		default:
			env = append(env, kv)
		}
	}
	return env
}
