package simapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/money"
	"github.com/stretchr/testify/require"
)

var testNow = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

type apiResp struct {
	Action     string
	RetCode    json.Number // a number or a string holding one
	Message    string
	TotalCount *json.Number
	Orders     []map[string]any
	Data       *struct{ Orders []map[string]any }
}

func (r apiResp) code(t *testing.T) int {
	t.Helper()
	n, err := strconv.Atoi(r.RetCode.String())
	require.NoError(t, err, "RetCode %q", r.RetCode)
	return n
}

func (r apiResp) orders() []map[string]any {
	if r.Data != nil {
		return r.Data.Orders
	}
	return r.Orders
}

func decode(t *testing.T, body []byte) apiResp {
	t.Helper()
	var r apiResp
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	require.NoError(t, d.Decode(&r), "body: %.300s", body)
	return r
}

// post sends form the way the exporter does and returns status and body.
func post(t *testing.T, srv *Server, form url.Values) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "simapi-test/1")
	return do(t, req)
}

// postHead posts form and returns the response, its body closed: for a
// test of the status and headers.
func postHead(t *testing.T, srv *Server, form url.Values) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func get(t *testing.T, srv *Server, form url.Values) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/?"+form.Encode(), nil)
	require.NoError(t, err)
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// call posts and decodes, requiring HTTP 200.
func call(t *testing.T, srv *Server, form url.Values) apiResp {
	t.Helper()
	status, body := post(t, srv, form)
	require.Equal(t, http.StatusOK, status, "body: %s", body)
	return decode(t, body)
}

// resign replaces the signature after a test changed the parameters.
func resign(form url.Values, privateKey string) {
	p := map[string]string{}
	for k, vs := range form {
		if k != "Signature" {
			p[k] = vs[0]
		}
	}
	form.Set("Signature", apiclient.Sign(p, privateKey))
}

// sweep fetches every page of q and returns all orders in the order served.
func sweep(t *testing.T, srv *Server, q apiclient.Query, pageSize int) []map[string]any {
	t.Helper()
	var all []map[string]any
	for page := 1; ; page++ {
		r := call(t, srv, srv.SignedForm(q, page, pageSize))
		require.Equal(t, 0, r.code(t), r.Message)
		all = append(all, r.orders()...)
		if len(r.orders()) < pageSize {
			return all
		}
		require.Less(t, page, 100000, "sweep does not end")
	}
}

// sum computes the truth from served orders, the way the exporter must.
func sum(t *testing.T, orders []map[string]any) Truth {
	t.Helper()
	tr := Truth{Series: map[Key]Series{}}
	for _, o := range orders {
		tr.Matched++
		amount, err := money.ParseString(o["OrderTotalPrice"].(string))
		if err != nil {
			tr.Invalid++
			continue
		}
		ct := createTime(t, o)
		k := Key{o["Region"].(string), o["ModelID"].(string), o["ProductCode"].(string), o["Currency"].(string)}
		s, ok := tr.Series[k]
		if !ok || ct < s.Oldest {
			s.Oldest = ct
		}
		s.Amount = s.Amount.Add(amount)
		s.Orders++
		tr.Series[k] = s
	}
	return tr
}

// requireSameTruth compares amounts exactly (by value, not by scale).
func requireSameTruth(t *testing.T, want, got Truth) {
	t.Helper()
	require.Equal(t, want.Matched, got.Matched, "matched")
	require.Equal(t, want.Invalid, got.Invalid, "invalid")
	require.Len(t, got.Series, len(want.Series))
	for k, w := range want.Series {
		g, ok := got.Series[k]
		require.True(t, ok, "missing series %+v", k)
		require.Zero(t, w.Amount.Cmp(g.Amount), "%+v: want %s got %s", k, w.Amount, g.Amount)
		require.Equal(t, w.Orders, g.Orders, "%+v", k)
		require.Equal(t, w.Oldest, g.Oldest, "%+v", k)
	}
}

// createTime reads an order's CreateTime, a JSON string or number.
func createTime(t *testing.T, o map[string]any) int64 {
	t.Helper()
	var s string
	switch v := o["CreateTime"].(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	default:
		t.Fatalf("CreateTime %T %v", v, v)
	}
	ct, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err)
	return ct
}

// window is a query for [start, end] in Unix seconds.
func window(start, end int64) apiclient.Query {
	return apiclient.Query{Start: time.Unix(start, 0), End: time.Unix(end, 0)}
}
