package apiclient

import (
	"crypto/sha1" //nolint:gosec // SHA-1 is what the provider's signature algorithm prescribes.
	"encoding/hex"
	"sort"
)

// Sign returns the provider's request signature: every parameter except
// Signature, sorted by key in byte order, concatenated as key+value with no
// separator, followed by the private key, hashed with SHA-1 and written as
// lowercase hex. Array parameters must already be flattened (Name.0, Name.1,
// ...); byte order then puts Name.10 before Name.2, as the server expects.
// Parameters with an empty value are skipped: they are neither sent nor signed.
func Sign(params map[string]string, privateKey string) string {
	keys := make([]string, 0, len(params))
	for k, v := range params {
		if k == "Signature" || v == "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha1.New() //nolint:gosec // required by the API.
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte(params[k]))
	}
	h.Write([]byte(privateKey))
	return hex.EncodeToString(h.Sum(nil))
}
