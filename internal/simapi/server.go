package simapi

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"runtime"
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
	Seed   int64         // the dataset, postings and payments are pure functions of Seed and Orders
	Orders int           // base orders (at most math.MaxInt32)
	Now    time.Time     // newest CreateTime; zero means time.Now()
	Span   time.Duration // CreateTimes fall in (Now-Span, Now]; zero means DefaultSpan

	PublicKey  string // zero means DemoPublicKey
	PrivateKey string // zero means DemoPrivateKey
	// ProjectID, if set, must be sent as ProjectId; if empty, any ProjectId
	// is an unknown project. Both mismatches answer RetCode 292.
	ProjectID string

	// Sort is the order of answers: SortDesc (zero: CreateTime descending,
	// then OrderNo), SortAsc or Unsorted.
	Sort int
	// EndTimeExclusive makes the window [StartTime, EndTime); by default it
	// is [StartTime, EndTime]. The reference does not say which the API
	// does. Truth and UnpaidOrderNos follow the same rule.
	EndTimeExclusive bool
	// Varied writes orders the many ways a real API's answers come: text
	// raw or \u-escaped (surrogate pairs included), quotes, backslashes and
	// <>& in names and in a ModelID, a CJK ModelID, empty fields, amounts
	// with 0 to 8 decimals and up to about 1e8, CreateTime as a string or a
	// number, keys in several orders (all per order), compact or spaced
	// JSON (per response). Off: the plain dataset, always written one way.
	Varied bool

	DataWrapped      bool // orders under "Data":{"Orders":[...]} instead of top-level "Orders"
	NumbersAsStrings bool // int fields of orders, RetCode and TotalCount as JSON strings
	SendTotalCount   bool // add a top-level "TotalCount" (not in the reference)
	// InvalidAmountEvery > 0 makes every Nth order (ids N-1, 2N-1, ...)
	// carry an OrderTotalPrice that is not a plain decimal ("12,50", "1e3",
	// "", "N/A", ...). Truth counts them in Invalid.
	InvalidAmountEvery int
	// InvalidCreateTimeEvery > 0 makes every Nth order (ids N-N/2-1,
	// then every N) carry a CreateTime that is not an integer ("n/a", "",
	// null, "1767225600.5", ...). It is still served by its real time, so
	// it is in the answers of the slices that hold that time, and in two
	// answers of a time cursor that reads its second twice. Truth counts
	// it in InvalidCreateTime (only there, whatever its amount).
	InvalidCreateTimeEvery int
	// DailyPeaks bunches the base orders in a daily cycle, 9 times denser
	// at the peak than at the trough, as usage is: a window is no longer
	// evenly spread in time, which is what a sweep's first plan guesses.
	DailyPeaks bool
	// MemoResponses keeps every answer with data in memory, keyed by the
	// full request and the state of the set, and serves it again from
	// there: about 850 bytes per order served. Without it, bodies are
	// rendered on each request (about 1.5 µs per order) into recycled
	// buffers. Prerender fills the memo either way.
	MemoResponses bool
}

// Server is a ListUnpaidOrders endpoint that is as strict as the provider.
// It answers on path "/" only, to POST with an
// application/x-www-form-urlencoded body (and no query string) and to GET
// with the parameters in the query.
//
// Checks, in order: injected redirect; injected HTTP fault; path (404) and
// method (405); readable parameters (230); injected RetCode fault; Action
// (160), Signature missing (170), PublicKey missing or unknown (172),
// signature wrong (171), unknown, empty or repeated parameter or list index
// not 0..N-1 (230), ProjectId (292), StartTime, EndTime, Page, PageSize
// (230); random throttle and rate limit (153, or HTTP 429).
//
// Pages are offsets into the current set in Config.Sort order; the window
// follows Config.EndTimeExclusive. A page past the end is empty; the last
// page holds fewer than PageSize orders, or none.
type Server struct {
	// URL is the base URL, like httptest's ("http://127.0.0.1:port" or
	// "https://..." for NewTLS, no trailing slash); empty for NewHandler.
	URL string

	cfg    Config
	data   *dataset
	render renderer
	hs     *http.Server
	ln     net.Listener
	closed chan struct{}
	once   sync.Once
	cert   *x509.Certificate
	pool   *x509.CertPool

	requests  atomic.Int64
	throttled atomic.Int64
	admitted  atomic.Int64

	mu      sync.Mutex // guards f, hold, log
	f       faults
	hold    chan struct{} // Hold: requests wait until it closes; nil if not held
	log     []Request
	logNext int

	serveMu sync.Mutex   // serialises data answers while churn is set
	stateMu sync.RWMutex // guards live
	live    live

	viewMu       sync.Mutex
	views        map[string]*cachedView
	viewsVersion uint64

	memoMu      sync.RWMutex
	memo        map[string][]byte
	memoVersion uint64
}

// New starts a server on 127.0.0.1 with a random port. Close it when done.
// It panics on an invalid Config or a failed listen, as httptest does.
func New(cfg Config) *Server {
	return NewWithListener(cfg, listenLoopback())
}

func listenLoopback() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("simapi: cannot listen on loopback: %v", err))
	}
	return ln
}

// NewWithListener starts a server on ln, e.g. the demo mode's own loopback
// listener. Close closes ln. It is a plain http.Server, not httptest's, so
// that the demo mode does not link test code into the exporter.
func NewWithListener(cfg Config, ln net.Listener) *Server {
	s := NewHandler(cfg)
	s.serve(ln, "http://")
	return s
}

func (s *Server) serve(ln net.Listener, scheme string) {
	s.ln = ln
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.hs.Serve(ln) }()
	s.URL = scheme + ln.Addr().String()
}

// NewHandler returns a server that does not listen: serve it with
// Handler() on any listener. URL stays empty.
func NewHandler(cfg Config) *Server {
	if cfg.Orders < 0 || cfg.Orders > math.MaxInt32 || cfg.Span < 0 || cfg.InvalidAmountEvery < 0 || cfg.InvalidCreateTimeEvery < 0 ||
		cfg.Sort < SortDesc || cfg.Sort > Unsorted {
		panic(fmt.Sprintf("simapi: invalid Config: Orders=%d Span=%v InvalidAmountEvery=%d InvalidCreateTimeEvery=%d Sort=%d",
			cfg.Orders, cfg.Span, cfg.InvalidAmountEvery, cfg.InvalidCreateTimeEvery, cfg.Sort))
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	cfg.Now = cfg.Now.Truncate(time.Second)
	if cfg.Span == 0 {
		cfg.Span = DefaultSpan
	}
	cfg.Span = max(cfg.Span.Truncate(time.Second), time.Second)
	if cfg.PublicKey == "" {
		cfg.PublicKey = DemoPublicKey
	}
	if cfg.PrivateKey == "" {
		cfg.PrivateKey = DemoPrivateKey
	}
	s := &Server{
		cfg: cfg,
		data: newDataset(cfg.Seed, cfg.Orders, cfg.Now.Unix(), int64(cfg.Span/time.Second),
			cfg.InvalidAmountEvery, cfg.Varied),
		closed: make(chan struct{}),
		log:    make([]Request, 0, LoggedRequests),
		views:  map[string]*cachedView{},
		memo:   map[string][]byte{},
	}
	s.data.badTimeEvery = int64(cfg.InvalidCreateTimeEvery)
	s.data.dailyPeaks = cfg.DailyPeaks
	s.live.payRng = rng{mix(uint64(cfg.Seed) ^ 0x7061796d656e7473)}
	s.live.postRng = rng{mix(uint64(cfg.Seed) ^ 0x706f7374696e6773)}
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
func (s *Server) Query() apiclient.Query {
	return apiclient.Query{
		Start: time.Unix(s.data.now-int64(s.data.span)-1, 0),
		End:   time.Unix(s.data.now+1, 0),
	}
}

// SignedForm returns the parameters a correct client sends for q (Start and
// End in Unix seconds), signed with the server's keys (and ProjectId if
// configured).
func (s *Server) SignedForm(q apiclient.Query, page, pageSize int) url.Values {
	qq := s.queryOf(q)
	p := qq.params()
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
	latency, hold := s.f.latency, s.hold
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			s.record(rec)
			return
		case <-s.closed:
			return
		}
	}
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

// bodyPool recycles page bodies that are not memoised: fresh memory is what
// a sweep of a million orders would otherwise spend most of its server time
// on.
var bodyPool sync.Pool

func (s *Server) answer(w http.ResponseWriter, r *http.Request, rec *Request) (int, []byte, *[]byte) {
	text := func(status int, msg string) (int, []byte, *[]byte) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		return status, []byte(msg + "\n"), nil
	}
	if status, loc, ok := s.takeRedirect(); ok {
		w.Header().Set("Location", loc)
		return text(status, fmt.Sprintf("%d %s: %s (injected by simapi)", status, http.StatusText(status), loc))
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
	switch status, wait := s.throttle(); status {
	case http.StatusTooManyRequests:
		s.throttled.Add(1)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		return text(status, "429 Too Many Requests (rate limit of simapi)")
	case 153:
		s.throttled.Add(1)
		return fail(errf(153, "Request throttled: rate limit exceeded (simapi)"))
	}

	if s.churning() {
		s.serveMu.Lock()
		defer s.serveMu.Unlock()
	}
	body, pooled := s.dataBody(req)
	s.mu.Lock()
	if s.f.truncLeft != 0 && s.f.truncPage == req.page {
		s.f.truncLeft = decrement(s.f.truncLeft)
		body = body[:len(body)/2]
	}
	s.mu.Unlock()
	s.admitted.Add(1)
	s.afterAnswer(req.page)
	return http.StatusOK, body, pooled
}

// dataBody is the body of a successful answer to req, with the content
// faults applied. pooled, if not nil, is to be returned to bodyPool once the
// body is written.
func (s *Server) dataBody(req *request) (body []byte, pooled *[]byte) {
	s.mu.Lock()
	repeat, repeated := s.f.repeatLeft != 0, s.f.repeatBody
	if repeat {
		s.f.repeatLeft = decrement(s.f.repeatLeft)
		if s.f.repeatLeft == 0 {
			s.f.repeatBody = nil
		}
	}
	s.mu.Unlock()
	if repeated != nil {
		return repeated, nil
	}
	if repeat {
		first := *req
		first.page = 1
		b, _ := s.pageBody(&first, nil)
		s.mu.Lock()
		if s.f.repeatLeft != 0 && s.f.repeatBody == nil {
			s.f.repeatBody = b
		}
		s.mu.Unlock()
		return b, nil
	}
	pooled, _ = bodyPool.Get().(*[]byte)
	if pooled == nil {
		pooled = new([]byte)
	}
	b, inBuf := s.pageBody(req, pooled)
	if !inBuf {
		bodyPool.Put(pooled)
		return b, nil
	}
	*pooled = b // keep the grown buffer
	return b, pooled
}

// content is what a page holds besides its orders.
type content struct {
	endless    bool
	duplicate  bool
	outOfRange int64 // the CreateTime of the injected order, when hasOOR
	oorNo      int64
	hasOOR     bool
}

// pageBody renders (or finds in the memo) one successful page. buf, if not
// nil, is a recycled buffer to render into; with MemoResponses (or nil buf)
// the page is rendered into fresh memory and memoised. inBuf says whether
// the body is in buf.
func (s *Server) pageBody(req *request, buf *[]byte) (body []byte, inBuf bool) {
	v, version := s.view(&req.q)
	total := v.len()

	var c content
	s.mu.Lock()
	pageSize := int64(req.pageSize)
	capped := s.f.pageCap > 0 && int64(s.f.pageCap) < pageSize
	if capped {
		pageSize = int64(s.f.pageCap)
	}
	off := int64(req.page-1) * pageSize
	count := max(min(off+pageSize, total)-off, 0)
	c.endless = s.f.endless
	if c.endless {
		count = int64(req.pageSize)
	}
	if s.f.duplicateLeft != 0 && count > 0 {
		s.f.duplicateLeft = decrement(s.f.duplicateLeft)
		c.duplicate = true
	}
	if s.f.outOfRangeLeft != 0 {
		s.f.outOfRangeLeft = decrement(s.f.outOfRangeLeft)
		c.hasOOR, c.oorNo = true, s.f.outOfRangeNext
		s.f.outOfRangeNext++
		switch t := OutOfRangeTimes[c.oorNo%int64(len(OutOfRangeTimes))]; t {
		case 0:
			c.outOfRange = req.q.start - 1
		case 1:
			c.outOfRange = req.q.end + 1
		default:
			c.outOfRange = t
		}
	} else if s.f.atEndLeft != 0 {
		s.f.atEndLeft = decrement(s.f.atEndLeft)
		c.hasOOR, c.oorNo, c.outOfRange = true, s.f.outOfRangeNext, req.q.end
		s.f.outOfRangeNext++
	}
	s.mu.Unlock()

	plain := !c.endless && !c.duplicate && !c.hasOOR && !capped
	memoise := plain && (buf == nil || s.cfg.MemoResponses)
	key := ""
	if plain {
		s.memoMu.RLock()
		empty := len(s.memo) == 0
		s.memoMu.RUnlock()
		if !empty || memoise {
			key = strconv.FormatUint(version, 10) + "|" + req.key()
		}
		if !empty {
			s.memoMu.RLock()
			b, ok := s.memo[key]
			s.memoMu.RUnlock()
			if ok {
				return b, false
			}
		}
	}
	var b []byte
	if memoise || buf == nil {
		b = make([]byte, 0, 256+count*1100)
	} else {
		b = (*buf)[:0]
	}
	b = s.renderPage(b, req, v, off, count, &c)
	if memoise {
		s.memoMu.Lock()
		if s.memoVersion != version {
			clear(s.memo)
			s.memoVersion = version
		}
		s.memo[key] = b
		s.memoMu.Unlock()
		return b, false
	}
	return b, buf != nil
}

// styleFor picks the whitespace of a response: compact for the plain
// dataset, one of three styles by a hash of the request for a varied one.
func (s *Server) styleFor(req *request) *style {
	if !s.cfg.Varied {
		return compact
	}
	h := s.data.seed ^ 0x7374796c65
	for _, c := range []byte(req.key()) {
		h = (h ^ uint64(c)) * 0x100000001b3
	}
	return &styles[mix(h)%uint64(len(styles))]
}

func (s *Server) renderPage(b []byte, req *request, v view, off, count int64, c *content) []byte {
	st := s.styleFor(req)
	total := v.len()
	b = s.header(b, "", 0, st)
	if s.cfg.SendTotalCount && !c.endless {
		// An endless sweep must not be cut short by a count.
		b = append(b, st.comma...)
		b = append(b, `"TotalCount"`...)
		b = append(b, st.colon...)
		b = s.render.int(b, total)
	}
	b = append(b, st.comma...)
	if s.cfg.DataWrapped {
		b = append(b, `"Data"`...)
		b = append(b, st.colon...)
		b = append(b, st.open...)
	}
	b = append(b, `"Orders"`...)
	b = append(b, st.colon...)
	b = append(b, st.arrOpen...)
	served := count
	extra := int64(0)
	if c.duplicate {
		extra++
	}
	if c.hasOOR {
		extra++
	}
	served = min(served, int64(req.pageSize)-extra)
	// No closures here: an order passed to one escapes, once per order.
	n := 0
	for p := off; p < off+served; p++ {
		o := s.orderAt(v, p, total, c.endless)
		b = s.appendOrder(b, &o, st, n)
		n++
	}
	if c.duplicate && served > 0 {
		o := s.orderAt(v, off, total, c.endless)
		b = s.appendOrder(b, &o, st, n)
		n++
	}
	if c.hasOOR {
		var o order
		if total > 0 {
			o = v.at(min(off, total-1))
		} else {
			o = s.data.genAt(0, c.outOfRange)
		}
		o.createTime = c.outOfRange
		o.noTag, o.noNum = 'X', c.oorNo
		b = s.appendOrder(b, &o, st, n)
	}
	b = append(b, st.arrClose...)
	if s.cfg.DataWrapped {
		b = append(b, st.close...)
	}
	return append(b, st.close...)
}

func (s *Server) appendOrder(b []byte, o *order, st *style, n int) []byte {
	if n > 0 {
		b = append(b, st.orderSep...)
	}
	return s.render.order(b, o, st)
}

// orderAt is the order at position p of v; on endless pages, the orders
// cycle with fresh OrderNos.
func (s *Server) orderAt(v view, p, total int64, endless bool) order {
	if !endless {
		return v.at(p)
	}
	var o order
	if total > 0 {
		o = v.at(p % total)
	} else {
		o = s.data.genAt(p, s.data.now)
	}
	o.noTag, o.noNum = 'E', p
	return o
}

// Prerender renders every page of q at pageSize (including the empty or
// short last page) into the response memo, in parallel, so that a
// benchmark sweep then costs the server almost nothing. It works whether or
// not Config.MemoResponses is set, holds about 850 bytes per order
// (first-touch memory can be slow on small VMs: call it before the timer
// starts), and returns the number of pages. A change to the set (payments,
// postings) drops the memo. It panics on a pageSize outside 10..100.
func (s *Server) Prerender(q apiclient.Query, pageSize int) int {
	if pageSize < 10 || pageSize > 100 {
		panic("simapi: Prerender: pageSize must be 10..100")
	}
	qq := s.queryOf(q)
	v, _ := s.view(&qq)
	pages := int(v.len()/int64(pageSize)) + 1
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				p := int(next.Add(1))
				if p > pages {
					return
				}
				s.pageBody(&request{q: qq, page: p, pageSize: pageSize}, nil)
			}
		})
	}
	wg.Wait()
	return pages
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

func (s *Server) header(b []byte, action string, code int, st *style) []byte {
	if action == "" {
		action = Action
	}
	b = append(b, st.open...)
	b = append(b, `"Action"`...)
	b = append(b, st.colon...)
	b = appendJSONString(b, action+"Response", false)
	b = append(b, st.comma...)
	b = append(b, `"RetCode"`...)
	b = append(b, st.colon...)
	return s.render.int(b, int64(code))
}

func (s *Server) errorBody(action string, e *apiError) []byte {
	b := s.header(nil, action, e.code, compact)
	b = append(b, `,"Message":`...)
	b = appendJSONString(b, e.msg, false)
	return append(b, '}')
}
