package apiclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/debt-exporter/debt_exporter/money"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func decodeString(t *testing.T, body string) (page, error) {
	t.Helper()
	var p page
	err := newDecoder().decodePage([]byte(body), &p)
	return p, err
}

const fullOrder = `{"Region":"cn-wlcb","OrderNo":"UO-1","SourceOrderNo":"SO-1","CompanyID":12,"OrganizationID":"34",
"OrganizationName":"Acme \"AI\" \u00e9 Lab","UserEmail":"a@b.c","ChargeType":3,"ChargeTypeDisplay":"按量",
"Channel":1,"Currency":"CNY","CurrencyDisplay":"人民币","ResourceID":"key-a","ResourceType":7,
"ResourceTypeDisplay":"API Key","ModelID":"deepseek-r1","ModelName":"DeepSeek R1","OrderType":1,
"OrderTypeDisplay":"usage","PricingSKU":"input","Quantity":"1500","QuantityDisplay":"1.5 K Tokens",
"PricingUnit":1,"PricingUnitDisplay":"K Tokens","ListPrice":"0.004","DiscountPrice":"0.004",
"OrderTotalPrice":"12.34567891","OriginalPrice":"12.34567891","Status":0,"StatusDisplay":"unpaid",
"CreateTime":"1767225600","StartTime":1767225000,"EndTime":1767225600,"PaidTime":0,
"RevocationTime":"","RegionDisplay":"乌兰察布","ProductCode":"modelverse","ProductCodeDisplay":"Model Verse",
"Extra":{"nested":[1,2,{"x":"y\\"}],"n":null,"t":true,"f":false,"e":-1.5e-3}}`

func TestDecodePage(t *testing.T) {
	t.Run("all 38 fields, only the needed ones kept", func(t *testing.T) {
		p, err := decodeString(t, `{"Action":"ListUnpaidOrdersResponse","RetCode":0,"Orders":[`+fullOrder+`]}`)
		require.NoError(t, err)
		require.Len(t, p.orders, 1)
		o := p.orders[0]
		assert.Equal(t, "UO-1", o.OrderNo)
		assert.Equal(t, "cn-wlcb", o.Region)
		assert.Equal(t, "deepseek-r1", o.ModelID)
		assert.Equal(t, "modelverse", o.ProductCode)
		assert.Equal(t, "CNY", o.Currency)
		assert.Equal(t, "12.34567891", o.Amount.String())
		assert.Equal(t, int64(1767225600), o.CreateTime)
		assert.Empty(t, o.Invalid)
		assert.Equal(t, int64(-1), p.totalCount)
		assert.Equal(t, "ListUnpaidOrdersResponse", p.action)
	})

	tests := []struct {
		name, body string
		check      func(t *testing.T, p page)
		err        string
	}{
		{name: "orders under Data, TotalCount as string", body: `{"RetCode":"0","Data":{"TotalCount":"250","Orders":[{"OrderNo":"a","OrderTotalPrice":"1","CreateTime":5}]}}`,
			check: func(t *testing.T, p page) {
				assert.Equal(t, int64(250), p.totalCount)
				require.Len(t, p.orders, 1)
				assert.Equal(t, int64(5), p.orders[0].CreateTime)
			}},
		{name: "RetCode as string with message", body: `{"RetCode":"171","Message":"Signature VerifyAC Error","Action":"ListUnpaidOrdersResponse"}`,
			check: func(t *testing.T, p page) {
				assert.Equal(t, int64(171), p.retCode)
				assert.Equal(t, "Signature VerifyAC Error", p.message)
			}},
		{name: "empty Data object", body: `{"Action":"ListUnpaidOrdersResponse","Data":{},"RetCode":0}`,
			check: func(t *testing.T, p page) { assert.Empty(t, p.orders) }},
		{name: "null orders", body: `{"RetCode":0,"Orders":null}`,
			check: func(t *testing.T, p page) { assert.Empty(t, p.orders) }},
		{name: "amount as a JSON number", body: `{"RetCode":0,"Orders":[{"OrderTotalPrice":0.10,"CreateTime":"1"}]}`,
			check: func(t *testing.T, p page) { assert.Equal(t, "0.10", p.orders[0].Amount.String()) }},
		{name: "empty labels stay empty, null keeps nothing", body: `{"RetCode":0,"Orders":[{"Region":"","ModelID":null,"OrderTotalPrice":"1","CreateTime":"1"}]}`,
			check: func(t *testing.T, p page) {
				assert.Equal(t, "", p.orders[0].Region)
				assert.Equal(t, "", p.orders[0].ModelID)
				assert.Empty(t, p.orders[0].Invalid)
			}},
		{name: "invalid amounts are flagged, not guessed, and keep their time", body: `{"RetCode":0,"Orders":[
			{"OrderNo":"1","OrderTotalPrice":"1e3","CreateTime":"101"},
			{"OrderNo":"2","OrderTotalPrice":"12,50","CreateTime":"102"},
			{"OrderNo":"3","OrderTotalPrice":"","CreateTime":103},
			{"OrderNo":"4","CreateTime":"104"},
			{"OrderNo":"5","OrderTotalPrice":null,"CreateTime":"105"},
			{"OrderNo":"6","OrderTotalPrice":1e3,"CreateTime":"106"},
			{"OrderNo":"7","OrderTotalPrice":"N/A","CreateTime":"107"}]}`,
			check: func(t *testing.T, p page) {
				require.Len(t, p.orders, 7)
				for i, o := range p.orders {
					assert.Equal(t, InvalidAmount, o.Invalid, o.OrderNo)
					assert.Equal(t, 0, o.Amount.Sign())
					// Still placed in its time slice: the sweep checks it
					// against the slice and moves the cursor past it.
					assert.True(t, o.timeSet, o.OrderNo)
					assert.Equal(t, int64(101+i), o.CreateTime, o.OrderNo)
				}
				assert.Equal(t, `"12,50"`, p.orders[1].RawInvalid)
				assert.Equal(t, "<missing>", p.orders[3].RawInvalid)
			}},
		{name: "a huge invalid value is cut short for the log", body: `{"RetCode":0,"Orders":[{"OrderTotalPrice":"` + strings.Repeat("x", 5000) + `","CreateTime":"1"}]}`,
			check: func(t *testing.T, p page) {
				assert.Equal(t, InvalidAmount, p.orders[0].Invalid)
				assert.Equal(t, `"`+strings.Repeat("x", 64)+`"…`, p.orders[0].RawInvalid)
			}},
		{name: "an invalid value that is not UTF-8 is logged as encoding/json reads it", body: `{"RetCode":0,"Orders":[` +
			"{\"OrderTotalPrice\":\"1\xff2\",\"CreateTime\":\"1\"},{\"OrderTotalPrice\":\"1\",\"CreateTime\":\"\xe4\xb8\"}," +
			"{\"OrderTotalPrice\":\"" + strings.Repeat("\xff", 70) + "\",\"CreateTime\":\"1\"}]}",
			check: func(t *testing.T, p page) {
				assert.Equal(t, InvalidAmount, p.orders[0].Invalid)
				assert.Equal(t, strconv.Quote("1\ufffd2"), p.orders[0].RawInvalid)
				assert.Equal(t, InvalidCreateTime, p.orders[1].Invalid)
				assert.Equal(t, strconv.Quote("\ufffd\ufffd"), p.orders[1].RawInvalid)
				// Cut after the replacement, as the text encoding/json reads is.
				assert.Equal(t, strconv.Quote(strings.Repeat("\ufffd", 21)+"\xef")+"…", p.orders[2].RawInvalid)
			}},
		{name: "an order with both fields invalid is flagged for its time", body: `{"RetCode":0,"Orders":[{"OrderTotalPrice":"N/A","CreateTime":"soon"}]}`,
			check: func(t *testing.T, p page) {
				assert.Equal(t, InvalidCreateTime, p.orders[0].Invalid, "it has no time slice, whatever its amount")
				assert.False(t, p.orders[0].timeSet)
			}},
		{name: "invalid create times are flagged", body: `{"RetCode":0,"Orders":[
			{"OrderTotalPrice":"1","CreateTime":"yesterday"},{"OrderTotalPrice":"1","CreateTime":"1.5"},
			{"OrderTotalPrice":"1"},{"OrderTotalPrice":"1","CreateTime":""},{"OrderTotalPrice":"1","CreateTime":"+5"}]}`,
			check: func(t *testing.T, p page) {
				for _, o := range p.orders {
					assert.Equal(t, InvalidCreateTime, o.Invalid)
				}
			}},
		{name: "escaped label values are unescaped", body: `{"RetCode":0,"Orders":[{"ModelID":"qwen\u002dmax","Region":"hk\/1","OrderTotalPrice":"1","CreateTime":"1"}]}`,
			check: func(t *testing.T, p page) {
				assert.Equal(t, "qwen-max", p.orders[0].ModelID)
				assert.Equal(t, "hk/1", p.orders[0].Region)
			}},
		{name: "keys match case-insensitively like encoding/json", body: `{"retcode":0,"orders":[{"modelid":"m","ORDERTOTALPRICE":"2","createTime":"3"}]}`,
			check: func(t *testing.T, p page) {
				assert.Equal(t, "m", p.orders[0].ModelID)
				assert.Equal(t, "2", p.orders[0].Amount.String())
			}},
		{name: "invalid UTF-8 becomes U+FFFD, as label values must be UTF-8", body: "{\"RetCode\":0,\"Orders\":[{\"Region\":\"a\xffb\",\"OrderTotalPrice\":\"1\",\"CreateTime\":\"1\"}]}",
			check: func(t *testing.T, p page) { assert.Equal(t, "a\uFFFDb", p.orders[0].Region) }},
		{name: "a repeated amount key's null keeps the amount, as encoding/json does", body: `{"RetCode":0,"Orders":[{"OrderTotalPrice":"5","OrderTotalPrice":null,"CreateTime":"1","CreateTime":null}]}`,
			check: func(t *testing.T, p page) {
				assert.Empty(t, p.orders[0].Invalid)
				assert.Equal(t, "5", p.orders[0].Amount.String())
				assert.Equal(t, int64(1), p.orders[0].CreateTime)
			}},
		{name: "a null list beside a real one is no list", body: `{"RetCode":0,"Orders":null,"Data":{"Orders":[{"OrderTotalPrice":"2","CreateTime":"1"}]}}`,
			check: func(t *testing.T, p page) { assert.Len(t, p.orders, 1) }},
		{name: "no RetCode is no success", body: `{"Orders":[]}`, err: "no RetCode"},
		{name: "a proxy's JSON is no success", body: `{"error":"upstream maintenance"}`, err: "no RetCode"},
		{name: "two order lists are ambiguous", body: `{"RetCode":0,"Data":{"Orders":[{"OrderTotalPrice":"1"}]},"Orders":[]}`, err: "a second order list"},
		{name: "a repeated Orders key is ambiguous", body: `{"RetCode":0,"Orders":[],"Orders":[]}`, err: "a second order list"},
		{name: "a repeated RetCode is ambiguous", body: `{"RetCode":0,"Orders":[],"RetCode":153}`, err: "a second RetCode"},
		{name: "a repeated RetCode, the same", body: `{"RetCode":0,"RetCode":0,"Orders":[]}`, err: "a second RetCode"},
		{name: "truncated", body: `{"RetCode":0,"Orders":[{"OrderNo":"1","OrderTotalPri`, err: "unterminated string"},
		{name: "truncated after a value", body: `{"RetCode":0,"Orders":[{"OrderNo":"1"}`, err: "expected , or ]"},
		{name: "not JSON", body: `<html>502 Bad Gateway</html>`, err: "expected an object"},
		{name: "empty body", body: ``, err: "expected an object"},
		{name: "trailing garbage", body: `{"RetCode":0} x`, err: "data after"},
		{name: "label as number", body: `{"RetCode":0,"Orders":[{"Region":5}]}`, err: "expected a string"},
		{name: "RetCode not an integer", body: `{"RetCode":"oops"}`, err: "RetCode is not an integer"},
		{name: "control character in a skipped string", body: "{\"RetCode\":0,\"X\":\"a\x01\"}", err: "control character"},
		{name: "bad escape in a skipped string", body: `{"RetCode":0,"X":"\q"}`, err: "bad escape"},
		{name: "runaway nesting", body: `{"RetCode":0,"X":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, err: "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := decodeString(t, tt.body)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			tt.check(t, p)
		})
	}
}

func TestDecoderReusesMemory(t *testing.T) {
	body := []byte(`{"RetCode":0,"Orders":[` + strings.TrimSuffix(strings.Repeat(fullOrder+",", 100), ",") + `]}`)
	d := newDecoder()
	var p page
	require.NoError(t, d.decodePage(body, &p))
	allocs := testing.AllocsPerRun(20, func() {
		if err := d.decodePage(body, &p); err != nil {
			t.Fatal(err)
		}
	})
	// One allocation per page (the string holding its order numbers), none
	// per order or per field.
	assert.LessOrEqual(t, allocs, 1.0)
}

// Oracle: the same aggregation through encoding/json, the reference decoder.
type oracleOrder struct {
	OrderNo, Region, ModelID, ProductCode, Currency string
	OrderTotalPrice, CreateTime                     oracleScalar
}

// oracleScalar is a string-or-number field; like any field encoding/json
// fills, a null leaves it as it was.
type oracleScalar struct{ raw json.RawMessage }

func (o *oracleScalar) UnmarshalJSON(b []byte) error {
	if string(b) != "null" {
		o.raw = append(json.RawMessage(nil), b...)
	}
	return nil
}

type oracleBody struct {
	RetCode json.RawMessage
	Orders  []oracleOrder
}

type aggregate map[string]string

func (a aggregate) add(key string, amount money.Decimal, created int64) {
	a[key+"|n"] = strconv.Itoa(atoi(a[key+"|n"]) + 1)
	sum, _ := money.ParseString(orZero(a[key+"|sum"]))
	a[key+"|sum"] = sum.Add(amount).String()
	if old, ok := a[key+"|oldest"]; !ok || int64(atoi(old)) > created {
		a[key+"|oldest"] = strconv.FormatInt(created, 10)
	}
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func scalarText(raw json.RawMessage) ([]byte, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		return []byte(s), true
	}
	return raw, true
}

func oracleAggregate(body []byte) (aggregate, error) {
	var b oracleBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, err
	}
	if v, ok := scalarText(b.RetCode); !ok || string(v) != "0" {
		return nil, fmt.Errorf("RetCode %s", b.RetCode)
	}
	agg := aggregate{}
	for _, o := range b.Orders {
		// CreateTime first: without it an order has no time slice.
		createdRaw, ok := scalarText(o.CreateTime.raw)
		created, err := strconv.ParseInt(string(createdRaw), 10, 64)
		if !ok || err != nil || bytes.HasPrefix(createdRaw, []byte("+")) {
			agg["invalid|create_time"] = strconv.Itoa(atoi(agg["invalid|create_time"]) + 1)
			continue
		}
		amountRaw, ok := scalarText(o.OrderTotalPrice.raw)
		amount, err := money.Parse(amountRaw)
		if !ok || err != nil {
			agg["invalid|amount"] = strconv.Itoa(atoi(agg["invalid|amount"]) + 1)
			continue
		}
		agg.add(strings.Join([]string{o.Region, o.ModelID, o.ProductCode, o.Currency, o.OrderNo}, "\x00"), amount, created)
	}
	return agg, nil
}

func ourAggregate(body []byte) (aggregate, error) {
	var p page
	if err := newDecoder().decodePage(body, &p); err != nil {
		return nil, err
	}
	if p.retCode != 0 {
		return nil, fmt.Errorf("RetCode %d", p.retCode)
	}
	agg := aggregate{}
	for _, o := range p.orders {
		if o.Invalid != "" {
			agg["invalid|"+o.Invalid] = strconv.Itoa(atoi(agg["invalid|"+o.Invalid]) + 1)
			continue
		}
		agg.add(strings.Join([]string{o.Region, o.ModelID, o.ProductCode, o.Currency, o.OrderNo}, "\x00"), o.Amount, o.CreateTime)
	}
	return agg, nil
}

func keys(a aggregate) []string {
	var k []string
	for key := range a {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

// FuzzDecodeOrderAgainstEncodingJSON puts arbitrary bytes where an order
// goes: whenever both decoders accept the page, they must agree exactly.
func FuzzDecodeOrderAgainstEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		fullOrder, `null`, `{}`, `{"OrderTotalPrice":"1.5","CreateTime":"7","Region":"r","Region":null}`,
		`{"ordertotalprice":3,"createtime":2,"modelid":"\u00e9"}`, `{"OrderTotalPrice":"1e3","CreateTime":"1"}`,
		`{"OrderTotalPrice":"0.1","CreateTime":"-9223372036854775808","Currency":"USD"}`,
		`{"OrderTotalPrice":"1","CreateTime":"1"},{"OrderTotalPrice":"2","CreateTime":"0"}`,
		`{"\u004frderNo":"x","OrderTotalPrice":"1","CreateTime":"1","X":[{"a":["\""]}]}`,
		"{\"Region\":\"\xff\",\"OrderTotalPrice\":\"1\",\"CreateTime\":\"1\"}",
		// The common members' path (commonMembers): spaced, indented, a
		// value over 64 bytes, a number it leaves to skipValue, a key in
		// another case, a key that ends the body's words.
		`{ "A": "x", "B": 12, "OrderTotalPrice": "2.5", "CreateTime": 9, "C": 0, "D": -1, "E": 1.5, "F": 2e3 }`,
		"{\n  \"A\": \"x\",\n  \"REGION\": \"r\",\n\t\"OrderTotalPrice\": 1,\n  \"CreateTime\":\"3\"\n}",
		`{"A":"` + strings.Repeat("y", 70) + `","Region":"r","OrderTotalPrice":"1","CreateTime":"1","B":"z\"q"}`,
		`{"ProductCodeDisplay":"d","productcode":"p","OrderTotalPrice":"1","CreateTime":"1","B":tru}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, order []byte) {
		// Twice: the second is read by the shape learnt from the first
		// (shape.go), when it has one.
		body := append(append([]byte(`{"RetCode":0,"Orders":[`), order...), ',')
		body = append(append(body, order...), "]}"...)
		ours, errOurs := ourAggregate(body)
		want, errOracle := oracleAggregate(body)
		if errOurs != nil || errOracle != nil {
			return
		}
		require.Equal(t, keys(want), keys(ours), "body %q", body)
		for k, v := range want {
			if strings.HasSuffix(k, "|sum") {
				a, _ := money.ParseString(v)
				b, _ := money.ParseString(ours[k])
				require.Zero(t, a.Cmp(b), "%s: %s vs %s in %q", k, v, ours[k], body)
				continue
			}
			require.Equal(t, v, ours[k], "%s in %q", k, body)
		}
	})
}

// FuzzPlainKey checks the slots' look-up of a key against the table's
// plain one, for keys of every length, in and out of a body.
func FuzzPlainKey(f *testing.F) {
	for _, seed := range []string{"", "Region", "region", "REGION", "OrderTotalPrice", "orderTOTALprice", "OrderNo",
		"ModelID", "modelid", "Currency", "CreateTime", "ProductCode", "ProductCodeDisplay", "Regio\x80", "Region\xc5\xbf",
		"\xe2\x84\xaaodelID", "OrderNo@", "OrderNo`", "Cur`ency", "R", strings.Repeat("K", 33)} {
		f.Add(seed, uint8(0))
	}
	f.Fuzz(func(t *testing.T, key string, pad uint8) {
		inBody := append([]byte(key), make([]byte, pad%16)...)[:len(key)] // words read on past the key
		alone := []byte(key)[:len(key):len(key)]
		for _, table := range []*keyTable{topLevelKeys, dataKeys, orderKeys} {
			want := table.lookup([]byte(key), isASCII([]byte(key)))
			if got := table.plainKey(inBody); got != want {
				t.Fatalf("plainKey(%q) = %d, want %d", key, got, want)
			}
			if got := table.plainKey(alone); got != want {
				t.Fatalf("plainKey(%q), not in a body, = %d, want %d", key, got, want)
			}
		}
	})
}

// FuzzDecodePage feeds arbitrary bodies: the decoder must never panic, and
// a body it accepts must be valid JSON.
func FuzzDecodePage(f *testing.F) {
	for _, seed := range []string{
		`{"RetCode":0,"Orders":[` + fullOrder + `]}`, `{"RetCode":"153","Message":"throttled"}`,
		`{"Data":{"Orders":[],"TotalCount":"0"},"RetCode":0}`, `{"RetCode":0,"Orders":[{"X":[[[[]]]]}]}`, `{`,
		`{"RetCode":0,0":[]}`, `{"RetCode":0, 0":[]}`, `{"RetCode":0,"Orders":[{"a":1,x":2}]}`, `{"RetCode" :0}`,
		`{"RetCode":0,"Orders":[{"a":1,"b":"x"},{"a":2,"b":"y"},{"a":2,"b":"y}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p page
		if err := newDecoder().decodePage(body, &p); err != nil {
			return
		}
		assert.True(t, json.Valid(body), "accepted invalid JSON %q", body)
	})
}

// FuzzDecoderAcceptsValidStrings puts arbitrary bytes inside a skipped
// string and inside a kept one: whenever encoding/json accepts the body, so
// must the decoder, and the kept value must be the same. (The other fuzz
// targets only compare bodies both decoders accept.)
func FuzzDecoderAcceptsValidStrings(f *testing.F) {
	for _, seed := range []string{"", "plain", `esc\"aped\\`, `\u00e9\ud83d\ude80`, "UTF-8 华北", "\xff", "\x01", `\`, `","RetCode":0,"a":"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		body := []byte(`{"RetCode":0,"Skipped":"` + string(s) + `","Orders":[{"OrderNo":"` + string(s) +
			`","Region":"` + string(s) + `","OrderTotalPrice":"1","CreateTime":"1"}]}`)
		if !json.Valid([]byte(`"`+string(s)+`"`)) || !json.Valid(body) {
			// Not a string's content: s would end the string and add
			// members (a second RetCode, refused on purpose), not be one.
			return
		}
		var want struct {
			Orders []struct{ OrderNo, Region string }
		}
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatal(err)
		}
		var p page
		if err := newDecoder().decodePage(body, &p); err != nil {
			t.Fatalf("rejected valid %q: %v", body, err)
		}
		if len(p.orders) != 1 || p.orders[0].OrderNo != want.Orders[0].OrderNo || p.orders[0].Region != want.Orders[0].Region {
			t.Fatalf("%q: got %+v, want %+v", body, p.orders, want.Orders)
		}
	})
}

// BenchmarkDecodePage decodes a page of 100 full orders, CPU only.
func BenchmarkDecodePage(b *testing.B) {
	body := []byte(`{"RetCode":0,"Orders":[` + strings.TrimSuffix(strings.Repeat(fullOrder+",", 100), ",") + `]}`)
	d := newDecoder()
	var p page
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.decodePage(body, &p); err != nil {
			b.Fatal(err)
		}
	}
}
