package simapi

import (
	"crypto/subtle"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/debt-exporter/debt_exporter/apiclient"
)

// query is a ListUnpaidOrders query as the server sees it: the window in
// Unix seconds and the seven filter lists. An empty list does not filter.
// An order matches when start <= CreateTime <= last, where last is EndTime,
// or EndTime-1 when the server treats EndTime as exclusive.
type query struct {
	start, end   int64 // as sent
	last         int64 // the last CreateTime inside the window
	ResourceIDs  []string
	ModelIDs     []string
	PricingUnits []int
	OrderTypes   []int
	Regions      []string
	PricingSKUs  []string
	ProductCodes []string
}

// queryOf is what the server makes of the request a client sends for q:
// the window in the whole seconds the API takes, and the same filters.
func (s *Server) queryOf(q apiclient.Query) query {
	out := query{
		ResourceIDs: q.ResourceIDs, ModelIDs: q.ModelIDs, PricingUnits: q.PricingUnits, OrderTypes: q.OrderTypes,
		Regions: q.Regions, PricingSKUs: q.PricingSKUs, ProductCodes: q.ProductCodes,
	}
	s.setWindow(&out, q.Start.Unix(), q.End.Unix())
	return out
}

func (s *Server) setWindow(q *query, start, end int64) {
	q.start, q.end, q.last = start, end, end
	if s.cfg.EndTimeExclusive {
		q.last = end - 1
	}
}

// listParams are the array parameters, in the order they are checked.
var listParams = []string{
	"ResourceIds", "ModelIds", "PricingUnits", "OrderTypes", "Regions", "PricingSkus", "ProductCodes",
}

func (q *query) strings(name string) *[]string {
	switch name {
	case "ResourceIds":
		return &q.ResourceIDs
	case "ModelIds":
		return &q.ModelIDs
	case "Regions":
		return &q.Regions
	case "PricingSkus":
		return &q.PricingSKUs
	case "ProductCodes":
		return &q.ProductCodes
	}
	return nil
}

func (q *query) ints(name string) *[]int {
	switch name {
	case "PricingUnits":
		return &q.PricingUnits
	case "OrderTypes":
		return &q.OrderTypes
	}
	return nil
}

// params renders the query as request parameters (without the public
// parameters, Page and PageSize), the way a correct client sends it.
func (q *query) params() map[string]string {
	p := map[string]string{
		"StartTime": strconv.FormatInt(q.start, 10),
		"EndTime":   strconv.FormatInt(q.end, 10),
	}
	for _, name := range listParams {
		if s := q.strings(name); s != nil {
			for i, v := range *s {
				p[name+"."+strconv.Itoa(i)] = v
			}
		} else {
			for i, v := range *q.ints(name) {
				p[name+"."+strconv.Itoa(i)] = strconv.Itoa(v)
			}
		}
	}
	return p
}

func (q *query) inWindow(ct int64) bool { return ct >= q.start && ct <= q.last }

// matchesFilters reports whether o passes the query's filters.
func (q *query) matchesFilters(o *order) bool {
	return in(q.ResourceIDs, o.key.id.s) && in(q.ModelIDs, o.model.id.s) &&
		in(q.PricingUnits, o.model.unit) && in(q.OrderTypes, o.orderType) &&
		in(q.Regions, o.region.code.s) && in(q.PricingSKUs, o.sku.name.s) &&
		in(q.ProductCodes, o.product.code.s)
}

func (q *query) filtered() bool {
	return len(q.ResourceIDs)+len(q.ModelIDs)+len(q.PricingUnits)+len(q.OrderTypes)+
		len(q.Regions)+len(q.PricingSKUs)+len(q.ProductCodes) > 0
}

func in[T comparable](list []T, v T) bool { return len(list) == 0 || slices.Contains(list, v) }

// filterKey identifies the filters independently of list order and
// duplicates, for the match-list cache.
func (q *query) filterKey() string {
	var sb strings.Builder
	for _, name := range listParams {
		var vals []string
		if s := q.strings(name); s != nil {
			vals = slices.Clone(*s)
		} else {
			for _, v := range *q.ints(name) {
				vals = append(vals, strconv.Itoa(v))
			}
		}
		sort.Strings(vals)
		vals = slices.Compact(vals)
		sb.WriteString(name)
		for _, v := range vals {
			sb.WriteString(strconv.Quote(v))
		}
		sb.WriteByte(';')
	}
	return sb.String()
}

// apiError is a RetCode answer.
type apiError struct {
	code int
	msg  string
}

func errf(code int, format string, args ...any) *apiError {
	return &apiError{code, fmt.Sprintf(format, args...)}
}

// request is a validated ListUnpaidOrders call.
type request struct {
	q              query
	page, pageSize int
}

// key identifies the request (everything but keys and signature) for the
// response memo and for the per-response whitespace.
func (r *request) key() string {
	return fmt.Sprintf("%d-%d/%s|%d|%d", r.q.start, r.q.end, r.q.filterKey(), r.page, r.pageSize)
}

// canonicalInt accepts only what a correct client renders: decimal digits,
// no sign, no leading zero, no spaces.
func canonicalInt(s string) (int64, bool) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || strconv.FormatInt(v, 10) != s {
		return 0, false
	}
	return v, true
}

// validate checks a request the way the provider does: action, signature,
// key, then every parameter. The order of checks is documented on Server.
func (s *Server) validate(p url.Values) (*request, *apiError) {
	for k, vs := range p {
		if len(vs) != 1 {
			return nil, errf(230, "Params [%s] given %d times", k, len(vs))
		}
	}
	get := func(k string) (string, bool) {
		vs, ok := p[k]
		if !ok {
			return "", false
		}
		return vs[0], true
	}
	action, ok := get("Action")
	switch {
	case !ok || action == "":
		return nil, errf(160, "Missing Action")
	case action != Action:
		return nil, errf(160, "Action [%s] not found", action)
	}
	sig, _ := get("Signature")
	if sig == "" {
		return nil, errf(170, "Missing Signature")
	}
	pub, _ := get("PublicKey")
	if pub == "" {
		return nil, errf(172, "Missing PublicKey")
	}
	if pub != s.cfg.PublicKey {
		return nil, errf(172, "No such user: PublicKey [%s] not found", pub)
	}
	signed := make(map[string]string, len(p))
	for k, vs := range p {
		if k != "Signature" {
			signed[k] = vs[0]
		}
	}
	want := apiclient.Sign(signed, s.cfg.PrivateKey)
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
		return nil, errf(171, "Signature VerifyAC Error")
	}

	req := &request{}
	lists := map[string][]string{}
	for k, vs := range p {
		if vs[0] == "" {
			// Sign skips empty values, so an empty parameter is a client bug
			// that the signature cannot catch.
			return nil, errf(230, "Params [%s] is empty", k)
		}
		switch k {
		case "Action", "PublicKey", "Signature", "Region", "Zone", "ProjectId",
			"StartTime", "EndTime", "Page", "PageSize":
			continue
		}
		name, idx, ok := strings.Cut(k, ".")
		if !ok || !slices.Contains(listParams, name) {
			return nil, errf(230, "Params [%s] not recognised", k)
		}
		n, ok := canonicalInt(idx)
		if !ok || n > 10000 {
			return nil, errf(230, "Params [%s] has a bad index", k)
		}
		l := lists[name]
		for int64(len(l)) <= n {
			l = append(l, "")
		}
		l[n] = vs[0]
		lists[name] = l
	}

	project, _ := get("ProjectId")
	if project != s.cfg.ProjectID {
		if project == "" {
			return nil, errf(292, "Missing ProjectId")
		}
		return nil, errf(292, "No such project [%s]", project)
	}

	var bad *apiError
	num := func(k string, min, max int64) int64 {
		v, present := get(k)
		n, ok := canonicalInt(v)
		switch {
		case bad != nil:
		case !present:
			bad = errf(230, "Missing params [%s]", k)
		case !ok || n < min || n > max:
			bad = errf(230, "Params [%s] not valid: %q", k, v)
		}
		return n
	}
	start := num("StartTime", 0, 1<<62)
	end := num("EndTime", 0, 1<<62)
	req.page = int(num("Page", 1, 1<<31))
	req.pageSize = int(num("PageSize", 10, 100))
	if bad != nil {
		return nil, bad
	}
	s.setWindow(&req.q, start, end)
	if end <= start {
		return nil, errf(230, "Params [EndTime] must be greater than StartTime")
	}
	for _, name := range listParams {
		l := lists[name]
		for i, v := range l {
			if v == "" {
				// A hole: Name.0 and Name.2 without Name.1.
				return nil, errf(230, "Params [%s.%d] missing: indices must be 0..N-1", name, i)
			}
		}
		if dst := req.q.strings(name); dst != nil {
			*dst = l
			continue
		}
		dst := req.q.ints(name)
		for i, v := range l {
			n, ok := canonicalInt(v)
			if !ok || n > 1<<31 {
				return nil, errf(230, "Params [%s.%d] not an integer: %q", name, i, v)
			}
			*dst = append(*dst, int(n))
		}
	}
	return req, nil
}
