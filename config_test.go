package main

import (
	"os"
	"path/filepath"
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

	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	withKey := env(map[string]string{privateKeyEnv: "env-secret"})

	tests := []struct {
		name    string
		mod     func(*flagValues)
		getenv  func(string) string
		wantErr string
		check   func(*testing.T, *config)
	}{
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
			check: func(t *testing.T, c *config) { assert.Equal(t, 12*time.Hour, c.window) }},
		{name: "demo needs no credentials", mod: func(f *flagValues) { f.demo = true; f.publicKey = "" }},
		{name: "no public key", getenv: withKey, mod: func(f *flagValues) { f.publicKey = "" }, wantErr: "no public key"},
		{name: "no private key", wantErr: "no private key: set --api.private-key-file or DEBT_EXPORTER_PRIVATE_KEY"},
		{name: "both key sources", getenv: withKey, mod: func(f *flagValues) { f.privateKeyFile = keyFile }, wantErr: "keep one"},
		{name: "unreadable key file", mod: func(f *flagValues) { f.privateKeyFile = filepath.Join(dir, "missing") }, wantErr: "cannot read --api.private-key-file"},
		{name: "empty key file", mod: func(f *flagValues) { f.privateKeyFile = emptyFile }, wantErr: "is empty"},
		{name: "page size too small", getenv: withKey, mod: func(f *flagValues) { f.pageSize = 9 }, wantErr: "--api.page-size 9 is outside 10 to 100"},
		{name: "page size too large", getenv: withKey, mod: func(f *flagValues) { f.pageSize = 101 }, wantErr: "outside 10 to 100"},
		{name: "unparsable window", getenv: withKey, mod: func(f *flagValues) { f.window = "a month" }, wantErr: "--window \"a month\""},
		{name: "zero window", getenv: withKey, mod: func(f *flagValues) { f.window = "0s" }, wantErr: "--window"},
		{name: "sub-second window", getenv: withKey, mod: func(f *flagValues) { f.window = "500ms" }, wantErr: "at least a second"},
		{name: "pricing unit not an integer", getenv: withKey, mod: func(f *flagValues) { f.pricingUnits = []string{"tokens"} }, wantErr: "--filter.pricing-unit \"tokens\""},
		{name: "order type not an integer", getenv: withKey, mod: func(f *flagValues) { f.orderTypes = []string{"1.5"} }, wantErr: "--filter.order-type"},
		{name: "unknown product code", getenv: withKey, mod: func(f *flagValues) { f.products = []string{"gpu"} }, wantErr: "--filter.product-code \"gpu\""},
		{name: "concurrency 0", getenv: withKey, mod: func(f *flagValues) { f.concurrency = 0 }, wantErr: "--api.concurrency"},
		{name: "timeout 0", getenv: withKey, mod: func(f *flagValues) { f.timeout = 0 }, wantErr: "--api.timeout"},
		{name: "max pages 0", getenv: withKey, mod: func(f *flagValues) { f.maxPages = 0 }, wantErr: "--api.max-pages"},
		{name: "metrics path", getenv: withKey, mod: func(f *flagValues) { f.metricsPath = "metrics" }, wantErr: "--web.telemetry-path"},
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
