package simapi

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every varied page decodes with encoding/json to what Truth says, and the
// variety a real API shows is all there.
func TestVariedData(t *testing.T) {
	srv := New(Config{Seed: 21, Orders: 6000, Now: testNow, Varied: true, InvalidAmountEvery: 89})
	t.Cleanup(srv.Close)
	q := srv.Query()
	var all []map[string]any
	var escaped, raw, surrogate, ctNumber, ctString, otherKeyOrder, orders, empty int
	styles := map[string]int{}
	scales := map[int]int{}
	models := map[string]bool{}
	for p := 1; ; p++ {
		_, body := post(t, srv, srv.SignedForm(q, p, 100))
		switch {
		case bytes.HasPrefix(body, []byte(`{"Action":`)):
			styles["compact"]++
		case bytes.Contains(body, []byte("\n")):
			styles["indented"]++
		default:
			styles["spaced"]++
		}
		var r struct {
			RetCode int
			Orders  []json.RawMessage
		}
		require.NoError(t, json.Unmarshal(body, &r))
		require.Equal(t, 0, r.RetCode)
		for _, o := range r.Orders {
			orders++
			s := string(o)
			if strings.Contains(s, `\u`) {
				escaped++
			}
			if strings.ContainsFunc(s, func(r rune) bool { return r > 0x7f }) {
				raw++
			}
			if strings.Contains(s, `\ud83d\ude80`) {
				surrogate++
			}
			if !strings.HasPrefix(strings.TrimLeft(s, "{ \t\r\n"), `"Region"`) {
				otherKeyOrder++
			}
		}
		page := decode(t, body).orders()
		for _, o := range page {
			switch o["CreateTime"].(type) {
			case json.Number:
				ctNumber++
			case string:
				ctString++
			}
			if o["UserEmail"] == "" || o["ModelName"] == "" && o["ModelID"] != "" {
				empty++
			}
			models[o["ModelID"].(string)] = true
			if a := o["OrderTotalPrice"].(string); plainAmount(a) {
				_, frac, _ := strings.Cut(a, ".")
				scales[len(frac)]++
			}
		}
		all = append(all, page...)
		if len(page) < 100 {
			break
		}
	}
	require.Len(t, all, 6000)
	requireSameTruth(t, srv.Truth(q), sum(t, all))
	want := srv.UnpaidOrderNos(q)
	require.Len(t, want, 6000)
	for _, o := range all {
		assert.Equal(t, want[o["OrderNo"].(string)], createTime(t, o))
	}

	for name, n := range map[string]int{"escaped": escaped, "raw": raw, "CreateTime number": ctNumber, "CreateTime string": ctString, "other key order": otherKeyOrder} {
		assert.Greater(t, n, orders/5, "%s in at least 20%% of orders", name)
	}
	assert.Positive(t, surrogate, "surrogate pairs")
	assert.Positive(t, empty, "empty fields")
	assert.Len(t, styles, 3, "compact, spaced and indented responses: %v", styles)
	for d := 0; d <= 8; d++ {
		assert.Positive(t, scales[d], "amounts with %d decimals: %v", d, scales)
	}
	assert.True(t, models["通义千问-max"], "a CJK ModelID")
	assert.True(t, models[`acme/"q\\uoted"\model`], "a ModelID with quotes and backslashes")
	assert.True(t, models["deepseek-r1"] && models[""])

	// The CJK ModelID is sent raw in some orders and escaped in others.
	var rawID, escID bool
	for p := 1; p <= 60; p++ {
		_, body := post(t, srv, srv.SignedForm(q, p, 100))
		rawID = rawID || bytes.Contains(body, []byte(`"通义千问-max"`))
		escID = escID || bytes.Contains(body, []byte(`"\u901a\u4e49\u5343\u95ee-max"`))
	}
	assert.True(t, rawID && escID)
}

func plainAmount(s string) bool {
	for i, c := range s {
		if !(c >= '0' && c <= '9' || c == '.' && i > 0) {
			return false
		}
	}
	return s != ""
}

// A whale's series passes int64 in units of 1e-8, and Truth stays exact.
func TestVariedSumsPassInt64(t *testing.T) {
	srv := NewHandler(Config{Seed: 1, Orders: 60_000, Now: testNow, Varied: true})
	tr := srv.Truth(srv.Query())
	limit := new(big.Rat).SetFrac64(1<<63-1, 1e8)
	passed := 0
	for k, s := range tr.Series {
		r, ok := new(big.Rat).SetString(s.Amount.String())
		require.True(t, ok)
		if r.Cmp(limit) > 0 {
			passed++
			assert.Equal(t, "通义千问-max", k.ModelID)
		}
	}
	assert.Positive(t, passed)
}

// The same Config gives the same bytes; another seed other ones.
func TestVariedDeterministic(t *testing.T) {
	body := func(seed int64, p int) []byte {
		srv := New(Config{Seed: seed, Orders: 1000, Now: testNow, Varied: true})
		defer srv.Close()
		_, b := post(t, srv, srv.SignedForm(srv.Query(), p, 100))
		return b
	}
	for p := 1; p <= 3; p++ {
		assert.Equal(t, body(4, p), body(4, p))
	}
	assert.NotEqual(t, body(4, 1), body(5, 1))
}
