package apiclient

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// How a sweep reads the window, and why it is exact on a live account.
//
// One answer of the API is an atomic snapshot of its query. Offset paging
// (Page=1..n of one window) stitches many snapshots together, and between
// them orders are paid (later ones move back a position: some are never
// read) or posted late (later ones move forward: some are read twice). So a
// sweep cuts the window into time slices [a, b) and reads each with Page=1:
//
//   - an answer with fewer than PageSize orders is the whole slice;
//   - a full answer sorted by CreateTime is complete up to its last
//     CreateTime (exclusive): those orders are taken, and the rest of the
//     slice is read the same way from there (a time cursor);
//   - a full answer that is not sorted is dropped and the slice is split.
//
// Slices are disjoint in CreateTime, which never changes, and every order is
// taken from one snapshot of its slice: an order unpaid throughout the
// sweep is counted exactly once, one paid or posted during it at most once.
// Orders are filtered on the client to [a, b), so it does not matter
// whether the API's EndTime is inclusive or exclusive.
//
// One second holding PageSize orders or more cannot be cut by time: it is
// paged through (Page=1..n of [t, t+1)), repeats removed by OrderNo. That is
// the residual risk: orders of that very second paid during its paging may
// be missed. Stats.DenseSeconds counts such seconds.
//
// Slices are planned from the previous sweep's spread of orders in time, so
// that in steady state nearly every request is the only one of its slice,
// and fetched by Concurrency workers, each aggregating on its own (and as
// many spare ones, which take a slice while a request waits out a
// Retry-After or a backoff).

// Stats describes a sweep, finished or not.
type Stats struct {
	Requests int // requests sent, answered or not (retries included)
	Pages    int // answers with data
	Orders   int // orders delivered to the callback
	Slices   int // time slices read
	Proofs   int // answers to probeCap's requests, included in Pages
	// DenseSeconds are seconds with PageSize orders or more, read by paging.
	DenseSeconds int
	// OutOfRange are orders whose CreateTime was outside the slice asked
	// for: the API misbehaving. They are not delivered.
	OutOfRange        int
	OutOfRangeExample string
	Sorted            string // "ascending", "descending" or "unsorted": the API's order, as seen
}

// ErrRepeats fails a sweep whose API serves the same orders again.
var ErrRepeats = errors.New("the API repeats itself")

// ErrShortPages: an answer holds fewer orders than its own TotalCount
// leaves for its page. A sweep takes a short answer for the end of its
// slice, so an API that caps PageSize without saying so would lose the
// rest, with nothing else to show it.
var ErrShortPages = errors.New("the API answers pages shorter than PageSize")

// shortOfTotal checks an answer of n orders against the TotalCount it
// came with (-1: none), which counts its whole query in the same snapshot
// as its page: page holds min(pageSize, what is left) orders. A TotalCount
// only ever refuses an answer here: it never ends a slice, so one that
// counts something else cannot lose an order.
func shortOfTotal(n int, total int64, page, pageSize int) error {
	if total < 0 {
		return nil
	}
	want := min(int64(pageSize), total-int64(page-1)*int64(pageSize))
	if int64(n) >= want {
		return nil
	}
	err := fmt.Errorf("%w: %d orders for a page of %d while its TotalCount of %d leaves %d for page %d",
		ErrShortPages, n, pageSize, total, want, page)
	if n >= 10 && want == int64(pageSize) {
		// A full page was due: n is what the API serves a page (10 is the
		// least PageSize it takes).
		err = fmt.Errorf("%w (set --api.page-size to %d or less)", err, n)
	}
	return err
}

// ErrIgnoresRange fails a sweep whose API answers orders outside the
// requested StartTime/EndTime.
var ErrIgnoresRange = errors.New("the API answered orders outside the requested time range")

// maxDenseOrders bounds the orders of one second read by paging: 10,000
// orders posted in one second is far past any real account, and a sign of
// pages that never end. A bound in orders, not pages, so that a small
// --api.page-size does not make a billing run's second an error.
const maxDenseOrders = 10_000

// slice is [start, end) in Unix seconds. A first sweep (no plan yet) has
// one slice, the window, marked fanout: its first full answer spreads the
// rest over every worker.
//
// A slice of a walk (walkEnd > end) is one step through the region
// [start, walkEnd) of the first sweep of an unsorted API: once it is read,
// the next step is sized from the orders this one held (walk.go).
type slice struct {
	start, end int64
	fanout     bool
	walkEnd    int64
	// expect is how many pages the plan expects the slice to hold (0:
	// no estimate). A cursor walk that finds far more shares the rest.
	expect float64
}

// Sweep reads every order of q exactly once and calls fn with them, a
// batch at a time, from up to Workers() workers at once; worker is in
// [0, Workers()) and no two calls with the same worker overlap,
// so each worker can aggregate into sums of its own. The slice and its
// orders are reused after fn returns. On error, what fn received is an
// incomplete sweep and must be discarded.
func (c *Client) Sweep(ctx context.Context, q Query, fn func(worker int, orders []Order) error) (Stats, error) {
	base, err := c.params(q)
	if err != nil {
		return Stats{}, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	key := planKey(base)
	window := slice{start: q.Start.Unix(), end: q.End.Unix() + 1}
	c.mu.Lock()
	prev := c.plans[key]
	c.mu.Unlock()

	s := &sweep{c: c, base: base, fn: fn, cancel: cancel, window: window,
		density: newProfile(window, c.cfg.PageSize)}
	s.cond = sync.NewCond(&s.mu)
	s.queue = prev.plan(window, c.cfg.PageSize, c.cfg.Concurrency)
	s.stats.Sorted = prev.sortedName()
	if prev != nil {
		s.planned = prev.sorted
	}

	c.pace.begin()
	s.slots = make(chan struct{}, c.cfg.Concurrency)
	var wg sync.WaitGroup
	for w := range c.Workers() {
		wg.Go(func() { s.work(ctx, w) })
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && s.err == nil {
		s.err = err
	}
	if s.err != nil {
		return s.stats, &redactedError{err: s.err, secret: c.cfg.PrivateKey}
	}
	s.density.sorted = s.shown
	if s.shown == unknownOrder && prev != nil {
		// No answer showed the order: it is the one the last sweep saw.
		s.density.sorted = prev.sorted
	}
	c.mu.Lock()
	c.plans[key] = s.density
	c.mu.Unlock()
	s.stats.Sorted = s.density.sortedName()
	return s.stats, nil
}

// sweep is one Sweep in progress.
type sweep struct {
	c      *Client
	base   map[string]string
	fn     func(int, []Order) error
	cancel context.CancelCauseFunc
	window slice

	// slots lets Concurrency workers take a slice at a time; the others
	// wait for a slot. A worker whose request sits out a Retry-After or a
	// backoff gives its slot back (reader.pause) and finishes its slice
	// without one, so up to Workers() slices may be held at once.
	slots chan struct{}

	mu    sync.Mutex
	cond  *sync.Cond
	queue []slice
	busy  int // workers holding a slice
	asked int // pages asked for, retries not counted: --api.max-pages
	// endProbed: probeEndTime has asked whether the API includes EndTime.
	endProbed bool
	// wholeUpTo is one less than the smallest cap this sweep's answers
	// leave possible (probeCap): its answers of no more orders are
	// whole. Each sweep proves its own, as a provider may lower its
	// largest PageSize at any time. windowProof asks page 1 of the whole
	// window, once, for probeCap; windowErr is how that request failed.
	wholeUpTo   atomic.Int64
	windowProof sync.Once
	windowErr   error
	err         error
	stats       Stats
	density     *profile // this sweep's spread, the plan of the next
	// shown is the API's order as this sweep's answers show it (observe),
	// planned as the last sweep's did.
	shown, planned sortOrder
	// timeless holds the OrderNos of the orders delivered without a
	// usable CreateTime (InvalidCreateTime): they have no slice, so two
	// answers may both hold one. Nil until the first.
	timeless map[string]struct{}
}

// maxKeptBody bounds the body buffers kept from sweep to sweep.
const maxKeptBody = 1 << 20

// putBuf returns buf to the pool. A page is some 100 KB; a buffer grown by
// a huge answer (up to Config.MaxResponseBytes, 16 MiB by default) is not
// kept for every worker.
func (c *Client) putBuf(buf *pageBuf) {
	if buf.body.Cap() <= maxKeptBody {
		c.bufs.Put(buf)
	}
}

// maxTimeless bounds sweep.timeless against an API that sends nothing
// but orders without a time; past it, such orders are passed on unchecked.
const maxTimeless = 100_000

func (s *sweep) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.cancel(err)
	s.cond.Broadcast()
}

// next hands out a slice, or false when the sweep is over.
func (s *sweep) next(ctx context.Context) (slice, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) == 0 && s.busy > 0 && s.err == nil && ctx.Err() == nil {
		s.cond.Wait()
	}
	if len(s.queue) == 0 || s.err != nil || ctx.Err() != nil {
		return slice{}, false
	}
	sl := s.queue[len(s.queue)-1]
	s.queue = s.queue[:len(s.queue)-1]
	s.busy++
	return sl, true
}

// push queues slices for any worker, at once.
func (s *sweep) push(slices []slice) {
	s.mu.Lock()
	s.queue = append(s.queue, slices...)
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *sweep) done(push []slice) {
	s.mu.Lock()
	s.queue = append(s.queue, push...)
	s.busy--
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *sweep) work(ctx context.Context, worker int) {
	// Under the lock, so that a worker between its check of ctx and its
	// Wait in next cannot miss the end.
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	buf := s.c.bufs.Get().(*pageBuf)
	defer s.c.putBuf(buf)
	r := reader{s: s, worker: worker, buf: buf, density: newProfile(s.window, s.c.cfg.PageSize)}
	defer func() {
		s.mu.Lock()
		s.density.merge(r.density)
		s.mu.Unlock()
	}()
	for {
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		r.slot = true
		sl, ok := s.next(ctx)
		if !ok {
			r.pause()
			return
		}
		push, err := r.read(ctx, sl)
		if err != nil {
			s.fail(err)
		}
		r.pause()
		s.done(push)
		if err != nil {
			return
		}
	}
}

// pause gives the worker's slot back, if it still holds it: while its
// request waits, or once its slice is read. A worker that pauses mid-slice
// finishes that slice without a slot: requests in flight are the pacer's
// to bound, and a slot it waited for could be held by a worker waiting for
// its slice's parts.
func (r *reader) pause() {
	if r.slot {
		r.slot = false
		<-r.s.slots
	}
}

// reader is one worker's state.
type reader struct {
	s       *sweep
	worker  int
	slot    bool // holds one of s.slots
	buf     *pageBuf
	density *profile
	take    []Order // the orders of an answer that are delivered
	// askedEnd is the EndTime of the last request: a second less than
	// its slice's end once the API is known to include EndTime.
	askedEnd int64
	// The OrderNos of this answer and of the worker's previous one, with
	// their CreateTimes: an order never changes its CreateTime, so one
	// that comes back with another is a server repeating itself.
	seen, prev *orderSet
	orderSeed  maphash.Seed // of seen and prev
}

// count adds to the sweep's stats.
func (r *reader) count(f func(*Stats)) {
	r.s.mu.Lock()
	f(&r.s.stats)
	r.s.mu.Unlock()
}

// sent counts a request to the API, a retry included.
func (r *reader) sent() { r.count(func(st *Stats) { st.Requests++ }) }

// ask counts a page about to be asked for against --api.max-pages.
func (r *reader) ask() error {
	r.s.mu.Lock()
	r.s.asked++
	over := r.s.asked > r.s.c.cfg.MaxPages
	r.s.mu.Unlock()
	if over {
		return fmt.Errorf("%w: more than %d requests (--api.max-pages)", ErrTooManyPages, r.s.c.cfg.MaxPages)
	}
	return nil
}

// endTime is the EndTime that asks the API for exactly [sl.start, sl.end):
// a second less once the API is known to include EndTime.
func (r *reader) endTime(sl slice) int64 {
	if r.s.c.inclusiveEnd.Load() && sl.end-1 > sl.start {
		return sl.end - 1
	}
	return sl.end
}

// get requests one page of [start, end) and checks the answer for repeats.
func (r *reader) get(ctx context.Context, sl slice, page int) ([]Order, error) {
	if err := r.ask(); err != nil {
		return nil, err
	}
	end := r.endTime(sl)
	r.askedEnd = end
	if err := r.s.c.fetch(ctx, r.s.base, sl.start, end, page, r.buf, r.sent, r.pause); err != nil {
		return nil, err
	}
	orders := r.buf.page.orders
	r.count(func(st *Stats) { st.Pages++ })
	if len(orders) >= r.s.c.cfg.PageSize {
		// A full page: the API does not cap PageSize (probeCap).
		maxInt64(&r.s.wholeUpTo, int64(r.s.c.cfg.PageSize-1))
	}
	if r.seen == nil {
		r.seen, r.prev, r.orderSeed = &orderSet{}, &orderSet{}, maphash.MakeSeed()
	}
	r.seen, r.prev = r.prev, r.seen
	r.seen.reset(len(orders))
	for i := range orders {
		o := &orders[i]
		if o.OrderNo == "" {
			continue
		}
		h := orderHash(r.orderSeed, o.OrderNo)
		if !r.seen.add(o.OrderNo, h, o.CreateTime) {
			return nil, fmt.Errorf("%w: OrderNo %q twice in one answer ([%d, %d) page %d)", ErrRepeats, CutText(o.OrderNo, 64), sl.start, end, page)
		}
		if t, ok := r.prev.lookup(o.OrderNo, h); ok && o.timeSet && t != o.CreateTime {
			return nil, fmt.Errorf("%w: OrderNo %q came back with CreateTime %d, was %d ([%d, %d) page %d)",
				ErrRepeats, CutText(o.OrderNo, 64), o.CreateTime, t, sl.start, end, page)
		}
	}
	if end == sl.end {
		if err := r.probeEndTime(ctx, orders, end); err != nil {
			return nil, err
		}
	}
	return orders, nil
}

// whole checks the answer to page of sl just read against its TotalCount
// (shortOfTotal), after the orders' times are checked: an answer both
// short and out of range is named for its orders.
func (r *reader) whole(orders []Order, sl slice, page int) error {
	if err := shortOfTotal(len(orders), r.buf.page.totalCount, page, r.s.c.cfg.PageSize); err != nil {
		return fmt.Errorf("%w ([%d, %d) page %d)", err, sl.start, r.askedEnd, page)
	}
	return nil
}

// probeEndTime learns whether the API includes EndTime, once an answer
// asked without knowing it holds an order at its EndTime. That order may
// be an exclusive API misbehaving: taken for inclusive, the client would
// ask every later slice for a second less and lose its last second. So
// it asks [end-1, end] again: only if the same order (by OrderNo) comes
// back at end does the API include EndTime. Unknown, the client loses
// nothing (orders are filtered to their slice); it only reads orders at
// EndTime that belong to the next slice. Once a sweep.
func (r *reader) probeEndTime(ctx context.Context, orders []Order, end int64) error {
	no := ""
	for i := range orders {
		if o := &orders[i]; o.timeSet && o.CreateTime == end && o.OrderNo != "" {
			no = o.OrderNo
			break
		}
	}
	if no == "" || r.s.c.inclusiveEnd.Load() {
		return nil
	}
	r.s.mu.Lock()
	probed := r.s.endProbed
	r.s.endProbed = true
	r.s.mu.Unlock()
	if probed {
		return nil
	}
	if err := r.ask(); err != nil {
		return err
	}
	buf := r.s.c.bufs.Get().(*pageBuf) // r.buf holds the answer being read
	defer r.s.c.putBuf(buf)
	if err := r.s.c.fetch(ctx, r.s.base, end-1, end, 1, buf, r.sent, r.pause); err != nil {
		return err
	}
	r.count(func(st *Stats) { st.Pages++ })
	for _, o := range buf.page.orders {
		if o.timeSet && o.CreateTime == end && o.OrderNo == no {
			r.s.c.inclusiveEnd.Store(true)
			break
		}
	}
	return nil
}

// probeCap proves that a short answer to page 1 of sl held the whole
// slice, not a page cut short by a gateway that caps PageSize without a
// TotalCount to show it (which would lose the rest with debt_up 1). What
// proves it: a capped page holds exactly the cap, so an answer of m orders
// shows the cap is m or more, and answers of fewer than m are whole
// (wholeUpTo); a full answer shows no cap at all.
//   - Once a sweep, page 1 of the whole window: a full answer ends the
//     proofs of the sweep, a short one of m proves every answer below m.
//   - An answer as large as that is asked its page 2 at PageSize n, its
//     own size: an API that cut the page at n answers the orders after
//     it, one that did not, none (and answers below n are whole).
//   - Page 2 may also hold an order posted meanwhile, so an order it
//     shows is checked: page 1 asked again at min(PageSize, 2n) (another
//     request than the first, which a cache could answer) holding more
//     than n shows no cap at n; else the order must be left out of it and
//     be on page 2 asked again: unpaid before and after, it was left out
//     by a page that cut it. An API that orders each answer anew shows
//     other orders on each page 2: one on the second that page 1 asked
//     again left out, page 1 asked once more must hold exactly n and
//     leave out too. Anything else (the slice grew or shrank, the order was
//     paid) proves nothing, and the next answer that size is asked again.
//     This presumes reads that see each other's changes: a lagging
//     replica could make an honest API look capped.
//
// A sweep that has a full answer early (a sorted API's walks) asks
// nothing more; one without (an unsorted API, whose slices are planned
// short) asks the window once and proves the few answers of its size, if
// any; an account of less than a page, whose window is one answer, asks
// page 2 of it: two requests a sweep instead of one. An answer that came
// with a TotalCount was checked against it (whole) and needs none.
func (r *reader) probeCap(ctx context.Context, orders []Order, sl slice) error {
	n := len(orders)
	if n < minPageSize || r.buf.page.totalCount >= 0 || int64(n) <= r.s.wholeUpTo.Load() {
		return nil
	}
	buf := r.s.c.bufs.Get().(*pageBuf) // r.buf holds the answer being read
	defer r.s.c.putBuf(buf)
	// The proofs ask page 1's very query (its EndTime, though the sweep
	// may have learnt meanwhile that the API includes EndTime: asked for a
	// second less, page 2 would skip orders); the window, a query of its own.
	pageEnd := r.askedEnd
	ask := func(start, end int64, page, pageSize int) ([]Order, error) {
		if err := r.ask(); err != nil {
			return nil, err
		}
		base := r.s.base
		if pageSize != r.s.c.cfg.PageSize {
			base = maps.Clone(r.s.base)
			base["PageSize"] = strconv.Itoa(pageSize)
		}
		if err := r.s.c.fetch(ctx, base, start, end, page, buf, r.sent, r.pause); err != nil {
			return nil, err
		}
		r.count(func(st *Stats) { st.Pages++; st.Proofs++ })
		return buf.page.orders, nil
	}
	if w := r.s.window; sl.start != w.start || sl.end != w.end {
		// The other workers wait for it: their answers may need no proof.
		r.s.windowProof.Do(func() {
			all, err := ask(w.start, r.endTime(w), 1, r.s.c.cfg.PageSize)
			if err != nil {
				r.s.windowErr = err
				return
			}
			maxInt64(&r.s.wholeUpTo, int64(min(len(all), r.s.c.cfg.PageSize)-1))
		})
		if r.s.windowErr != nil {
			return r.s.windowErr
		}
		if int64(n) <= r.s.wholeUpTo.Load() {
			return nil
		}
	}
	inSlice := func(o *Order) bool {
		return o.OrderNo != "" && (!o.timeSet || (o.CreateTime >= sl.start && o.CreateTime < sl.end))
	}
	shown := make(map[string]bool, n)
	for i := range orders {
		shown[orders[i].OrderNo] = true
	}
	second, err := ask(sl.start, pageEnd, 2, n)
	if err != nil {
		return err
	}
	var more []string // page 2's orders of the slice that page 1 did not show
	for i := range second {
		if o := &second[i]; inSlice(o) && !shown[o.OrderNo] {
			more = append(more, strings.Clone(o.OrderNo))
		}
	}
	if len(more) == 0 {
		maxInt64(&r.s.wholeUpTo, int64(n-1))
		return nil
	}
	size := min(r.s.c.cfg.PageSize, 2*n)
	again, err := ask(sl.start, pageEnd, 1, size)
	if err != nil {
		return err
	}
	if len(again) > n {
		return nil // more than n in one answer: no cap at n, page 1 was whole
	}
	inAgain := make(map[string]bool, len(again))
	for i := range again {
		inAgain[again[i].OrderNo] = true
	}
	third, err := ask(sl.start, pageEnd, 2, n)
	if err != nil {
		return err
	}
	capped := fmt.Errorf("%w: [%d, %d) page 1 held %d orders for a page of %d, and page 2 at a PageSize of %d held %d more, left out by page 1 asked again at %d: the API caps PageSize without saying so; set --api.page-size to %d or less",
		ErrShortPages, sl.start, pageEnd, n, r.s.c.cfg.PageSize, n, len(more), size, n)
	var extra []string // third's orders of the slice that page 1 asked again left out
	for i := range third {
		if o := &third[i]; inSlice(o) && !inAgain[o.OrderNo] {
			if slices.Contains(more, o.OrderNo) {
				return capped // unpaid before and after page 1 left it out
			}
			extra = append(extra, strings.Clone(o.OrderNo))
		}
	}
	if len(extra) == 0 || len(again) < n {
		return nil // paid meanwhile
	}
	// Page 1 at 2n held n, and page 2 others: an API that orders its
	// answers anew each time (a cap shows other orders on each page), or
	// orders posted meanwhile. Asked once more, page 1 holds them unless
	// it cuts them.
	last, err := ask(sl.start, pageEnd, 1, size)
	if err != nil {
		return err
	}
	if len(last) != n {
		return nil
	}
	for i := range last {
		if slices.Contains(extra, last[i].OrderNo) {
			return nil
		}
	}
	return capped
}

// minPageSize is the least PageSize the API takes: a smaller answer
// cannot be asked for again at its own size, and no gateway cuts a page
// that short.
const minPageSize = 10

// maxInt64 raises v to x if x is greater.
func maxInt64(v *atomic.Int64, x int64) {
	for {
		old := v.Load()
		if x <= old || v.CompareAndSwap(old, x) {
			return
		}
	}
}

// read reads slice sl; it returns the slices still to read: parts of sl,
// and the next step if sl is one of a walk.
func (r *reader) read(ctx context.Context, sl slice) ([]slice, error) {
	push, held, err := r.readSlice(ctx, sl)
	if err != nil || sl.walkEnd <= sl.end {
		return push, err
	}
	return append(push, nextStep(sl, held, r.s.c.cfg.PageSize)), nil
}

// readSlice is read but for the walk: held is how many orders sl held
// when one answer read it whole, or -1 when it took more.
func (r *reader) readSlice(ctx context.Context, sl slice) (push []slice, held int, err error) {
	held = -1
	r.count(func(st *Stats) { st.Slices++ })
	pageSize := r.s.c.cfg.PageSize
	first := sl
	walk := walked{from: sl}
	for sl.start < sl.end {
		orders, err := r.get(ctx, sl, 1)
		if err != nil {
			return nil, held, err
		}
		lo, hi, err := r.check(orders, sl)
		if err == nil {
			err = r.whole(orders, sl, 1)
		}
		if err != nil {
			return nil, held, err
		}
		switch {
		case len(orders) < pageSize:
			// Whole, whatever its order, unless the API caps PageSize;
			// what the order is, the plan of the next sweep goes by.
			if err := r.probeCap(ctx, orders, sl); err != nil {
				return nil, held, err
			}
			r.observe(sortedBy(orders, sl))
			if sl == first { // read whole by this answer (a retry asks the same)
				held = 0
				for i := range orders {
					if t := orders[i].CreateTime; orders[i].timeSet && t >= sl.start && t < sl.end {
						held++
					}
				}
			}
			return nil, held, r.deliver(orders, sl)
		case sl.end-sl.start == 1:
			// One second holding a page or more: page through it.
			return nil, held, r.dense(ctx, sl.start)
		case lo > hi && !anyTimed(orders):
			// Nothing in it to split the slice at, and no way to know it
			// is whole: say so, rather than blame EndTime below.
			return nil, held, fmt.Errorf("%w: a full answer for [%d, %d) without one usable CreateTime: the slice cannot be split",
				ErrIgnoresRange, sl.start, sl.end)
		case lo > hi:
			// A full answer of orders at EndTime only: the API includes
			// EndTime (a full page of them says so, where one order needs
			// probeEndTime), and from now on is asked for one second less.
			// The slice has two seconds or more, so the retry asks less,
			// and the same answer again is the API misbehaving.
			if r.askedEnd < sl.end {
				return nil, held, fmt.Errorf("%w: [%d, %d) answered with orders at %d only", ErrIgnoresRange, sl.start, sl.end, sl.end)
			}
			r.s.c.inclusiveEnd.Store(true)
			continue
		case lo == hi:
			// One second fills the page, so the API's order says nothing:
			// page through that second, then read what is around it.
			if err := r.dense(ctx, lo); err != nil {
				return nil, held, err
			}
			var rest []slice
			if lo > sl.start {
				rest = append(rest, slice{start: sl.start, end: lo})
			}
			if lo+1 < sl.end {
				rest = append(rest, slice{start: lo + 1, end: sl.end})
			}
			return rest, held, nil
		}
		order := r.trust(sortedBy(orders, sl))
		if sl.fanout {
			switch order {
			case ascending:
				read, rest := slice{start: sl.start, end: hi}, slice{start: hi, end: sl.end}
				if err := r.deliver(orders, read); err != nil {
					return nil, held, err
				}
				return r.fanout(orders, lo, hi, rest), held, nil
			case descending:
				read, rest := slice{start: lo + 1, end: sl.end}, slice{start: sl.start, end: lo + 1}
				if err := r.deliver(orders, read); err != nil {
					return nil, held, err
				}
				return r.fanout(orders, lo, hi, rest), held, nil
			}
			// Unsorted, or too few distinct times to tell: a sample.
			push, err := r.survey(ctx, sl, orders)
			return push, held, err
		}
		switch order {
		case ascending:
			// Complete below the greatest CreateTime; read on from there.
			if err := r.deliver(orders, slice{start: sl.start, end: hi}); err != nil {
				return nil, held, err
			}
			sl.start = hi
			sl = r.share(sl, ascending, &walk)
		case descending:
			// Complete above the least CreateTime; read on below it.
			if err := r.deliver(orders, slice{start: lo + 1, end: sl.end}); err != nil {
				return nil, held, err
			}
			sl.end = lo + 1
			sl = r.share(sl, descending, &walk)
		default:
			return split(sl, orders, 2), held, nil
		}
	}
	return nil, held, nil
}

// fanout cuts the rest of the window of the first sweep of a sorted API,
// after a first answer whose orders in range span [lo, hi], into a quarter
// as many slices as the rest is expected to fill pages at their density
// (measured over their own span, not the stretch of window they lie in,
// which may be empty), at most 8 per worker. Each slice is walked by its
// time cursor and ends on a short answer, half a request more than its
// pages on average: an eighth of a request a page, a quarter where the
// answer's density is twice the window's. An account of a few pages is not
// cut into dozens of nearly empty slices (it was: 33 requests for 3
// pages); a slice that holds far more than expected is shared (share).
func (r *reader) fanout(orders []Order, lo, hi int64, rest slice) []slice {
	most := 8 * r.s.c.cfg.Concurrency
	n := 0
	for i := range orders {
		if t := orders[i].CreateTime; orders[i].timeSet && t >= lo && t <= hi {
			n++
		}
	}
	if hi <= lo || n < 2 {
		return evenly(rest, most) // one second: no density to go by
	}
	pages := float64(n-1) / float64(hi-lo) * float64(rest.end-rest.start) / float64(r.s.c.cfg.PageSize)
	out := evenly(rest, int(min(max(math.Ceil(pages/4), 1), float64(most))))
	for i := range out {
		out[i].expect = pages / float64(len(out))
	}
	return out
}

// sharePages is how many pages past its expectation a cursor walk reads
// before it shares the rest of its slice.
const sharePages = 8

// walked is what a cursor walk has read of its slice: from where, in how
// many full answers.
type walked struct {
	from  slice
	pages int
}

// share is called after each full answer of a slice walked by its time
// cursor, rest being what is left of it. Once the walk has read sharePages
// more pages than the slice was expected to hold, the plan was wrong there
// (orders bunch where the last sweep saw few: an account that woke up, or
// the first answer of a first sweep was no guide), so rest is cut into as
// many parts as there are workers (fewer if it is expected to hold less),
// at the density walked so far, and all but the part at the cursor are
// queued for the others. It depends on the answers alone, never on timing:
// the same account gets the same requests.
func (r *reader) share(rest slice, order sortOrder, w *walked) slice {
	w.pages++
	if rest.expect <= 0 || float64(w.pages) <= rest.expect+sharePages || rest.end-rest.start < 2 {
		return rest
	}
	span := rest.start - w.from.start // seconds walked
	if order == descending {
		span = w.from.end - rest.end
	}
	if span <= 0 {
		return rest
	}
	left := float64(w.pages) * float64(rest.end-rest.start) / float64(span)
	k := int(min(float64(r.s.c.cfg.Concurrency), math.Ceil(left/sharePages)))
	if k < 2 {
		return rest
	}
	parts := evenly(rest, k)
	for i := range parts {
		parts[i].expect = left / float64(len(parts))
	}
	keep := parts[0] // the cursor's part
	others := parts[1:]
	if order == descending {
		keep, others = parts[len(parts)-1], parts[:len(parts)-1]
	}
	r.s.push(others)
	*w = walked{from: keep}
	return keep
}

// survey plans the first sweep of an unsorted API, whose pages are a
// sample of the window in no order of time: it finds how many orders the
// window holds by probing page numbers (doubling, then bisecting: about
// 2 log2(pages) requests, a fraction of a percent of a large window), and
// cuts the window at the quantiles of the CreateTimes the probed pages
// showed into slices expected to hold three quarters of a page each. The
// probed pages only estimate: their orders are not taken.
func (r *reader) survey(ctx context.Context, sl slice, first []Order) ([]slice, error) {
	pageSize := r.s.c.cfg.PageSize
	var samples []int64
	sample := func(orders []Order) {
		for i := range orders {
			if t := orders[i].CreateTime; orders[i].timeSet && t >= sl.start && t < sl.end {
				samples = append(samples, t)
			}
		}
	}
	sample(first)
	// repeated: the last probe's answer held the very orders of the
	// answer before it (the page probed before, or the first).
	repeated := false
	probe := func(page int) (int, error) {
		orders, err := r.get(ctx, sl, page)
		if err == nil {
			err = r.whole(orders, sl, page)
		}
		if err != nil {
			return 0, err
		}
		sample(orders)
		repeated = r.repeatsPrevious(orders)
		return len(orders), nil
	}
	full, short, shortLen := 1, 0, 0 // page full is full; page short (if set) is not
	for page := 2; short == 0; page *= 2 {
		n, err := probe(page)
		if err != nil {
			return nil, err
		}
		if n < pageSize {
			short, shortLen = page, n
		} else {
			full = page
		}
		if page > r.s.c.cfg.MaxPages {
			if repeated {
				// Not a window of that many pages: the API serves the
				// same page whatever Page asks (a caching proxy), so no
				// page number ever finds the end.
				return nil, fmt.Errorf("%w: [%d, %d) page %d holds the same %d orders as page %d: the API answers the same page whatever Page asks, so no page was short up to --api.max-pages (%d)",
					ErrRepeats, sl.start, r.askedEnd, page, n, page/2, r.s.c.cfg.MaxPages)
			}
			return nil, fmt.Errorf("%w: the window holds more than %d pages", ErrTooManyPages, r.s.c.cfg.MaxPages)
		}
	}
	for short-full > 1 {
		mid := full + (short-full)/2
		n, err := probe(mid)
		if err != nil {
			return nil, err
		}
		if n < pageSize {
			short, shortLen = mid, n
		} else {
			full = mid
		}
	}
	total := full*pageSize + shortLen
	parts := max(1, (total*4+3*pageSize-1)/(3*pageSize))
	regions := quantiles(sl, samples, min(parts, walkRegions*r.s.c.cfg.Concurrency))
	return walks(regions, float64(total)/float64(len(regions)), pageSize), nil
}

// repeatsPrevious reports whether an answer get has just read holds
// exactly the orders (by OrderNo) of the reader's answer before it: two
// pages of one query hold different orders, so the same page was served
// again.
func (r *reader) repeatsPrevious(orders []Order) bool {
	n := 0
	for i := range orders {
		o := &orders[i]
		if o.OrderNo == "" {
			continue
		}
		if _, ok := r.prev.lookup(o.OrderNo, orderHash(r.orderSeed, o.OrderNo)); !ok {
			return false
		}
		n++
	}
	return n > 0 && n == len(r.prev.nos)
}

// quantiles cuts sl into n slices at the quantiles of samples. Between
// two neighbouring samples of a uniform sample the orders are spread
// geometrically (as many as the mean again, or none), so the cuts follow
// knots every knotSamples samples, and are spread evenly in time between
// knots: a smoother estimate of the spread.
func quantiles(sl slice, samples []int64, n int) []slice {
	const knotSamples = 32
	slices.Sort(samples)
	knots := []int64{sl.start}
	for i := knotSamples; i < len(samples)-knotSamples/2; i += knotSamples {
		if t := samples[i]; t > knots[len(knots)-1] {
			knots = append(knots, t)
		}
	}
	knots = append(knots, sl.end)
	if len(knots) < 3 || n < 2 {
		return evenly(sl, n)
	}
	// Each knot interval holds the same share of the orders.
	out := make([]slice, 0, n)
	a := sl.start
	for j := 1; j < n; j++ {
		pos := float64(j) * float64(len(knots)-1) / float64(n)
		i := int(pos)
		c := knots[i] + int64(float64(knots[i+1]-knots[i])*(pos-float64(i)))
		if c > a && c < sl.end {
			out = append(out, slice{start: a, end: c})
			a = c
		}
	}
	return append(out, slice{start: a, end: sl.end})
}

// anyTimed reports whether an order of the answer has a usable CreateTime.
func anyTimed(orders []Order) bool {
	for i := range orders {
		if orders[i].timeSet {
			return true
		}
	}
	return false
}

// evenly cuts sl into n slices of equal length (fewer if it is short).
func evenly(sl slice, n int) []slice {
	length := sl.end - sl.start
	n = int(min(int64(n), length))
	out := make([]slice, 0, n)
	for i := range n {
		a := sl.start + length*int64(i)/int64(n)
		b := sl.start + length*int64(i+1)/int64(n)
		if b > a {
			out = append(out, slice{start: a, end: b})
		}
	}
	return out
}

// check sorts out the orders of an answer to sl: those outside it are the
// API misbehaving. It returns the least and greatest CreateTime in range.
func (r *reader) check(orders []Order, sl slice) (lo, hi int64, err error) {
	lo, hi = sl.end, sl.start-1
	outside := 0
	example := ""
	for i := range orders {
		o := &orders[i]
		if !o.timeSet {
			continue
		}
		if o.CreateTime == sl.end {
			continue // an inclusive API's EndTime: the next slice's
		}
		if o.CreateTime < sl.start || o.CreateTime > sl.end {
			outside++
			if example == "" {
				example = fmt.Sprintf("OrderNo %q CreateTime %d in [%d, %d)", CutText(o.OrderNo, 64), o.CreateTime, sl.start, sl.end)
			}
			continue
		}
		lo, hi = min(lo, o.CreateTime), max(hi, o.CreateTime)
	}
	if outside > 0 && outside*2 > len(orders) {
		return 0, 0, fmt.Errorf("%w (%d of %d, e.g. %s): it ignores StartTime/EndTime", ErrIgnoresRange, outside, len(orders), example)
	}
	if outside > 0 {
		// Each answer is checked once: counted here, left out by deliver.
		r.count(func(st *Stats) {
			st.OutOfRange += outside
			if st.OutOfRangeExample == "" {
				st.OutOfRangeExample = example
			}
		})
	}
	return lo, hi, nil
}

// inPart reports whether every order has a CreateTime within part.
func inPart(orders []Order, part slice) bool {
	for i := range orders {
		if o := &orders[i]; !o.timeSet || o.CreateTime < part.start || o.CreateTime >= part.end {
			return false
		}
	}
	return true
}

// deliver passes on the orders of an answer that lie in part (check has
// counted those outside the slice asked for).
func (r *reader) deliver(orders []Order, part slice) error {
	if inPart(orders, part) {
		// The common case: the answer as it is, without a copy.
		for i := range orders {
			r.density.add(orders[i].CreateTime)
			if orders[i].Invalid != "" {
				r.s.c.redactInvalid(&orders[i])
			}
		}
		r.count(func(st *Stats) { st.Orders += len(orders) })
		if len(orders) == 0 {
			return nil
		}
		return r.s.fn(r.worker, orders)
	}
	r.take = r.take[:0]
	for i := range orders {
		o := &orders[i]
		switch {
		case !o.timeSet:
			// Invalid is set: counted, not summed, once by OrderNo.
			if r.firstTimeless(o.OrderNo) {
				r.take = append(r.take, *o)
				r.s.c.redactInvalid(&r.take[len(r.take)-1])
			}
		case o.CreateTime >= part.start && o.CreateTime < part.end:
			r.take = append(r.take, *o)
			r.density.add(o.CreateTime)
		}
	}
	r.count(func(st *Stats) { st.Orders += len(r.take) })
	if len(r.take) == 0 {
		return nil
	}
	return r.s.fn(r.worker, r.take)
}

// firstTimeless reports whether an order without a usable CreateTime is
// the first of its OrderNo in this sweep. Without a time it has no slice,
// so the answers of a time cursor that meet at a second both hold it. An
// order without an OrderNo, or past maxTimeless, cannot be checked.
func (r *reader) firstTimeless(orderNo string) bool {
	if orderNo == "" {
		return true
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if _, seen := r.s.timeless[orderNo]; seen {
		return false
	}
	if r.s.timeless == nil {
		r.s.timeless = map[string]struct{}{}
	}
	if len(r.s.timeless) < maxTimeless {
		r.s.timeless[strings.Clone(orderNo)] = struct{}{} // not the page's string
	}
	return true
}

// dense pages through second t, removing repeats by OrderNo.
func (r *reader) dense(ctx context.Context, t int64) error {
	r.count(func(st *Stats) { st.DenseSeconds++ })
	sec := slice{start: t, end: t + 1}
	seen := map[string]struct{}{}
	for page := 1; ; page++ {
		if (page-1)*r.s.c.cfg.PageSize >= maxDenseOrders {
			return fmt.Errorf("%w: second %d still has full pages after %d pages, %d orders (pages that never end)",
				ErrRepeats, t, page-1, (page-1)*r.s.c.cfg.PageSize)
		}
		orders, err := r.get(ctx, sec, page)
		if err != nil {
			return err
		}
		if _, _, err := r.check(orders, sec); err != nil {
			return err
		}
		if err := r.whole(orders, sec, page); err != nil {
			return err
		}
		fresh := orders[:0:0]
		for i := range orders {
			o := &orders[i]
			if o.OrderNo != "" {
				if _, dup := seen[o.OrderNo]; dup {
					continue
				}
				seen[o.OrderNo] = struct{}{}
			}
			fresh = append(fresh, *o)
		}
		if len(orders) > 0 && len(fresh) == 0 {
			return fmt.Errorf("%w: page %d of second %d holds only orders of earlier pages", ErrRepeats, page, t)
		}
		if err := r.deliver(fresh, sec); err != nil {
			return err
		}
		if len(orders) < r.s.c.cfg.PageSize {
			return nil
		}
	}
}

// observe records what an answer shows of the API's order: seen, strong
// if by too many distinct times to be chance (sortedBy). An unsorted
// answer, or one sorted against the order already shown, shows the API
// unsorted, for the rest of the sweep; a weak one shows nothing.
func (r *reader) observe(seen sortOrder, strong bool) {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observeLocked(seen, strong)
}

func (s *sweep) observeLocked(seen sortOrder, strong bool) {
	switch {
	case seen == unknownOrder || s.shown == unsorted:
	case seen == unsorted:
		s.shown = unsorted
	case s.shown == unknownOrder:
		if strong {
			s.shown = seen
		}
	case seen != s.shown:
		s.shown = unsorted // sorted one way here, the other there
	}
}

// trust observes a full answer and returns the order by which to read
// it. Only an API that sorts by CreateTime may be read by time cursor:
// taken for sorted, an unsorted API's answer that is sorted by chance (two
// seconds, the lone order of one at an end) would lose the orders it did
// not show. So a full answer is read by cursor only in the order the API
// has shown, by a strong answer of this sweep or by the last sweep, and
// never in a sweep that has seen the API unsorted or whose last sweep did
// (a sweep that shows it sorted again lets the next read by cursor).
// unknownOrder: too weak to tell, read as unsorted.
func (r *reader) trust(seen sortOrder, strong bool) sortOrder {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observeLocked(seen, strong)
	if s.shown == unsorted || s.planned == unsorted {
		return unsorted
	}
	known := s.shown
	if known == unknownOrder {
		known = s.planned
	}
	switch {
	case known == unknownOrder || seen == unknownOrder:
		return unknownOrder // weak, and nothing known
	case seen != known:
		s.shown = unsorted // against the order the last sweep saw
		return unsorted
	}
	return seen
}

type sortOrder int

const (
	unknownOrder sortOrder = iota
	ascending
	descending
	unsorted
)

// sortedBy tells how the orders of an answer that lie in sl are ordered
// by CreateTime, and for a sorted answer whether it is strong evidence:
// whether an answer in no order of time would be sorted one way or the
// other with a chance below sortedByChance. With n orders of which c_i
// share the i-th time, that chance is 2 * prod(c_i!) / n!: a page of 100
// distinct times is proof, ten orders of two seconds, nine and one, one
// chance in five.
func sortedBy(orders []Order, sl slice) (order sortOrder, strong bool) {
	asc, desc := true, true
	var prev int64
	n, run := 0, 0
	logTies := 0.0 // sum of log(c_i!)
	for i := range orders {
		o := &orders[i]
		if !o.timeSet || o.CreateTime < sl.start || o.CreateTime >= sl.end {
			continue
		}
		if n > 0 {
			asc = asc && o.CreateTime >= prev
			desc = desc && o.CreateTime <= prev
		}
		if n > 0 && o.CreateTime == prev {
			run++
			logTies += math.Log(float64(run))
		} else {
			run = 1
		}
		prev = o.CreateTime
		n++
	}
	lgN, _ := math.Lgamma(float64(n + 1))
	strong = math.Ln2+logTies-lgN < math.Log(sortedByChance)
	switch {
	case asc && desc:
		return unknownOrder, false // fewer than two distinct times
	case asc:
		return ascending, strong
	case desc:
		return descending, strong
	}
	return unsorted, true
}

// sortedByChance bounds the chance that trust takes an answer of an
// unsorted API for sorted, while it does not know the API's order yet.
const sortedByChance = 1e-6

// split cuts sl into parts expected to hold fewer than a page each, at the
// quantiles of the CreateTimes a full answer showed (a sample of sl).
func split(sl slice, orders []Order, parts int) []slice {
	times := make([]int64, 0, len(orders))
	for i := range orders {
		if t := orders[i].CreateTime; orders[i].timeSet && t >= sl.start && t < sl.end {
			times = append(times, t)
		}
	}
	slices.Sort(times)
	cuts := []int64{sl.start}
	for k := 1; k < parts; k++ {
		var c int64
		if len(times) > 0 {
			c = times[k*len(times)/parts]
		} else {
			c = sl.start + (sl.end-sl.start)*int64(k)/int64(parts)
		}
		if c > cuts[len(cuts)-1] && c < sl.end {
			cuts = append(cuts, c)
		}
	}
	if len(cuts) == 1 { // every sample in one second: cut around it
		mid := sl.start + (sl.end-sl.start)/2
		if len(times) > 0 {
			mid = times[0]
		}
		if mid <= sl.start {
			mid = sl.start + 1
		}
		cuts = append(cuts, mid)
		if mid+1 < sl.end {
			cuts = append(cuts, mid+1)
		}
	}
	cuts = append(cuts, sl.end)
	out := make([]slice, 0, len(cuts)-1)
	for i := 1; i < len(cuts); i++ {
		out = append(out, slice{start: cuts[i-1], end: cuts[i]})
	}
	return out
}

// redactInvalid redacts the private key from what the collector logs of an
// order left out of the sums (its OrderNo and offending value, as the
// server sent them): a server that echoes the key there must not put it
// in a log line. Label values are redacted as they are decoded.
func (c *Client) redactInvalid(o *Order) {
	k := c.cfg.PrivateKey
	o.OrderNo, o.RawInvalid = redactSecret(o.OrderNo, k), redactSecret(o.RawInvalid, k)
}
