// Package accounts reads the --config.file of several accounts:
//
//	accounts:
//	  - name: prod
//	    public_key: AKID...                  # or public_key_file
//	    private_key_file: /run/secrets/prod  # or private_key_env
//	    project_id: org-abc123               # optional
//	    endpoint: https://api.dezai.com/     # optional, default --api.endpoint
//	    window: 30d                          # optional, default --window
//	    filters: {region: [cn-zj]}           # optional, default the --filter.* flags
//
// Credentials stay apart from the file, as snmp_exporter keeps its auth
// apart: a private key is read from a file or an environment variable the
// file names, never from the file itself. Parsing is strict (unknown keys
// are refused) and every error names the file, the account and the field,
// and never quotes a key.
package accounts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/debt-exporter/debt_exporter/apiclient"
)

// MaxKeyFileBytes is the largest key file read: a key is tens of bytes, so
// anything larger is the wrong file.
const MaxKeyFileBytes = 4 << 10

// maxFileBytes bounds the accounts file itself.
const maxFileBytes = 4 << 20

// Secret is a private key. It prints as "<secret>" whatever the verb, so
// that an Account logged or wrapped in an error by mistake shows no key;
// convert it with string() only to hand it to the API client.
type Secret string

func (Secret) String() string                  { return "<secret>" }
func (Secret) GoString() string                { return `"<secret>"` }
func (Secret) MarshalText() ([]byte, error)    { return []byte("<secret>"), nil }
func (s Secret) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.String()) }

// Account is one account of the file, with its keys read and the defaults
// applied. Two loads of an unchanged file and key files give equal
// Accounts (reflect.DeepEqual): reload keeps what such an account learned.
type Account struct {
	Name       string
	PublicKey  string
	PrivateKey Secret
	ProjectID  string
	Endpoint   string
	Window     time.Duration
	// Query holds the filters; Start and End are zero.
	Query apiclient.Query
}

// Defaults are the values of the command line that an account does not set.
type Defaults struct {
	Endpoint string          // --api.endpoint
	Window   time.Duration   // --window
	Query    apiclient.Query // the --filter.* flags, for accounts without filters
	// Getenv reads private_key_env; nil means os.Getenv.
	Getenv func(string) string
	// Secrets are keys given elsewhere (the flags'), and values that may
	// be one: never shown in an error, nor accepted in a field, as the
	// file's own accounts' keys.
	Secrets []string
}

var (
	nameRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// notShown ends an error about a value that may be a key pasted in the
// wrong field, as the flags' errors do.
const notShown = "(the value is not shown: it may be a key)"

// The keys an account may have. A key value under one of refusedKeys is
// answered with where keys belong instead of "unknown field".
var (
	accountKeys = map[string]bool{"name": true, "public_key": true, "public_key_file": true,
		"private_key_file": true, "private_key_env": true, "project_id": true, "endpoint": true,
		"window": true, "filters": true}
	filterKeys = map[string]bool{"resource_id": true, "model": true, "pricing_unit": true,
		"order_type": true, "region": true, "pricing_sku": true, "product_code": true}
	refusedKeys = map[string]bool{"private_key": true, "privatekey": true, "private-key": true,
		"secret": true, "secret_key": true, "secretkey": true, "private_key_value": true, "password": true}
)

// rawFile is the file as written; it is decoded with KnownFields after the
// walk in check has given any error its account and field.
type rawFile struct {
	Accounts []rawAccount `yaml:"accounts"`
}

type rawAccount struct {
	Name           string     `yaml:"name"`
	PublicKey      string     `yaml:"public_key"`
	PublicKeyFile  string     `yaml:"public_key_file"`
	PrivateKeyFile string     `yaml:"private_key_file"`
	PrivateKeyEnv  string     `yaml:"private_key_env"`
	ProjectID      string     `yaml:"project_id"`
	Endpoint       string     `yaml:"endpoint"`
	Window         string     `yaml:"window"`
	Filters        *rawFilter `yaml:"filters"`
}

type rawFilter struct {
	ResourceID  []string `yaml:"resource_id"`
	Model       []string `yaml:"model"`
	PricingUnit []int    `yaml:"pricing_unit"`
	OrderType   []int    `yaml:"order_type"`
	Region      []string `yaml:"region"`
	PricingSKU  []string `yaml:"pricing_sku"`
	ProductCode []string `yaml:"product_code"`
}

// Load reads the accounts file at path and the key files and variables it
// names. An error is one line naming the file, the account and the field.
func Load(path string, d Defaults) ([]Account, error) {
	if d.Getenv == nil {
		d.Getenv = os.Getenv
	}
	keys := slices.Clone(d.Secrets) // and every private key the file names, to redact
	fail := func(format string, args ...any) error {
		return errors.New(redact(fmt.Sprintf("accounts file %s: %s", path, oneLine(fmt.Sprintf(format, args...))), keys))
	}
	b, err := readLimited(path, maxFileBytes)
	if err != nil {
		return nil, fail("%v", err)
	}
	keys = append(keys, privateKeys(b, d)...)
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fail("the file is empty: it needs an accounts list")
		}
		return nil, fail("%v", err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, fail("holds more than one YAML document")
	}
	if err := check(&doc); err != nil {
		return nil, fail("%v", err)
	}
	var raw rawFile
	strict := yaml.NewDecoder(bytes.NewReader(b))
	strict.KnownFields(true)
	if err := strict.Decode(&raw); err != nil {
		return nil, fail("%v", err)
	}

	out := make([]Account, 0, len(raw.Accounts))
	seen := map[string]int{}
	for i, ra := range raw.Accounts {
		where := fmt.Sprintf("account %q", ra.Name)
		if ra.Name == "" {
			where = fmt.Sprintf("account #%d", i+1)
		}
		acc, field, err := build(ra, d, keys)
		if err != nil {
			return nil, fail("%s: %s: %v", where, field, err)
		}
		if j, dup := seen[acc.Name]; dup {
			return nil, fail("%s: name: the name is already used by account #%d: names must be unique", where, j+1)
		}
		seen[acc.Name] = i
		out = append(out, acc)
	}
	return out, nil
}

// privateKeys reads, as far as the file can be read, the private key of
// every account, whatever else is wrong with it: a value pasted in the
// wrong field may be any account's key, and no error may show it.
func privateKeys(b []byte, d Defaults) []string {
	var raw rawFile
	_ = yaml.Unmarshal(b, &raw) // partial on type errors, which is enough
	var keys []string
	for _, ra := range raw.Accounts {
		if k, err := readKeyFile(ra.PrivateKeyFile); ra.PrivateKeyFile != "" && err == nil {
			keys = append(keys, k)
		}
		if ra.PrivateKeyEnv != "" {
			if k := strings.TrimSpace(d.Getenv(ra.PrivateKeyEnv)); k != "" {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// redact replaces every key in msg: keys shorter than 4 bytes would
// replace ordinary words, and are not looked for.
func redact(msg string, keys []string) string {
	for _, k := range keys {
		if len(k) >= 4 {
			msg = strings.ReplaceAll(msg, k, "[private key, not shown]")
		}
	}
	return msg
}

// check walks the document before it is decoded, so that an unknown key, a
// key value in the file or a value of the wrong type is reported with its
// account and field (yaml's own errors name only a line and a Go type).
func check(doc *yaml.Node) error {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return errors.New("not a YAML document")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: the top level must be a mapping with an accounts list", root.Line)
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "accounts" {
			return fmt.Errorf("line %d: unknown top-level key %q: the file holds only accounts", k.Line, k.Value)
		}
		if list != nil {
			return fmt.Errorf("line %d: accounts: given twice", k.Line)
		}
		list = v
	}
	if list == nil {
		return errors.New("no accounts list")
	}
	if list.Kind != yaml.SequenceNode {
		if list.Tag == "!!null" {
			return fmt.Errorf("line %d: accounts: the list is empty (write accounts: [] for none)", list.Line)
		}
		return fmt.Errorf("line %d: accounts: must be a list of accounts", list.Line)
	}
	for i, acc := range list.Content {
		where := fmt.Sprintf("account #%d (line %d)", i+1, acc.Line)
		if acc.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: must be a mapping of name, public_key, private_key_file and the other fields", where)
		}
		for j := 0; j+1 < len(acc.Content); j += 2 {
			if k, v := acc.Content[j], acc.Content[j+1]; k.Value == "name" && v.Kind == yaml.ScalarNode {
				where = fmt.Sprintf("account %q (line %d)", v.Value, acc.Line)
			}
		}
		if err := checkAccount(acc); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	return nil
}

func checkAccount(acc *yaml.Node) error {
	seen := map[string]bool{}
	for j := 0; j+1 < len(acc.Content); j += 2 {
		k, v := acc.Content[j], acc.Content[j+1]
		field := k.Value
		if seen[field] {
			return fmt.Errorf("%s (line %d): given twice", field, k.Line)
		}
		seen[field] = true
		switch {
		case refusedKeys[strings.ToLower(field)]:
			// v is never looked at: it is a key.
			return fmt.Errorf("%s (line %d): a private key is not accepted in the accounts file: put it in a file named by private_key_file, or in an environment variable named by private_key_env",
				field, k.Line)
		case !accountKeys[field]:
			return fmt.Errorf("%s (line %d): unknown field; known fields: name, public_key, public_key_file, private_key_file, private_key_env, project_id, endpoint, window, filters",
				field, k.Line)
		case field == "filters":
			if v.Kind != yaml.MappingNode {
				return fmt.Errorf("filters (line %d): must be a mapping of resource_id, model, pricing_unit, order_type, region, pricing_sku, product_code", v.Line)
			}
			seenFilter := map[string]bool{}
			for f := 0; f+1 < len(v.Content); f += 2 {
				fk, fv := v.Content[f], v.Content[f+1]
				if seenFilter[fk.Value] {
					return fmt.Errorf("filters.%s (line %d): given twice", fk.Value, fk.Line)
				}
				seenFilter[fk.Value] = true
				if !filterKeys[fk.Value] {
					return fmt.Errorf("filters.%s (line %d): unknown filter; known filters: resource_id, model, pricing_unit, order_type, region, pricing_sku, product_code",
						fk.Value, fk.Line)
				}
				var err error
				if fk.Value == "pricing_unit" || fk.Value == "order_type" {
					var ints []int
					err = fv.Decode(&ints)
				} else {
					var strs []string
					err = fv.Decode(&strs)
				}
				if err != nil || fv.Kind != yaml.SequenceNode {
					kind := "strings"
					if fk.Value == "pricing_unit" || fk.Value == "order_type" {
						kind = "integers"
					}
					return fmt.Errorf("filters.%s (line %d): must be a list of %s, such as [a, b]", fk.Value, fv.Line, kind)
				}
			}
		default:
			// Only scalars; the value itself is never quoted: it may be
			// a public key.
			var s string
			if v.Kind != yaml.ScalarNode || v.Decode(&s) != nil {
				return fmt.Errorf("%s (line %d): must be a single value, not a list or mapping", field, v.Line)
			}
		}
	}
	return nil
}

// build turns a checked raw account into an Account; on error it returns
// the field at fault. keys are the private keys of the file's accounts.
func build(ra rawAccount, d Defaults, keys []string) (Account, string, error) {
	acc := Account{Name: ra.Name, ProjectID: strings.TrimSpace(ra.ProjectID), Endpoint: d.Endpoint, Window: d.Window}
	if field := holdsKey(ra, keys); field != "" {
		return acc, field, errors.New("holds a private key (this account's or another's): a key belongs only in the file named by private_key_file or the variable named by private_key_env, and may now be seen by whoever reads this file: replace it")
	}
	if ra.Name == "" {
		return acc, "name", errors.New("required")
	}
	if !nameRE.MatchString(ra.Name) {
		return acc, "name", errors.New("may hold only letters, digits, '_', '.' and '-'")
	}

	switch {
	case ra.PublicKey != "" && ra.PublicKeyFile != "":
		return acc, "public_key", errors.New("both public_key and public_key_file are set: keep one")
	case ra.PublicKey != "":
		acc.PublicKey = strings.TrimSpace(ra.PublicKey)
	case ra.PublicKeyFile != "":
		k, err := readKeyFile(ra.PublicKeyFile)
		if err != nil {
			return acc, "public_key_file", err
		}
		acc.PublicKey = k
	default:
		return acc, "public_key", errors.New("required: set public_key or public_key_file")
	}
	if acc.PublicKey == "" {
		return acc, "public_key", errors.New("is empty")
	}

	switch {
	case ra.PrivateKeyFile != "" && ra.PrivateKeyEnv != "":
		return acc, "private_key_file", errors.New("both private_key_file and private_key_env are set: keep one")
	case ra.PrivateKeyFile != "":
		k, err := readKeyFile(ra.PrivateKeyFile)
		if err != nil {
			return acc, "private_key_file", err
		}
		acc.PrivateKey = Secret(k)
	case ra.PrivateKeyEnv != "":
		// The name is never quoted: the key itself is often pasted
		// here, and may look like a name.
		if !envNameRE.MatchString(ra.PrivateKeyEnv) {
			return acc, "private_key_env", errors.New("not an environment variable name (letters, digits and _, such as DEBT_PROD_KEY) " + notShown)
		}
		k := strings.TrimSpace(d.Getenv(ra.PrivateKeyEnv))
		if k == "" {
			return acc, "private_key_env", errors.New("the environment variable is unset or empty " + notShown)
		}
		if strings.ContainsAny(k, " \t\r\n") {
			// As DEBT_EXPORTER_PRIVATE_KEY: a key is one word.
			return acc, "private_key_env", fmt.Errorf("environment variable %s holds more than one word: a private key is one", ra.PrivateKeyEnv) // it is set: a name
		}
		acc.PrivateKey = Secret(k)
	default:
		return acc, "private_key_file", errors.New("required: set private_key_file or private_key_env")
	}

	if ra.Endpoint != "" {
		acc.Endpoint = strings.TrimSpace(ra.Endpoint)
		if err := checkEndpoint(acc.Endpoint); err != nil {
			return acc, "endpoint", err
		}
	}
	if ra.Window != "" {
		w, err := model.ParseDuration(strings.TrimSpace(ra.Window))
		if err != nil || time.Duration(w) < time.Second {
			// The API takes whole seconds: a shorter window would often be empty.
			// The value is not quoted: a key pasted on the wrong line
			// must not reach the log.
			return acc, "window", errors.New("not a duration of at least a second, such as 30d or 12h")
		}
		acc.Window = time.Duration(w)
	}
	if acc.Window < time.Second {
		return acc, "window", errors.New("required (no default --window given)")
	}

	if ra.Filters == nil {
		acc.Query = filtersOnly(d.Query)
	} else {
		f := ra.Filters
		acc.Query = apiclient.Query{ResourceIDs: f.ResourceID, ModelIDs: f.Model, PricingUnits: f.PricingUnit,
			OrderTypes: f.OrderType, Regions: f.Region, PricingSKUs: f.PricingSKU, ProductCodes: f.ProductCode}
		for _, filter := range []struct {
			name   string
			values []string
		}{
			{"resource_id", f.ResourceID}, {"model", f.Model}, {"region", f.Region},
			{"pricing_sku", f.PricingSKU}, {"product_code", f.ProductCode},
		} {
			for i, v := range filter.values {
				if strings.TrimSpace(v) == "" {
					// The API would read an empty list item as no filter at all.
					return acc, "filters." + filter.name, fmt.Errorf("entry #%d is empty, which would mean no filter: leave %s out of filters to take every order", i+1, filter.name)
				}
			}
		}
		for i, p := range f.ProductCode {
			if p != "modelverse" && p != "sandbox" {
				return acc, "filters.product_code", fmt.Errorf("entry #%d is not modelverse or sandbox", i+1)
			}
		}
	}
	return acc, "", nil
}

// holdsKey returns the first field of ra that holds one of keys, where the
// flags refuse a key too: endpoint and project_id would carry it to the API
// (the endpoint in every request's URL), and the other fields to logs.
func holdsKey(ra rawAccount, keys []string) string {
	fields := []struct {
		name   string
		values []string
	}{
		{"name", []string{ra.Name}}, {"public_key", []string{ra.PublicKey}}, {"project_id", []string{ra.ProjectID}},
		{"endpoint", []string{ra.Endpoint}}, {"window", []string{ra.Window}},
	}
	if f := ra.Filters; f != nil {
		fields = append(fields, []struct {
			name   string
			values []string
		}{
			{"filters.resource_id", f.ResourceID}, {"filters.model", f.Model}, {"filters.region", f.Region},
			{"filters.pricing_sku", f.PricingSKU}, {"filters.product_code", f.ProductCode},
		}...)
	}
	for _, f := range fields {
		for _, v := range f.values {
			for _, k := range keys {
				// A shorter key is not looked for, as for the flags: it
				// would raise false alarms.
				if len(k) >= 8 && strings.Contains(v, k) {
					return f.name
				}
			}
		}
	}
	return ""
}

// filtersOnly copies the filters of q, so that no two accounts share a
// slice, and drops its window.
func filtersOnly(q apiclient.Query) apiclient.Query {
	return apiclient.Query{ResourceIDs: clone(q.ResourceIDs), ModelIDs: clone(q.ModelIDs),
		PricingUnits: clone(q.PricingUnits), OrderTypes: clone(q.OrderTypes), Regions: clone(q.Regions),
		PricingSKUs: clone(q.PricingSKUs), ProductCodes: clone(q.ProductCodes)}
}

func clone[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append([]T(nil), s...)
}

func checkEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("not an http or https URL")
	}
	if u.User != nil {
		// It would end up in logs and errors with the URL.
		return errors.New("must not carry a user or password")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("must not carry a query string or fragment")
	}
	if p := u.Port(); p != "" {
		// A URL parses with any digits there; every request would fail.
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("its port is not one of 1-65535")
		}
	}
	return nil
}

// readKeyFile reads a key: a regular file (a symlink to one, as Kubernetes
// mounts secrets, is fine) of at most MaxKeyFileBytes, trimmed, one word.
// Its errors say what is wrong with the file, never what it holds, and name
// it only once it is known to exist.
func readKeyFile(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		// A path that names no file is most often the key itself.
		return "", fmt.Errorf("cannot read the key file: %w %s", plainPathError(err), notShown)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > MaxKeyFileBytes {
		return "", fmt.Errorf("%s is larger than %d bytes: not a key file", path, MaxKeyFileBytes)
	}
	b, err := readLimited(path, MaxKeyFileBytes)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	k := strings.TrimSpace(string(b))
	if k == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	if strings.ContainsAny(k, " \t\r\n") {
		// As --api.private-key-file: a key is one word.
		return "", fmt.Errorf("%s holds more than one word: it must hold only the key", path)
	}
	return k, nil
}

// plainPathError drops the path from an os error: the caller names the
// file (Load's errors all begin with it), so that no error says it twice.
func plainPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readLimited reads a regular file of at most limit bytes. It opens it
// without blocking: opening a FIFO would block the start, or a reload, for
// ever (SIGTERM included). Its errors do not name the file: its callers do.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, plainPathError(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, plainPathError(err)
	}
	switch {
	case st.IsDir():
		return nil, errors.New("is a directory, not a file")
	case !st.Mode().IsRegular():
		return nil, errors.New("is not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, plainPathError(err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}

// oneLine folds an error onto one line: yaml's own errors span several.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "yaml: unmarshal errors:\n", "")
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	return strings.Join(fields, "; ")
}

// Names returns the accounts' names, in the file's order.
func Names(accs []Account) []string {
	out := make([]string, len(accs))
	for i, a := range accs {
		out[i] = a.Name
	}
	return out
}
