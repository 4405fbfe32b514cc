package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validFlags() flagValues {
	return flagValues{
		endpoint: "https://api.dezai.com/", publicKey: "pub", timeout: 10 * time.Second,
		pageSize: 100, concurrency: 4, maxPages: 50000, window: "30d",
		timeoutOffset: 500 * time.Millisecond, maxTimeout: 2 * time.Minute, metricsPath: "/metrics", demoOrders: 10,
		maxSeries: 2000, ageBuckets: "1d,7d,30d",
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	require.NoError(t, os.WriteFile(keyFile, []byte("file-secret\n"), 0o600))
	emptyFile := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(emptyFile, []byte("\n"), 0o600))

	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	huge := filepath.Join(dir, "huge") // sparse: 1 GiB that takes no disk
	require.NoError(t, os.WriteFile(huge, nil, 0o600))
	require.NoError(t, os.Truncate(huge, 1<<30))
	justOver := filepath.Join(dir, "4097")
	require.NoError(t, os.WriteFile(justOver, bytes.Repeat([]byte("k"), 4097), 0o600))
	atLimit := filepath.Join(dir, "4096")
	require.NoError(t, os.WriteFile(atLimit, append(bytes.Repeat([]byte("k"), 4095), '\n'), 0o600))
	twoWords := filepath.Join(dir, "pem")
	require.NoError(t, os.WriteFile(twoWords, []byte("-----BEGIN PRIVATE KEY-----\nMIIE\n"), 0o600))

	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	withKey := env(map[string]string{privateKeyEnv: "env-secret"})

	type testCase struct {
		name    string
		mod     func(*flagValues)
		getenv  func(string) string
		wantErr string
		check   func(*testing.T, *config)
	}
	tests := []testCase{
		{name: "key from the environment", getenv: withKey, check: func(t *testing.T, c *config) {
			assert.Equal(t, "env-secret", c.privateKey)
			assert.Equal(t, 30*24*time.Hour, c.window)
		}},
		{name: "key from a file, newline trimmed", mod: func(f *flagValues) { f.privateKeyFile = keyFile },
			check: func(t *testing.T, c *config) { assert.Equal(t, "file-secret", c.privateKey) }},
		{name: "integer filters", getenv: withKey, mod: func(f *flagValues) { f.pricingUnits = []string{"1", "3"}; f.orderTypes = []string{"2"} },
			check: func(t *testing.T, c *config) {
				assert.Equal(t, []int{1, 3}, c.query.PricingUnits)
				assert.Equal(t, []int{2}, c.query.OrderTypes)
			}},
		{name: "window in hours", getenv: withKey, mod: func(f *flagValues) { f.window = "12h" },
			check: func(t *testing.T, c *config) {
				assert.Equal(t, 12*time.Hour, c.window)
				// The default age buckets past 12h can never fill: one warning names them.
				assert.Equal(t, []string{"--metrics.age-buckets: buckets 1d-7d, 7d-30d, 30d+ begin past --window 12h and can never fill"}, c.warnings)
			}},
		{name: "default window and buckets: no warning", getenv: withKey,
			check: func(t *testing.T, c *config) {
				assert.Empty(t, c.warnings)
				assert.Equal(t, []string{"0-1d", "1d-7d", "7d-30d", "30d+"}, c.ageBuckets.Labels)
			}},
		{name: "age buckets not ascending", getenv: withKey, mod: func(f *flagValues) { f.ageBuckets = "7d,1d" }, wantErr: "--metrics.age-buckets"},
		{name: "accounts file alone needs no flag keys", mod: func(f *flagValues) { f.configFile = keyFile; f.publicKey = "" },
			check: func(t *testing.T, c *config) { assert.False(t, c.flagAccount) }},
		{name: "demo needs no credentials", mod: func(f *flagValues) { f.demo = true; f.publicKey = "" }},
		{name: "no public key", getenv: withKey, mod: func(f *flagValues) { f.publicKey = "" }, wantErr: "no public key"},
		{name: "no private key", wantErr: "no private key: set --api.private-key-file or DEBT_EXPORTER_PRIVATE_KEY"},
		{name: "both key sources", getenv: withKey, mod: func(f *flagValues) { f.privateKeyFile = keyFile }, wantErr: "keep one"},
		{name: "unreadable key file", mod: func(f *flagValues) { f.privateKeyFile = filepath.Join(dir, "missing") }, wantErr: "--api.private-key-file: no such file"},
		{name: "empty key file", mod: func(f *flagValues) { f.privateKeyFile = emptyFile }, wantErr: "is empty"},
		{name: "key file at the size limit", mod: func(f *flagValues) { f.privateKeyFile = atLimit },
			check: func(t *testing.T, c *config) { assert.Len(t, c.privateKey, 4095) }},
		{name: "key file a FIFO", mod: func(f *flagValues) { f.privateKeyFile = fifo }, wantErr: "--api.private-key-file " + fifo + ": is a named pipe (FIFO), not a regular file"},
		{name: "key file a device", mod: func(f *flagValues) { f.privateKeyFile = "/dev/zero" }, wantErr: "--api.private-key-file /dev/zero: is a device"},
		{name: "key file a directory", mod: func(f *flagValues) { f.privateKeyFile = dir }, wantErr: "is a directory"},
		{name: "key file of 1 GiB", mod: func(f *flagValues) { f.privateKeyFile = huge }, wantErr: "is 1073741824 bytes, larger than 4096"},
		{name: "key file of 4097 bytes", mod: func(f *flagValues) { f.privateKeyFile = justOver }, wantErr: "is 4097 bytes, larger than 4096"},
		{name: "key file of two lines", mod: func(f *flagValues) { f.privateKeyFile = twoWords }, wantErr: "holds more than one word"},
		{name: "blank key in the environment", getenv: env(map[string]string{privateKeyEnv: " \n"}), wantErr: "DEBT_EXPORTER_PRIVATE_KEY is blank"},
		{name: "blank public key", getenv: withKey, mod: func(f *flagValues) { f.publicKey = "  " }, wantErr: "--api.public-key is blank"},
		{name: "blank public key from the environment", getenv: withKey,
			mod: func(f *flagValues) {
				f.publicKey = "\t"
				f.source = map[string]string{"--api.public-key": "DEBT_EXPORTER_PUBLIC_KEY"}
			},
			wantErr: "DEBT_EXPORTER_PUBLIC_KEY is blank"},
		{name: "public key with white space", getenv: withKey, mod: func(f *flagValues) { f.publicKey = "pub\n" }, wantErr: "--api.public-key has leading or trailing white space"},
		{name: "empty model filter", getenv: withKey, mod: func(f *flagValues) { f.models = []string{""} }, wantErr: "--filter.model has an empty value"},
		{name: "blank region filter", getenv: withKey, mod: func(f *flagValues) { f.regions = []string{"cn-zj", " "} }, wantErr: "--filter.region has an empty value"},
		{name: "demo orders past int32", mod: func(f *flagValues) { f.demo = true; f.demoOrders = 3000000000 }, wantErr: "--demo.orders 3000000000 is outside 1 to 1000000"},
		{name: "demo orders 0", mod: func(f *flagValues) { f.demo = true; f.demoOrders = 0 }, wantErr: "--demo.orders 0 is outside"},
		{name: "endpoint not a URL", getenv: withKey, mod: func(f *flagValues) { f.endpoint = "api.dezai.com" }, wantErr: "--api.endpoint is not an http or https URL (the value is not shown"},
		{name: "endpoint of another scheme", getenv: withKey, mod: func(f *flagValues) { f.endpoint = "ftp://api.dezai.com/" }, wantErr: `--api.endpoint "ftp://api.dezai.com/" is not an http or https URL with a host`},
		{name: "endpoint without a host", getenv: withKey, mod: func(f *flagValues) { f.endpoint = "https:///x" }, wantErr: "with a host"},
		{name: "endpoint with a query", getenv: withKey, mod: func(f *flagValues) { f.endpoint = "https://api.dezai.com/?a=1" }, wantErr: "--api.endpoint must not carry a query string"},
		{name: "endpoint from the environment", getenv: withKey,
			mod: func(f *flagValues) {
				f.endpoint = "nope"
				f.source = map[string]string{"--api.endpoint": "DEBT_EXPORTER_API_ENDPOINT"}
			},
			wantErr: "DEBT_EXPORTER_API_ENDPOINT is not an http or https URL"},
		{name: "endpoint with a password", getenv: withKey, mod: func(f *flagValues) { f.endpoint = "https://u:pw@api.dezai.com/" }, wantErr: "must not carry a user or password"},
		{name: "endpoint port past 65535", getenv: withKey, mod: func(f *flagValues) { f.endpoint = "http://127.0.0.1:99999/" }, wantErr: `--api.endpoint port "99999" is not one of 1-65535`},
		{name: "endpoint port 0", getenv: withKey, mod: func(f *flagValues) { f.endpoint = "http://127.0.0.1:0/" }, wantErr: `--api.endpoint port "0" is not one of 1-65535`},
		{name: "rate limit NaN", getenv: withKey, mod: func(f *flagValues) { f.rateLimit = math.NaN() }, wantErr: "--api.rate-limit NaN must be a number"},
		{name: "rate limit infinite", getenv: withKey, mod: func(f *flagValues) { f.rateLimit = math.Inf(1) }, wantErr: "--api.rate-limit +Inf must be a number"},
		{name: "accounts file missing", getenv: withKey, mod: func(f *flagValues) { f.configFile = filepath.Join(dir, "missing.yml") },
			wantErr: "--config.file: no such file (the value is not shown"},
		{name: "private key as the accounts file", getenv: env(map[string]string{privateKeyEnv: "env-secret-0123"}), mod: func(f *flagValues) { f.configFile = "env-secret-0123" },
			wantErr: "--config.file holds the private key"},
		{name: "private key in a filter", getenv: env(map[string]string{privateKeyEnv: "env-secret-0123"}), mod: func(f *flagValues) { f.models = []string{"env-secret-0123"} },
			wantErr: "--filter.model holds the private key"},
		{name: "page size too small", getenv: withKey, mod: func(f *flagValues) { f.pageSize = 9 }, wantErr: "--api.page-size 9 is outside 10 to 100"},
		{name: "page size too large", getenv: withKey, mod: func(f *flagValues) { f.pageSize = 101 }, wantErr: "outside 10 to 100"},
		{name: "unparsable window", getenv: withKey, mod: func(f *flagValues) { f.window = "a month" }, wantErr: "--window is not a duration"},
		{name: "zero window", getenv: withKey, mod: func(f *flagValues) { f.window = "0s" }, wantErr: "--window"},
		{name: "sub-second window", getenv: withKey, mod: func(f *flagValues) { f.window = "500ms" }, wantErr: "at least a second"},
		{name: "pricing unit not an integer", getenv: withKey, mod: func(f *flagValues) { f.pricingUnits = []string{"tokens"} }, wantErr: "--filter.pricing-unit takes integers"},
		{name: "order type not an integer", getenv: withKey, mod: func(f *flagValues) { f.orderTypes = []string{"1.5"} }, wantErr: "--filter.order-type"},
		{name: "unknown product code", getenv: withKey, mod: func(f *flagValues) { f.products = []string{"gpu"} }, wantErr: "--filter.product-code takes modelverse or sandbox"},
		{name: "concurrency 0", getenv: withKey, mod: func(f *flagValues) { f.concurrency = 0 }, wantErr: "--api.concurrency"},
		{name: "timeout 0", getenv: withKey, mod: func(f *flagValues) { f.timeout = 0 }, wantErr: "--api.timeout"},
		{name: "max pages 0", getenv: withKey, mod: func(f *flagValues) { f.maxPages = 0 }, wantErr: "--api.max-pages"},
		{name: "metrics path", getenv: withKey, mod: func(f *flagValues) { f.metricsPath = "metrics" }, wantErr: "--web.telemetry-path"},
		{name: "metrics path in a subtree", getenv: withKey, mod: func(f *flagValues) { f.metricsPath = "/debt/metrics;v=1/" },
			check: func(t *testing.T, c *config) { assert.Equal(t, "/debt/metrics;v=1/", c.metricsPath) }},
		{name: "metrics path /probe", getenv: withKey, mod: func(f *flagValues) { f.metricsPath = "/probe" },
			wantErr: "--web.telemetry-path /probe is the exporter's own /probe route"},
		{name: "metrics path /-/reload", getenv: withKey, mod: func(f *flagValues) { f.metricsPath = "/-/reload" },
			wantErr: "--web.telemetry-path /-/reload is the exporter's own /-/reload route"},
		{name: "metrics path under pprof", getenv: withKey, mod: func(f *flagValues) { f.metricsPath = "/debug/pprof/m"; f.enablePprof = true },
			wantErr: "--web.telemetry-path is under /debug/pprof/"},
	}
	// Each would make http.ServeMux panic, or never be reached.
	for _, p := range []string{"/", "", "/m{", "/metrics/{x}", "/a b", "/a\tb", "/metrics?x", "/metrics#x", "/a%20b", "//metrics", "/a//b", "/a/./b", "/a/../b", "/metrics/.."} {
		tests = append(tests, testCase{name: "metrics path " + p, getenv: withKey, mod: func(f *flagValues) { f.metricsPath = p },
			wantErr: "--web.telemetry-path must be a path such as /metrics"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := validFlags()
			if tt.mod != nil {
				tt.mod(&f)
			}
			getenv := tt.getenv
			if getenv == nil {
				getenv = env(nil)
			}
			c, err := loadConfig(f, getenv)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), "secret", "an error never quotes the key")
				return
			}
			require.NoError(t, err)
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}
