package accounts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/apiclient"
)

// The key values of the tests: none may ever appear in an error.
const (
	prodKey    = "prod-private-key-5f1e0c"
	stagingKey = "staging-private-key-a9b2"
	envKey     = "env-private-key-77c3d1"
	inlineKey  = "inline-private-key-0d4e"
	// nameKey is shaped like an environment variable's name.
	nameKey   = "Kx7Qm2ZpL9vT4wR8nJ3c"
	publicKey = "AKIDprodpublic"
)

var secrets = []string{prodKey, stagingKey, envKey, inlineKey, nameKey}

var defaults = Defaults{
	Endpoint: "https://api.dezai.com/",
	Window:   30 * 24 * time.Hour,
	Query:    apiclient.Query{Regions: []string{"cn-zj"}, PricingUnits: []int{3}},
}

// dir is a temporary directory with key files, and its accounts file.
type dir struct {
	path string
	file string
}

func newDir(t *testing.T) *dir {
	t.Helper()
	d := &dir{path: t.TempDir()}
	d.write(t, "prod.key", prodKey+"\n")
	d.write(t, "staging.key", "  "+stagingKey+"\r\n")
	d.write(t, "prod.pub", publicKey+"\n")
	d.write(t, "empty.key", " \n")
	d.write(t, "two-lines.key", prodKey+"\n"+stagingKey+"\n")
	d.write(t, "two-words.key", prodKey+" "+stagingKey+"\n")
	d.write(t, "big.key", strings.Repeat(prodKey, 300))
	require.NoError(t, os.Mkdir(filepath.Join(d.path, "keydir"), 0o700))
	require.NoError(t, os.Symlink(filepath.Join(d.path, "prod.key"), filepath.Join(d.path, "link.key")))
	d.file = filepath.Join(d.path, "accounts.yml")
	return d
}

func (d *dir) write(t *testing.T, name, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(d.path, name), []byte(content), 0o600))
}

// load writes the accounts file (with $DIR standing for the directory) and
// loads it.
func (d *dir) load(t *testing.T, content string) ([]Account, error) {
	t.Helper()
	d.write(t, "accounts.yml", strings.ReplaceAll(content, "$DIR", d.path))
	def := defaults
	def.Getenv = func(name string) string {
		return map[string]string{"PROD_KEY": envKey, "MULTI": envKey + "\n" + envKey, "SPACED": envKey + " " + envKey, "NAME_KEY": nameKey}[name]
	}
	return Load(d.file, def)
}

func TestLoadGood(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []Account
	}{
		{
			name: "defaults applied",
			file: `
accounts:
  - name: prod
    public_key: AKIDprodpublic
    private_key_file: $DIR/prod.key
`,
			want: []Account{{Name: "prod", PublicKey: publicKey, PrivateKey: prodKey, Endpoint: defaults.Endpoint,
				Window: defaults.Window, Query: apiclient.Query{Regions: []string{"cn-zj"}, PricingUnits: []int{3}}}},
		},
		{
			name: "every field, env and file keys",
			file: `
accounts:
  - name: prod.eu-1_a
    public_key_file: $DIR/prod.pub
    private_key_env: PROD_KEY
    project_id: org-abc123
    endpoint: http://127.0.0.1:8080/
    window: 12h
    filters:
      resource_id: [key-a, key-b]
      model: [Qwen/QwQ-32B]
      pricing_unit: [1, 2]
      order_type: [2]
      region: [cn-zj]
      pricing_sku: [sku-1]
      product_code: [modelverse, sandbox]
  - name: staging
    public_key: pub-staging
    private_key_file: $DIR/staging.key
    project_id: 123
    filters: {}
  - name: linked
    public_key: pub-linked
    private_key_file: $DIR/link.key
`,
			want: []Account{
				{Name: "prod.eu-1_a", PublicKey: publicKey, PrivateKey: envKey, ProjectID: "org-abc123",
					Endpoint: "http://127.0.0.1:8080/", Window: 12 * time.Hour, Query: apiclient.Query{
						ResourceIDs: []string{"key-a", "key-b"}, ModelIDs: []string{"Qwen/QwQ-32B"}, PricingUnits: []int{1, 2},
						OrderTypes: []int{2}, Regions: []string{"cn-zj"}, PricingSKUs: []string{"sku-1"},
						ProductCodes: []string{"modelverse", "sandbox"}}},
				// filters: {} means no filter, not the flags'.
				{Name: "staging", PublicKey: "pub-staging", PrivateKey: stagingKey, ProjectID: "123",
					Endpoint: defaults.Endpoint, Window: defaults.Window},
				{Name: "linked", PublicKey: "pub-linked", PrivateKey: prodKey, Endpoint: defaults.Endpoint,
					Window: defaults.Window, Query: apiclient.Query{Regions: []string{"cn-zj"}, PricingUnits: []int{3}}},
			},
		},
		{name: "no accounts", file: "accounts: []\n", want: []Account{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newDir(t).load(t, tt.file)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestLoadBad(t *testing.T) {
	const head = "accounts:\n  - name: prod\n    public_key: AKIDprodpublic\n"
	tests := []struct {
		name    string
		file    string
		account string // how the error names the account; "" for file-level errors
		want    []string
	}{
		{"private key value", head + "    private_key: " + inlineKey + "\n", `account "prod"`,
			[]string{"private_key", "private_key_file", "private_key_env"}},
		{"private key value, before the name", "accounts:\n  - privateKey: " + inlineKey + "\n    name: prod\n", `account "prod"`,
			[]string{"privateKey", "not accepted"}},
		{"secret_key value", head + "    secret_key: " + inlineKey + "\n", `account "prod"`, []string{"secret_key", "private_key_file"}},
		{"unknown field", head + "    private_key_file: $DIR/prod.key\n    regoin: cn-zj\n", `account "prod"`,
			[]string{"regoin", "unknown field"}},
		{"unknown filter", head + "    private_key_file: $DIR/prod.key\n    filters: {regions: [hk]}\n", `account "prod"`,
			[]string{"filters.regions", "unknown filter"}},
		{"unknown top-level key", "acounts: []\n", "", []string{"acounts"}},
		{"field twice", head + "    private_key_file: $DIR/prod.key\n    public_key: other\n", `account "prod"`,
			[]string{"public_key", "twice"}},
		{"duplicate names", head + "    private_key_file: $DIR/prod.key\n" + strings.TrimPrefix(head, "accounts:\n") + "    private_key_file: $DIR/prod.key\n",
			`account "prod"`, []string{"name", "unique"}},
		{"bad name", "accounts:\n  - name: prod/eu\n    public_key: p\n    private_key_file: $DIR/prod.key\n", `account "prod/eu"`,
			[]string{"name", "letters"}},
		{"name missing", "accounts:\n  - public_key: p\n    private_key_file: $DIR/prod.key\n", "account #1",
			[]string{"name", "required"}},
		{"name a list", "accounts:\n  - name: [a]\n    public_key: p\n", "account #1", []string{"name", "single value"}},
		{"public key missing", "accounts:\n  - name: prod\n    private_key_file: $DIR/prod.key\n", `account "prod"`,
			[]string{"public_key", "required"}},
		{"both public keys", head + "    public_key_file: $DIR/prod.pub\n    private_key_file: $DIR/prod.key\n", `account "prod"`,
			[]string{"public_key", "keep one"}},
		{"private key missing", head, `account "prod"`, []string{"private_key_file", "private_key_env", "required"}},
		{"both private keys", head + "    private_key_file: $DIR/prod.key\n    private_key_env: PROD_KEY\n", `account "prod"`,
			[]string{"private_key_file", "keep one"}},
		{"key file missing", head + "    private_key_file: $DIR/nope.key\n", `account "prod"`,
			[]string{"private_key_file", "no such file", "not shown"}},
		// The most common mistake with a key file: the key pasted instead
		// of its path, this account's or another's.
		{"the key as the key file", head + "    private_key_file: " + inlineKey + "\n", `account "prod"`,
			[]string{"private_key_file", "no such file", "not shown"}},
		{"another account's key as the key file", "accounts:\n  - {name: staging, public_key: p, private_key_file: $DIR/staging.key}\n" +
			strings.TrimPrefix(head, "accounts:\n") + "    private_key_file: " + stagingKey + "\n", `account "prod"`, []string{"private_key_file", "not shown"}},
		{"another account's key as the public key file", "accounts:\n  - {name: staging, public_key: p, private_key_file: $DIR/staging.key}\n" +
			"  - {name: prod, public_key_file: " + stagingKey + ", private_key_file: $DIR/prod.key}\n", `account "prod"`,
			[]string{"public_key_file", "not shown"}},
		{"the key as the variable's name", head + "    private_key_env: " + inlineKey + "\n", `account "prod"`,
			[]string{"private_key_env", "not an environment variable name", "not shown"}},
		{"a name-shaped key as the variable's name", head + "    private_key_env: " + nameKey + "\n", `account "prod"`,
			[]string{"private_key_env", "unset", "not shown"}},
		// A key where the flags refuse one too: the endpoint would carry
		// it in every request's URL, project_id to the API.
		{"the key in the endpoint", head + "    private_key_file: $DIR/prod.key\n    endpoint: https://api.dezai.com/" + prodKey + "/\n", `account "prod"`,
			[]string{"endpoint", "holds a private key"}},
		{"another account's key as project_id", "accounts:\n  - {name: staging, public_key: p, private_key_file: $DIR/staging.key}\n" +
			strings.TrimPrefix(head, "accounts:\n") + "    private_key_file: $DIR/prod.key\n    project_id: " + stagingKey + "\n", `account "prod"`,
			[]string{"project_id", "holds a private key"}},
		{"a later account's key as project_id", head + "    private_key_file: $DIR/prod.key\n    project_id: " + envKey + "\n" +
			"  - {name: b, public_key: p, private_key_env: PROD_KEY}\n", `account "prod"`, []string{"project_id", "holds a private key"}},
		{"the key as the public key", "accounts:\n  - {name: prod, public_key: " + prodKey + ", private_key_file: $DIR/prod.key}\n", `account "prod"`,
			[]string{"public_key", "holds a private key"}},
		{"the key in a filter", head + "    private_key_file: $DIR/prod.key\n    filters: {region: [cn-zj, " + prodKey + "]}\n", `account "prod"`,
			[]string{"filters.region", "holds a private key"}},
		{"a later account's key in an earlier account's name", "accounts:\n  - {name: " + nameKey + "/a, public_key: p, private_key_file: $DIR/prod.key}\n" +
			"  - {name: b, public_key: p, private_key_env: NAME_KEY}\n", "account", []string{"name", "[private key, not shown]"}},
		{"key file a directory", head + "    private_key_file: $DIR/keydir\n", `account "prod"`,
			[]string{"private_key_file", "keydir", "not a regular file"}},
		{"key file too big", head + "    private_key_file: $DIR/big.key\n", `account "prod"`,
			[]string{"private_key_file", "big.key", "larger than 4096 bytes"}},
		{"key file empty", head + "    private_key_file: $DIR/empty.key\n", `account "prod"`,
			[]string{"private_key_file", "empty.key", "is empty"}},
		{"key file of two lines", head + "    private_key_file: $DIR/two-lines.key\n", `account "prod"`,
			[]string{"private_key_file", "two-lines.key", "more than one word"}},
		// The rule of --api.private-key-file, which refuses the same file.
		{"key file of two words", head + "    private_key_file: $DIR/two-words.key\n", `account "prod"`,
			[]string{"private_key_file", "two-words.key", "more than one word"}},
		{"public key file missing", "accounts:\n  - name: prod\n    public_key_file: $DIR/nope.pub\n    private_key_file: $DIR/prod.key\n",
			`account "prod"`, []string{"public_key_file", "no such file"}},
		{"env unset", head + "    private_key_env: NOT_SET\n", `account "prod"`, []string{"private_key_env", "unset"}},
		{"env of two lines", head + "    private_key_env: MULTI\n", `account "prod"`, []string{"private_key_env", "MULTI", "more than one word"}},
		{"env of two words", head + "    private_key_env: SPACED\n", `account "prod"`, []string{"private_key_env", "SPACED", "more than one word"}},
		{"bad window", head + "    private_key_file: $DIR/prod.key\n    window: 30 days\n", `account "prod"`,
			[]string{"window", "not a duration"}},
		{"window too short", head + "    private_key_file: $DIR/prod.key\n    window: 10ms\n", `account "prod"`, []string{"window"}},
		{"a key pasted as the window", head + "    private_key_file: $DIR/prod.key\n    window: " + inlineKey + "\n", `account "prod"`, []string{"window"}},
		{"a key pasted as a filter", head + "    private_key_file: $DIR/prod.key\n    filters: {product_code: [" + inlineKey + "]}\n", `account "prod"`,
			[]string{"filters.product_code"}},
		{"bad endpoint", head + "    private_key_file: $DIR/prod.key\n    endpoint: ftp://x/\n", `account "prod"`,
			[]string{"endpoint", "http or https"}},
		{"endpoint port past 65535", head + "    private_key_file: $DIR/prod.key\n    endpoint: http://127.0.0.1:99999/\n", `account "prod"`,
			[]string{"endpoint", "port is not one of 1-65535"}},
		{"endpoint with a password", head + "    private_key_file: $DIR/prod.key\n    endpoint: https://u:" + inlineKey + "@x/\n", `account "prod"`,
			[]string{"endpoint", "user or password"}},
		{"bad product code", head + "    private_key_file: $DIR/prod.key\n    filters: {product_code: [modelvers]}\n", `account "prod"`,
			[]string{"filters.product_code", "entry #1", "modelverse or sandbox"}},
		{"pricing unit not an integer", head + "    private_key_file: $DIR/prod.key\n    filters: {pricing_unit: [one]}\n", `account "prod"`,
			[]string{"filters.pricing_unit", "integers"}},
		// The flags refuse --filter.region= for the same reason: the API
		// reads an empty item as no filter, so region: [""] would sweep
		// every region.
		{"empty filter value", head + "    private_key_file: $DIR/prod.key\n    filters: {region: [\"\"]}\n", `account "prod"`,
			[]string{"filters.region", "entry #1 is empty, which would mean no filter"}},
		{"blank filter value", head + "    private_key_file: $DIR/prod.key\n    filters: {model: [Qwen/QwQ-32B, \" \"]}\n", `account "prod"`,
			[]string{"filters.model", "entry #2 is empty"}},
		{"empty product code", head + "    private_key_file: $DIR/prod.key\n    filters: {product_code: [\"\"]}\n", `account "prod"`,
			[]string{"filters.product_code", "entry #1 is empty"}},
		{"filter not a list", head + "    private_key_file: $DIR/prod.key\n    filters: {region: cn-zj}\n", `account "prod"`,
			[]string{"filters.region", "list"}},
		{"empty file", "", "", []string{"empty"}},
		{"two documents", "accounts: []\n---\naccounts: []\n", "", []string{"more than one"}},
		{"not YAML", "accounts: [\n", "", []string{"yaml"}},
		{"accounts not a list", "accounts: {name: prod}\n", "", []string{"accounts", "list"}},
		{"accounts empty", "accounts:\n", "", []string{"accounts", "empty"}},
		{"account not a mapping", "accounts: [prod]\n", "account #1", []string{"mapping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDir(t)
			_, err := d.load(t, tt.file)
			require.Error(t, err)
			msg := err.Error()
			assert.Contains(t, msg, d.file, "names the file")
			if tt.account != "" {
				assert.Contains(t, msg, tt.account, "names the account")
			}
			for _, w := range tt.want {
				assert.Contains(t, msg, w)
			}
			assert.NotContains(t, msg, "\n", "one line")
			for _, s := range secrets {
				assert.NotContains(t, msg, s, "no key value in an error")
			}
		})
	}
}

// TestKeysGivenElsewhere: the flags' private key (Defaults.Secrets) is
// kept out of the file's errors and refused in its fields, as the file's
// own keys are. It was shown in a reload's error, and accepted as an
// account's name, and then in every log line of that account.
func TestKeysGivenElsewhere(t *testing.T) {
	const flagKey = "flagsecret0123456789"
	d := newDir(t)
	withSecrets := Defaults{Endpoint: defaults.Endpoint, Window: time.Hour, Getenv: defaults.Getenv, Secrets: []string{flagKey}}
	for name, file := range map[string]string{
		"as a name":        "accounts:\n  - {name: " + flagKey + ", public_key: p, private_key_file: $DIR/prod.key}\n",
		"as a project id":  "accounts:\n  - {name: a, public_key: p, project_id: " + flagKey + ", private_key_file: $DIR/prod.key}\n",
		"in a bad account": "accounts:\n  - {name: a, public_key: p, private_key_file: $DIR/prod.key, bogus: " + flagKey + "}\n",
		"as the key file":  "accounts:\n  - {name: a, public_key: p, private_key_file: " + flagKey + "}\n",
	} {
		d.write(t, "accounts.yml", strings.ReplaceAll(file, "$DIR", d.path))
		_, err := Load(d.file, withSecrets)
		require.Error(t, err, name)
		assert.NotContains(t, err.Error(), flagKey, name)
	}
	_, err := Load(filepath.Join(d.path, flagKey), withSecrets)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), flagKey, "the file's own path")
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yml")
	_, err := Load(path, defaults)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "no such file")
}

// TestLoadNonRegularFile: an accounts file that is a FIFO or a directory is
// an error at once; opening a FIFO used to block until a writer came.
func TestLoadNonRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "accounts.fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for path, want := range map[string]string{fifo: "is not a regular file", dir: "is a directory"} {
		_, err := Load(path, defaults)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "accounts file "+path+": "+want)
	}
}

func TestLoadReadsTheEnvironmentByDefault(t *testing.T) {
	d := newDir(t)
	t.Setenv("DEBT_TEST_ACCOUNT_KEY", " "+envKey+"\n")
	d.write(t, "accounts.yml", "accounts:\n  - {name: a, public_key: p, private_key_env: DEBT_TEST_ACCOUNT_KEY}\n")
	got, err := Load(d.file, Defaults{Endpoint: defaults.Endpoint, Window: time.Hour})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, Secret(envKey), got[0].PrivateKey)
}

// TestSecretNeverPrints: an Account printed by mistake shows no key.
func TestSecretNeverPrints(t *testing.T) {
	acc := Account{Name: "prod", PublicKey: publicKey, PrivateKey: prodKey}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		assert.NotContains(t, fmt.Sprintf(format, acc), prodKey, format)
		assert.NotContains(t, fmt.Sprintf(format, acc.PrivateKey), prodKey, format)
	}
	text, err := acc.PrivateKey.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "<secret>", string(text))
	assert.Equal(t, prodKey, string(acc.PrivateKey), "converted explicitly for the API client")
}

func TestNames(t *testing.T) {
	assert.Equal(t, []string{"a", "b"}, Names([]Account{{Name: "a"}, {Name: "b"}}))
}
