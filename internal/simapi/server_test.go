package simapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRetCodes(t *testing.T) {
	srv := New(Config{Seed: 1, Orders: 50, Now: testNow})
	t.Cleanup(srv.Close)
	q := srv.Query()
	priv := srv.Config().PrivateKey

	cases := []struct {
		name   string
		change func(f url.Values) // then re-signed with the right key
		raw    func(f url.Values) // applied after signing
		want   int
	}{
		{name: "valid", want: 0},
		{name: "wrong private key", raw: func(f url.Values) { resign(f, "not-the-key") }, want: 171},
		{name: "tampered after signing", raw: func(f url.Values) { f.Set("Page", "2") }, want: 171},
		{name: "signature upper case", raw: func(f url.Values) { f.Set("Signature", strings.ToUpper(f.Get("Signature"))) }, want: 171},
		{name: "signature missing", raw: func(f url.Values) { f.Del("Signature") }, want: 170},
		{name: "public key missing", change: func(f url.Values) { f.Del("PublicKey") }, want: 172},
		{name: "public key unknown", change: func(f url.Values) { f.Set("PublicKey", "someone-else") }, want: 172},
		{name: "action unknown", change: func(f url.Values) { f.Set("Action", "ListOrders") }, want: 160},
		{name: "action missing", change: func(f url.Values) { f.Del("Action") }, want: 160},
		{name: "StartTime missing", change: func(f url.Values) { f.Del("StartTime") }, want: 230},
		{name: "EndTime missing", change: func(f url.Values) { f.Del("EndTime") }, want: 230},
		{name: "EndTime equals StartTime", change: func(f url.Values) { f.Set("EndTime", f.Get("StartTime")) }, want: 230},
		{name: "EndTime before StartTime", change: func(f url.Values) { f.Set("EndTime", "1000") }, want: 230},
		{name: "StartTime not a number", change: func(f url.Values) { f.Set("StartTime", "yesterday") }, want: 230},
		{name: "StartTime with sign", change: func(f url.Values) { f.Set("StartTime", "+1000") }, want: 230},
		{name: "StartTime with fraction", change: func(f url.Values) { f.Set("StartTime", "1000.5") }, want: 230},
		{name: "Page zero", change: func(f url.Values) { f.Set("Page", "0") }, want: 230},
		{name: "Page missing", change: func(f url.Values) { f.Del("Page") }, want: 230},
		{name: "Page leading zero", change: func(f url.Values) { f.Set("Page", "01") }, want: 230},
		{name: "PageSize 9", change: func(f url.Values) { f.Set("PageSize", "9") }, want: 230},
		{name: "PageSize 101", change: func(f url.Values) { f.Set("PageSize", "101") }, want: 230},
		{name: "PageSize 10", change: func(f url.Values) { f.Set("PageSize", "10") }, want: 0},
		{name: "PageSize missing", change: func(f url.Values) { f.Del("PageSize") }, want: 230},
		{name: "unknown parameter", change: func(f url.Values) { f.Set("Limit", "10") }, want: 230},
		{name: "misspelt list", change: func(f url.Values) { f.Set("Region.0", "hk") }, want: 230},
		{name: "list without index", change: func(f url.Values) { f.Set("Regions", "hk") }, want: 230},
		{name: "list starting at 1", change: func(f url.Values) { f.Set("Regions.1", "hk") }, want: 230},
		{name: "list with hole", change: func(f url.Values) { f.Set("Regions.0", "hk"); f.Set("Regions.2", "us-ca") }, want: 230},
		{name: "list index leading zero", change: func(f url.Values) { f.Set("Regions.00", "hk") }, want: 230},
		{name: "list natural N", change: func(f url.Values) { f.Set("Regions.N", "hk") }, want: 230},
		{name: "int list not int", change: func(f url.Values) { f.Set("PricingUnits.0", "tokens") }, want: 230},
		{name: "empty value", change: func(f url.Values) { f.Set("Regions.0", "") }, want: 230},
		{name: "repeated parameter", change: func(f url.Values) { f.Add("Regions.0", "hk"); f.Add("Regions.0", "us-ca") }, want: 230},
		{name: "Region and Zone allowed", change: func(f url.Values) { f.Set("Region", "cn-wlcb"); f.Set("Zone", "cn-wlcb-01") }, want: 0},
		{name: "ten list items", change: func(f url.Values) {
			for i, r := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"} {
				f.Set("Regions."+strconv.Itoa(i), r)
			}
		}, want: 0},
		{name: "ProjectId not configured", change: func(f url.Values) { f.Set("ProjectId", "org-x") }, want: 292},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := srv.SignedForm(q, 1, 100)
			if c.change != nil {
				c.change(f)
				resign(f, priv)
			}
			if c.raw != nil {
				c.raw(f)
			}
			r := call(t, srv, f)
			assert.Equal(t, c.want, r.code(t), r.Message)
			wantAction := f.Get("Action")
			if wantAction == "" {
				wantAction = Action
			}
			assert.Equal(t, wantAction+"Response", r.Action)
			if c.want != 0 {
				assert.NotEmpty(t, r.Message)
				assert.Nil(t, r.orders())
			}
		})
	}
}

func TestProjectID(t *testing.T) {
	srv := New(Config{Seed: 1, Orders: 20, Now: testNow, ProjectID: "org-abc123"})
	t.Cleanup(srv.Close)
	priv := srv.Config().PrivateKey
	for _, c := range []struct {
		name, project string
		want          int
	}{{"right", "org-abc123", 0}, {"wrong", "org-other", 292}, {"missing", "", 292}} {
		t.Run(c.name, func(t *testing.T) {
			f := srv.SignedForm(srv.Query(), 1, 100)
			f.Del("ProjectId")
			if c.project != "" {
				f.Set("ProjectId", c.project)
			}
			resign(f, priv)
			assert.Equal(t, c.want, call(t, srv, f).code(t))
		})
	}
}

// The contract's fourth vector, served: a server with the documentation's
// keys accepts exactly the documented signature.
func TestContractVector(t *testing.T) {
	srv := New(Config{
		Now: testNow, ProjectID: "org-abc123",
		PublicKey: "ucloudsomeone@example.com1296235120854146120", PrivateKey: "46f09bb9fab4f12dfc160dae12273d5332b5debe",
	})
	t.Cleanup(srv.Close)
	f := url.Values{}
	for k, v := range map[string]string{
		"Action": "ListUnpaidOrders", "PublicKey": "ucloudsomeone@example.com1296235120854146120",
		"StartTime": "1767225600", "EndTime": "1769904000", "Page": "1", "PageSize": "100",
		"ProductCodes.0": "modelverse", "ProductCodes.1": "sandbox", "ResourceIds.0": "key-a", "ResourceIds.1": "key-b",
		"Region": "cn-wlcb", "ProjectId": "org-abc123", "Signature": "ba1409cab4b30be3b352073462b11acc4a61de92",
	} {
		f.Set(k, v)
	}
	assert.Equal(t, 0, call(t, srv, f).code(t))
	f.Set("Signature", "5b37f8fee3aa4b426fa0b7b872f7c2315f76d0aa") // the vector without Region and ProjectId
	assert.Equal(t, 171, call(t, srv, f).code(t))
}

func TestTransport(t *testing.T) {
	srv := New(Config{Seed: 3, Orders: 30, Now: testNow})
	t.Cleanup(srv.Close)
	form := srv.SignedForm(srv.Query(), 1, 100)

	t.Run("POST", func(t *testing.T) {
		r := call(t, srv, form)
		require.Equal(t, 0, r.code(t), r.Message)
		assert.Len(t, r.orders(), 30)
		got := srv.LastRequest()
		assert.Equal(t, http.MethodPost, got.Method)
		assert.Equal(t, "/", got.Path)
		assert.Empty(t, got.RawQuery)
		assert.Equal(t, "application/x-www-form-urlencoded", got.ContentType)
		assert.Equal(t, "simapi-test/1", got.UserAgent)
		assert.Equal(t, form.Get("Signature"), got.Params.Get("Signature"))
		assert.Equal(t, http.StatusOK, got.Status)
		assert.EqualValues(t, 1, srv.Requests())
	})
	t.Run("GET", func(t *testing.T) {
		status, body := get(t, srv, form)
		require.Equal(t, http.StatusOK, status)
		r := decode(t, body)
		require.Equal(t, 0, r.code(t), r.Message)
		assert.Len(t, r.orders(), 30)
		got := srv.LastRequest()
		assert.Equal(t, http.MethodGet, got.Method)
		assert.Contains(t, got.RawQuery, "Signature=") // why the exporter must not use GET
	})
	t.Run("POST with query", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/?"+form.Encode(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		_, body := do(t, req)
		assert.Equal(t, 230, decode(t, body).code(t))
	})
	t.Run("POST JSON", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"Action":"ListUnpaidOrders"}`))
		req.Header.Set("Content-Type", "application/json")
		_, body := do(t, req)
		assert.Equal(t, 230, decode(t, body).code(t))
	})
	t.Run("PUT", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, srv.URL, strings.NewReader(form.Encode()))
		status, _ := do(t, req)
		assert.Equal(t, http.StatusMethodNotAllowed, status)
	})
	t.Run("other path", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1?"+form.Encode(), nil)
		status, _ := do(t, req)
		assert.Equal(t, http.StatusNotFound, status)
	})
	t.Run("handler on own listener", func(t *testing.T) {
		h := NewHandler(Config{Seed: 3, Orders: 30, Now: testNow})
		assert.Empty(t, h.URL)
		srv2 := New(Config{Seed: 3, Orders: 30, Now: testNow})
		defer srv2.Close()
		_, a := post(t, srv, form)
		_, b := post(t, srv2, form)
		assert.Equal(t, a, b, "same Config, same bytes")
		assert.Implements(t, (*http.Handler)(nil), h.Handler())
	})
}

func TestSignedFormMatchesSigner(t *testing.T) {
	srv := NewHandler(Config{ProjectID: "p"})
	f := srv.SignedForm(apiclient.Query{Start: time.Unix(1, 0), End: time.Unix(2, 0), Regions: []string{"hk", "us-ca"}}, 3, 50)
	p := map[string]string{}
	for k := range f {
		p[k] = f.Get(k)
	}
	assert.Equal(t, apiclient.Sign(p, DemoPrivateKey), f.Get("Signature"))
	assert.Equal(t, "p", f.Get("ProjectId"))
}
