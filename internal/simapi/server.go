package simapi

import (
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/debt-exporter/debt_exporter/apiclient"
)

// Action is the only action the server knows.
const Action = "ListUnpaidOrders"

// Keys used when Config leaves them empty; also what the exporter's demo
// mode configures. They protect nothing: the server listens on loopback.
const (
	DemoPublicKey  = "demo-public-key-4b1e7c9a"
	DemoPrivateKey = "demo-private-key-8f3d2a6c5e0b9d17"
)

// DefaultSpan is how far back CreateTimes reach when Config.Span is zero.
const DefaultSpan = 30 * 24 * time.Hour

// LoggedRequests is how many requests the request log keeps.
const LoggedRequests = 256

// Config describes the dataset and the server's dialect. The zero value is a
// valid server with no orders.
type Config struct {
	Seed   int64         // the dataset is a pure function of Seed and Orders
	Orders int           // base orders (at most math.MaxInt32)
	Now    time.Time     // newest CreateTime; zero means time.Now()
	Span   time.Duration // CreateTimes fall in (Now-Span, Now]; zero means DefaultSpan

	PublicKey  string // zero means DemoPublicKey
	PrivateKey string // zero means DemoPrivateKey
	// ProjectID, if set, must be sent as ProjectId; if empty, any ProjectId
	// is an unknown project. Both mismatches answer RetCode 292.
	ProjectID string

	DataWrapped      bool // orders under "Data":{"Orders":[...]} instead of top-level "Orders"
	NumbersAsStrings bool // int fields of orders, RetCode and TotalCount as JSON strings
	SendTotalCount   bool // add a top-level "TotalCount" (not in the reference)
	// InvalidAmountEvery > 0 makes every Nth order (indices N-1, 2N-1, ...)
	// carry an OrderTotalPrice that is not a plain decimal ("12,50", "1e3",
	// "", "N/A", ...). Truth counts them in Invalid.
	InvalidAmountEvery int
	// CachePages keeps every rendered page body, keyed by the matching
	// orders, page and page size, and serves it again from memory. Costs
	// about 850 bytes per order served. Without it, bodies are rendered on
	// each request (about 1.5 µs per order) into recycled buffers.
	CachePages bool
}

// Server is a ListUnpaidOrders endpoint that is as strict as the provider.
// It answers on path "/" only, to POST with an
// application/x-www-form-urlencoded body (and no query string) and to GET
// with the parameters in the query.
//
// Checks, in order: injected HTTP fault; path (404) and method (405);
// readable parameters (230); injected RetCode fault; Action (160), Signature
// missing (170), PublicKey missing or unknown (172), signature wrong (171),
// unknown, empty or repeated parameter or list index not 0..N-1 (230),
// ProjectId (292), StartTime, EndTime, Page, PageSize (230).
//
// Pages follow the API's sort order: CreateTime descending, then OrderNo.
// The window is inclusive at both ends: StartTime <= CreateTime <= EndTime.
// A page past the end is empty; the last page holds fewer than PageSize
// orders, or none.
type Server struct {
	// URL is the base URL, like httptest's ("http://127.0.0.1:port", no
	// trailing slash); empty for NewHandler.
	URL string

	cfg    Config
	data   *dataset
	render renderer
	hs     *http.Server
	ln     net.Listener
	closed chan struct{}
	once   sync.Once

	requests atomic.Int64

	mu      sync.Mutex // guards f, shifted, log
	f       faults
	shifted int64
	log     []Request
	logNext int

	listMu sync.Mutex
	lists  map[string]*matchList

	pageMu sync.RWMutex
	pages  map[string][]byte
}

// New starts a server on 127.0.0.1 with a random port. Close it when done.
// It panics on an invalid Config or a failed listen, as httptest does.
func New(cfg Config) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("simapi: cannot listen on loopback: %v", err))
	}
	return NewWithListener(cfg, ln)
}

// NewWithListener starts a server on ln, e.g. the demo mode's own loopback
// listener. Close closes ln. It is a plain http.Server, not httptest's, so
// that the demo mode does not link test code into the exporter.
func NewWithListener(cfg Config, ln net.Listener) *Server {
	s := NewHandler(cfg)
	s.ln = ln
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.hs.Serve(ln) }()
	s.URL = "http://" + ln.Addr().String()
	return s
}

// NewHandler returns a server that does not listen: serve it with
// Handler() on any listener. URL stays empty.
func NewHandler(cfg Config) *Server {
	if cfg.Orders < 0 || cfg.Orders > math.MaxInt32 || cfg.Span < 0 || cfg.InvalidAmountEvery < 0 {
		panic(fmt.Sprintf("simapi: invalid Config: Orders=%d Span=%v InvalidAmountEvery=%d",
			cfg.Orders, cfg.Span, cfg.InvalidAmountEvery))
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	cfg.Now = cfg.Now.Truncate(time.Second)
	if cfg.Span == 0 {
		cfg.Span = DefaultSpan
	}
	if cfg.PublicKey == "" {
		cfg.PublicKey = DemoPublicKey
	}
	if cfg.PrivateKey == "" {
		cfg.PrivateKey = DemoPrivateKey
	}
	s := &Server{
		cfg:    cfg,
		data:   newDataset(cfg.Seed, cfg.Orders, cfg.Now.Unix(), int64(cfg.Span/time.Second), cfg.InvalidAmountEvery),
		closed: make(chan struct{}),
		log:    make([]Request, 0, LoggedRequests),
		lists:  map[string]*matchList{},
		pages:  map[string][]byte{},
	}
	s.render = renderer{d: s.data, numbersAsStrings: cfg.NumbersAsStrings}
	return s
}

// Handler returns the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s }

// Config returns the configuration in effect, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Close stops the server, cutting short any injected latency.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closed) })
	if s.hs != nil {
		_ = s.hs.Close()
	}
}

// Query returns the query for the whole dataset: the window (Now-Span, Now]
// widened by a second on each side, no filters.
func (s *Server) Query() TruthQuery {
	return TruthQuery{StartTime: s.data.now - int64(s.data.span) - 1, EndTime: s.data.now + 1}
}

// SignedForm returns the parameters a correct client sends for q, signed
// with the server's keys (and ProjectId if configured).
func (s *Server) SignedForm(q TruthQuery, page, pageSize int) url.Values {
	p := q.Params()
	p["Action"] = Action
	p["PublicKey"] = s.cfg.PublicKey
	p["Page"] = strconv.Itoa(page)
	p["PageSize"] = strconv.Itoa(pageSize)
	if s.cfg.ProjectID != "" {
		p["ProjectId"] = s.cfg.ProjectID
	}
	p["Signature"] = apiclient.Sign(p, s.cfg.PrivateKey)
	form := url.Values{}
	for k, v := range p {
		form.Set(k, v)
	}
	return form
}

// Request is one request as the server received it.
type Request struct {
	Method      string
	Path        string
	RawQuery    string // everything after '?': must hold no secret for POST
	ContentType string
	UserAgent   string
	Params      url.Values // from the body (POST) or the query (GET); nil if unreadable
	Status      int        // HTTP status answered
	RetCode     int        // RetCode answered when Status is 200
}

// Requests returns how many requests the server has received, whatever
// their outcome.
func (s *Server) Requests() int64 { return s.requests.Load() }

// LastRequests returns up to the last n requests (n <= LoggedRequests),
// oldest first. A request is logged before its answer is written.
func (s *Server) LastRequests(n int) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = min(n, len(s.log))
	out := make([]Request, 0, n)
	for i := len(s.log) - n; i < len(s.log); i++ {
		out = append(out, s.log[(s.logNext+i)%len(s.log)])
	}
	return out
}

// LastRequest returns the latest request, or the zero Request.
func (s *Server) LastRequest() Request {
	if r := s.LastRequests(1); len(r) == 1 {
		return r[0]
	}
	return Request{}
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.log) < LoggedRequests {
		s.log = append(s.log, r)
		return
	}
	s.log[s.logNext] = r
	s.logNext = (s.logNext + 1) % LoggedRequests
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	rec := Request{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		ContentType: r.Header.Get("Content-Type"), UserAgent: r.UserAgent(),
	}
	s.mu.Lock()
	latency := s.f.latency
	s.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			s.record(rec)
			return
		case <-s.closed:
			t.Stop()
			return
		}
	}
	status, body, pooled := s.answer(w, r, &rec)
	rec.Status = status
	s.record(rec)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	if pooled != nil {
		bodyPool.Put(pooled)
	}
}

// bodyPool recycles uncached page bodies: fresh memory is what a sweep of a
// million orders would otherwise spend most of its server time on.
var bodyPool sync.Pool

func (s *Server) answer(w http.ResponseWriter, r *http.Request, rec *Request) (int, []byte, *[]byte) {
	text := func(status int, msg string) (int, []byte, *[]byte) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		return status, []byte(msg + "\n"), nil
	}
	if status, ok := s.takeHTTPFault(); ok {
		return text(status, fmt.Sprintf("%d %s (injected by simapi)", status, http.StatusText(status)))
	}
	if r.URL.Path != "/" {
		return text(http.StatusNotFound, "404 page not found: the API answers on / only")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		return text(http.StatusMethodNotAllowed, "405 method not allowed")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	params, err := readParams(r)
	rec.Params = params
	fail := func(e *apiError) (int, []byte, *[]byte) {
		rec.RetCode = e.code
		return http.StatusOK, s.errorBody(params.Get("Action"), e), nil
	}
	if err != nil {
		return fail(errf(230, "%v", err))
	}
	if code, ok := s.takeRetCodeFault(); ok {
		return fail(errf(code, "RetCode %d injected by simapi", code))
	}
	req, aerr := s.validate(params)
	if aerr != nil {
		return fail(aerr)
	}

	s.mu.Lock()
	shifted, endless := s.shifted, s.f.endless
	s.mu.Unlock()
	var pooled *[]byte
	if !s.cfg.CachePages {
		pooled, _ = bodyPool.Get().(*[]byte)
		if pooled == nil {
			pooled = new([]byte)
		}
	}
	body, rendered := s.pageBody(req, shifted, endless, pooled)
	if pooled != nil && rendered {
		*pooled = body // keep the grown buffer; a cached body is never pooled
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.truncLeft != 0 && s.f.truncPage == req.page {
		s.f.truncLeft = decrement(s.f.truncLeft)
		body = body[:len(body)/2]
	}
	if s.f.shiftBy > 0 && s.f.shiftAfterPage == req.page {
		s.shifted += int64(s.f.shiftBy)
		s.f.shiftBy = 0
	}
	return http.StatusOK, body, pooled
}

func readParams(r *http.Request) (url.Values, error) {
	if r.Method == http.MethodGet {
		return url.ParseQuery(r.URL.RawQuery)
	}
	if r.URL.RawQuery != "" {
		return nil, errors.New("POST with parameters in the URL: send them in the body")
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, fmt.Errorf("POST body must be application/x-www-form-urlencoded, not %q", r.Header.Get("Content-Type"))
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil {
		return nil, err
	}
	if len(b) > 1<<20 {
		return nil, errors.New("request body over 1 MiB")
	}
	return url.ParseQuery(string(b))
}

func (s *Server) header(b []byte, action string, code int) []byte {
	if action == "" {
		action = Action
	}
	b = append(b, `{"Action":`...)
	b = appendJSONString(b, action+"Response", false)
	b = append(b, `,"RetCode":`...)
	return s.render.int(b, int64(code))
}

func (s *Server) errorBody(action string, e *apiError) []byte {
	b := s.header(nil, action, e.code)
	b = append(b, `,"Message":`...)
	b = appendJSONString(b, e.msg, false)
	return append(b, '}')
}

// matchList is the base orders matching a query, in sort order: the index
// range [lo, hi) of the window, narrowed by idx when there are filters.
type matchList struct {
	once   sync.Once
	lo, hi int64
	idx    []int32
	key    string
}

func (m *matchList) len() int64 {
	if m.idx != nil {
		return int64(len(m.idx))
	}
	return m.hi - m.lo
}

func (m *matchList) at(j int64) int64 {
	if m.idx != nil {
		return int64(m.idx[j])
	}
	return m.lo + j
}

const maxCachedLists = 64

// list returns the base orders matching q. The window becomes an index range
// by binary search; filtered lists are computed once per distinct query.
func (s *Server) list(q *TruthQuery) *matchList {
	n := int(s.data.n)
	lo := int64(sort.Search(n, func(i int) bool { return s.data.createTime(int64(i)) <= q.EndTime }))
	hi := int64(sort.Search(n, func(i int) bool { return s.data.createTime(int64(i)) < q.StartTime }))
	hi = max(hi, lo)
	key := fmt.Sprintf("%d-%d/%s", lo, hi, q.filterKey())
	if !q.filtered() {
		return &matchList{lo: lo, hi: hi, key: key}
	}
	s.listMu.Lock()
	m, ok := s.lists[key]
	if !ok {
		if len(s.lists) >= maxCachedLists {
			clear(s.lists)
		}
		m = &matchList{lo: lo, hi: hi, key: key}
		s.lists[key] = m
	}
	s.listMu.Unlock()
	m.once.Do(func() {
		idx := make([]int32, 0, 64)
		for i := lo; i < hi; i++ {
			o := s.data.gen(i)
			if q.matches(&o) {
				idx = append(idx, int32(i))
			}
		}
		m.idx = idx
	})
	return m
}

// view is the full result of a query at one moment: shifted orders (newest
// first) followed by the matching base orders.
type view struct {
	shifted []int64
	base    *matchList
}

func (s *Server) view(q *TruthQuery, shifted int64) view {
	v := view{base: s.list(q)}
	for k := shifted - 1; k >= 0; k-- {
		o := s.data.gen(s.data.n + k)
		if q.matches(&o) {
			v.shifted = append(v.shifted, o.v)
		}
	}
	return v
}

func (v view) len() int64 { return int64(len(v.shifted)) + v.base.len() }

func (v view) at(p int64) int64 {
	if p < int64(len(v.shifted)) {
		return v.shifted[p]
	}
	return v.base.at(p - int64(len(v.shifted)))
}

// pageBody renders (or fetches from the cache) one successful page. With a
// buffer from the pool it renders into it and caches nothing; without one it
// renders into fresh memory and keeps the result in the page cache.
func (s *Server) pageBody(req *request, shifted int64, endless bool, buf *[]byte) (body []byte, rendered bool) {
	v := s.view(&req.q, shifted)
	key := ""
	if !endless {
		key = fmt.Sprintf("%s|%d|%d|%d", v.base.key, shifted, req.page, req.pageSize)
		s.pageMu.RLock()
		b, ok := s.pages[key]
		s.pageMu.RUnlock()
		if ok {
			return b, false
		}
	}
	total := v.len()
	off := int64(req.page-1) * int64(req.pageSize)
	end := min(off+int64(req.pageSize), total)
	if endless {
		end = off + int64(req.pageSize)
	}
	var b []byte
	if buf != nil {
		b = (*buf)[:0]
	} else {
		b = make([]byte, 0, 256+max(end-off, 0)*1100)
	}
	b = s.header(b, "", 0)
	if s.cfg.SendTotalCount && !endless {
		// An endless sweep must not be cut short by a count.
		b = append(b, `,"TotalCount":`...)
		b = s.render.int(b, total)
	}
	if s.cfg.DataWrapped {
		b = append(b, `,"Data":{"Orders":[`...)
	} else {
		b = append(b, `,"Orders":[`...)
	}
	for p := off; p < end; p++ {
		if p > off {
			b = append(b, ',')
		}
		if !endless {
			o := s.data.gen(v.at(p))
			b = s.render.order(b, &o, -1)
			continue
		}
		src := p
		if total > 0 {
			src = v.at(p % total)
		}
		o := s.data.gen(src)
		b = s.render.order(b, &o, p)
	}
	b = append(b, ']')
	if s.cfg.DataWrapped {
		b = append(b, '}')
	}
	b = append(b, '}')
	if buf == nil && key != "" {
		s.pageMu.Lock()
		s.pages[key] = b
		s.pageMu.Unlock()
	}
	return b, true
}

// Prerender renders every page of q at pageSize (including the empty or
// short last page) into the page cache, in parallel, so that a benchmark
// sweep then costs the server almost nothing. It works whether or not
// Config.CachePages is set, holds about 850 bytes per order (first-touch
// memory can be slow on small VMs: call it before the timer starts), and
// returns the number of pages. It panics on a pageSize outside 10..100.
func (s *Server) Prerender(q TruthQuery, pageSize int) int {
	if pageSize < 10 || pageSize > 100 {
		panic("simapi: Prerender: pageSize must be 10..100")
	}
	shifted := s.Shifted()
	pages := int(s.view(&q, shifted).len()/int64(pageSize)) + 1
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				p := int(next.Add(1))
				if p > pages {
					return
				}
				s.pageBody(&request{q: q, page: p, pageSize: pageSize}, shifted, false, nil)
			}
		})
	}
	wg.Wait()
	return pages
}

// DropPageCache frees the page cache.
func (s *Server) DropPageCache() {
	s.pageMu.Lock()
	clear(s.pages)
	s.pageMu.Unlock()
}
