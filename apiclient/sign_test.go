package apiclient

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

const (
	vectorPublicKey  = "ucloudsomeone@example.com1296235120854146120"
	vectorPrivateKey = "46f09bb9fab4f12dfc160dae12273d5332b5debe"
)

func backends() map[string]string {
	p := map[string]string{"Action": "AllocateBackendBatch", "PublicKey": vectorPublicKey}
	vals := []string{"foo", "bar", "42"}
	for i := 0; i < 12; i++ {
		p["Backends."+strconv.Itoa(i)] = vals[i%3]
	}
	return p
}

func listUnpaid(extra map[string]string) map[string]string {
	p := map[string]string{
		"Action": "ListUnpaidOrders", "PublicKey": vectorPublicKey,
		"StartTime": "1767225600", "EndTime": "1769904000", "Page": "1", "PageSize": "100",
		"ProductCodes.0": "modelverse", "ProductCodes.1": "sandbox",
		"ResourceIds.0": "key-a", "ResourceIds.1": "key-b",
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// TestSignContractVectors checks every vector of CONTRACT.md.
func TestSignContractVectors(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"1 DescribeUHostInstance", map[string]string{
			"Action": "DescribeUHostInstance", "Region": "cn-bj2", "Limit": "10", "PublicKey": vectorPublicKey,
		}, "cba5cf5ec4d4233d206b1b54951e3787350a642f"},
		{"2 CreateUHostInstance, CPU before ChargeType", map[string]string{
			"Action": "CreateUHostInstance", "CPU": "2", "ChargeType": "Month", "DiskSpace": "10",
			"ImageId": "f43736e1-65a5-4bea-ad2e-8a46e18883c2", "LoginMode": "Password",
			"Memory": "2048", "Name": "Host01", "Password": "VUNsb3VkLmNu", "Quantity": "1",
			"Region": "cn-bj2", "Zone": "cn-bj2-04", "PublicKey": vectorPublicKey,
		}, "4f9ef5df2abab2c6fccd1e9515cb7e2df8c6bb65"},
		{"3 AllocateBackendBatch, Backends.10 before Backends.2", backends(), "6bc32642779f8cb0bb3d3f128b1c0688abf9a1a3"},
		{"4 ListUnpaidOrders", listUnpaid(nil), "5b37f8fee3aa4b426fa0b7b872f7c2315f76d0aa"},
		{"4 ListUnpaidOrders with Region and ProjectId", listUnpaid(map[string]string{
			"Region": "cn-wlcb", "ProjectId": "org-abc123",
		}), "ba1409cab4b30be3b352073462b11acc4a61de92"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Sign(tt.params, vectorPrivateKey))
		})
	}
}

func TestSignProperties(t *testing.T) {
	base := listUnpaid(nil)
	want := Sign(base, vectorPrivateKey)

	t.Run("Signature itself is not signed", func(t *testing.T) {
		p := listUnpaid(map[string]string{"Signature": "anything"})
		assert.Equal(t, want, Sign(p, vectorPrivateKey))
	})
	t.Run("empty optional parameters are not signed", func(t *testing.T) {
		p := listUnpaid(map[string]string{"ProjectId": "", "Regions.0": ""})
		assert.Equal(t, want, Sign(p, vectorPrivateKey))
	})
	t.Run("a different private key changes the signature", func(t *testing.T) {
		assert.NotEqual(t, want, Sign(base, vectorPrivateKey+"x"))
	})
	t.Run("non-ASCII values are signed as their UTF-8 bytes", func(t *testing.T) {
		p := map[string]string{"Action": "ListUnpaidOrders", "ModelIds.0": "通义千问-max", "PublicKey": "k"}
		// sha1("ActionListUnpaidOrdersModelIds.0通义千问-maxPublicKeyksecret")
		assert.Equal(t, sha1Hex("ActionListUnpaidOrdersModelIds.0通义千问-maxPublicKeyksecret"), Sign(p, "secret"))
	})
	t.Run("byte order, not natural order", func(t *testing.T) {
		p := map[string]string{"Backends.2": "b", "Backends.10": "a", "Action": "X"}
		assert.Equal(t, sha1Hex("ActionXBackends.10aBackends.2bpk"), Sign(p, "pk"))
	})
}

// sha1Hex spells out the expected string to sign, so a test states the
// concatenation order rather than trusting Sign to compute it.
func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// FuzzSign checks Sign against its definition, spelled out independently:
// keys in byte order, key+value with no separator, the private key, SHA-1.
func FuzzSign(f *testing.F) {
	f.Add("Action", "ListUnpaidOrders", "Backends.10", "x", "Backends.2", "y", vectorPrivateKey)
	f.Add("ModelIds.0", "通义千问", "ProjectId", "", "Signature", "zzz", "k")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3, private string) {
		params := map[string]string{k1: v1, k2: v2, k3: v3}
		var keys []string
		for k, v := range params {
			if k != "Signature" && v != "" {
				keys = append(keys, k)
			}
		}
		// Insertion sort by bytes, deliberately not the sort Sign uses.
		for i := 1; i < len(keys); i++ {
			for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
				keys[j], keys[j-1] = keys[j-1], keys[j]
			}
		}
		var b []byte
		for _, k := range keys {
			b = append(append(b, k...), params[k]...)
		}
		want := sha1Hex(string(append(b, private...)))
		got := Sign(params, private)
		if got != want {
			t.Fatalf("Sign(%q) = %s, want %s", params, got, want)
		}
		params["Signature"] = got
		if again := Sign(params, private); again != got {
			t.Fatalf("the Signature parameter changed the signature")
		}
	})
}
