package simapi

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/debt-exporter/debt_exporter/apiclient"
)

// The live account: the unpaid set is the base orders minus the paid ones
// plus the posted ones. Paid orders are a bitset over ids; posted orders are
// their CreateTimes, in the order they were posted. version counts changes,
// so that anything computed from the set can be cached by version.
type live struct {
	paid    []uint64 // bit id set: order id is paid
	paidN   int64
	posted  []int64 // CreateTime of posted order k (id Orders+k)
	version uint64
	payRng  rng
	postRng rng
}

func (l *live) isPaid(id int64) bool {
	w := id >> 6
	return w < int64(len(l.paid)) && l.paid[w]&(1<<uint(id&63)) != 0
}

func (l *live) setPaid(id int64) {
	w := int(id >> 6)
	for len(l.paid) <= w {
		l.paid = append(l.paid, 0)
	}
	l.paid[w] |= 1 << uint(id&63)
	l.paidN++
}

// Sort orders of Config.Sort.
const (
	// SortDesc is CreateTime descending, then OrderNo ascending (the default).
	SortDesc = iota
	// SortAsc is CreateTime ascending, then OrderNo ascending.
	SortAsc
	// Unsorted is a stable order unrelated to CreateTime: by a hash of the
	// order, like an API sorting by an internal id. Pages are still
	// consistent with each other while the set does not change.
	Unsorted
)

// Pay marks n currently unpaid orders as paid, chosen anywhere in the data
// by a generator seeded from Config.Seed, and returns their OrderNos (fewer
// if fewer are unpaid). They leave every later answer and Truth.
func (s *Server) Pay(n int) []string {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.pay(n)
}

func (s *Server) pay(n int) []string {
	l := &s.live
	total := s.data.n + int64(len(l.posted))
	n = int(min(int64(max(n, 0)), total-l.paidN))
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		id := int64(l.payRng.next() % uint64(total))
		for try := 0; l.isPaid(id); try++ {
			if try < 32 {
				id = int64(l.payRng.next() % uint64(total))
			} else {
				id = (id + 1) % total
			}
		}
		l.setPaid(id)
		out = append(out, s.data.orderNo(id))
	}
	s.changed()
	return out
}

// Post adds n new unpaid orders with CreateTimes drawn uniformly from the
// dataset's span (Now-Span, Now] by a generator seeded from Config.Seed:
// late postings, older than now. It returns their OrderNos, which sort after
// every earlier OrderNo.
func (s *Server) Post(n int) []string {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.post(n, nil)
}

// PostAt adds n new unpaid orders with CreateTime at (whole seconds) and
// returns their OrderNos.
func (s *Server) PostAt(n int, at time.Time) []string {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	ct := at.Unix()
	return s.post(n, &ct)
}

func (s *Server) post(n int, at *int64) []string {
	l := &s.live
	if n <= 0 {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		ct := s.data.now - int64(l.postRng.next()%s.data.span)
		if at != nil {
			ct = *at
		}
		l.posted = append(l.posted, ct)
		out = append(out, s.data.orderNo(s.data.n+int64(len(l.posted)-1)))
	}
	s.changed()
	return out
}

// changed records a change to the set: cached views and the response memo
// are of the old one. The caller holds stateMu.
func (s *Server) changed() {
	s.live.version++
	s.memoMu.Lock()
	clear(s.memo)
	s.memoVersion = s.live.version
	s.memoMu.Unlock()
}

// Paid returns how many orders have been paid.
func (s *Server) Paid() int64 {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	return s.live.paidN
}

// Posted returns how many orders have been posted (by Post, PostAt, churn
// and shifts).
func (s *Server) Posted() int64 {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	return int64(len(s.live.posted))
}

// Known reports whether orderNo is an order of the data, paid or not: a
// base order or a posted one. Orders invented by faults (endless pages, out
// of range) are not known.
func (s *Server) Known(orderNo string) bool {
	id, ok := s.data.idOf(orderNo)
	if !ok {
		return false
	}
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	return id < s.data.n+int64(len(s.live.posted))
}

// SetChurn pays pay and posts post orders after each request answered with
// data (RetCode 0): after its body is computed, before the next request is
// served. While churn is set, data answers are served one at a time. Zeros
// stop it.
func (s *Server) SetChurn(payPerRequest, postPerRequest int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.churnPay, s.f.churnPost = max(payPerRequest, 0), max(postPerRequest, 0)
}

// SetChurnBurst arms a one-shot top-up: after the afterRequests-th request
// answered with data from now on, pay and post that many at once (a
// settlement run, a batch of late postings). afterRequests <= 0 disarms.
func (s *Server) SetChurnBurst(afterRequests, pay, post int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.burstLeft, s.f.burstPay, s.f.burstPost = max(afterRequests, 0), max(pay, 0), max(post, 0)
}

// afterAnswer applies churn, bursts and shifts after a data answer for page.
func (s *Server) afterAnswer(page int) {
	s.mu.Lock()
	pay, post, shift := s.f.churnPay, s.f.churnPost, 0
	if s.f.burstLeft > 0 {
		s.f.burstLeft--
		if s.f.burstLeft == 0 {
			pay, post = pay+s.f.burstPay, post+s.f.burstPost
		}
	}
	if s.f.shiftBy > 0 && s.f.shiftAfterPage == page {
		shift, s.f.shiftBy = s.f.shiftBy, 0
	}
	s.mu.Unlock()
	if pay+post+shift == 0 {
		return
	}
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	s.pay(pay)
	s.post(post, nil)
	s.post(shift, &s.data.now)
}

// churning reports whether a data answer changes the set afterwards: then
// answers are served one at a time, so that each sees the previous ones'
// changes.
func (s *Server) churning() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.churnPay+s.f.churnPost+s.f.burstLeft+s.f.shiftBy > 0
}

// UnpaidOrderNos returns the orders matching q now: OrderNo → CreateTime.
// Like Truth, it uses the server's EndTime semantics.
func (s *Server) UnpaidOrderNos(q apiclient.Query) map[string]int64 {
	qq := s.queryOf(q)
	out := map[string]int64{}
	s.scan(&qq, func(o order) { out[s.data.orderNo(o.v)] = o.createTime })
	return out
}

// scan calls f for every order of the current set matching q. The order is
// passed by value: a pointer would make every order escape.
func (s *Server) scan(q *query, f func(o order)) {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	l := &s.live
	lo, hi := s.baseRange(q)
	for i := lo; i < hi; i++ {
		if l.paidN > 0 && l.isPaid(i) {
			continue
		}
		o := s.data.gen(i)
		if q.matchesFilters(&o) {
			f(o)
		}
	}
	for k, ct := range l.posted {
		id := s.data.n + int64(k)
		if !q.inWindow(ct) || l.isPaid(id) {
			continue
		}
		o := s.data.genAt(id, ct)
		if q.matchesFilters(&o) {
			f(o)
		}
	}
}

// baseRange is the id range of the base orders inside q's window.
func (s *Server) baseRange(q *query) (lo, hi int64) {
	n := int(s.data.n)
	lo = int64(sort.Search(n, func(i int) bool { return s.data.createTime(int64(i)) <= q.last }))
	hi = int64(sort.Search(n, func(i int) bool { return s.data.createTime(int64(i)) < q.start }))
	return lo, max(hi, lo)
}

// view is the result of a query at one moment, in the server's sort order.
type view interface {
	len() int64
	at(p int64) order
}

// matchList is the base orders matching a query in descending order while
// nothing was paid or posted: the id range [lo, hi) of the window, narrowed
// by idx when there are filters. It is the fast path of the benchmark.
type matchList struct {
	d      *dataset
	lo, hi int64
	idx    []int32
}

func (m *matchList) len() int64 {
	if m.idx != nil {
		return int64(len(m.idx))
	}
	return m.hi - m.lo
}

func (m *matchList) at(j int64) order {
	if m.idx != nil {
		return m.d.gen(int64(m.idx[j]))
	}
	return m.d.gen(m.lo + j)
}

// entries is a materialised view: any sort order, any live state.
type entries struct {
	d  *dataset
	es []entry
}

type entry struct{ ct, id int64 }

func (e *entries) len() int64       { return int64(len(e.es)) }
func (e *entries) at(p int64) order { x := e.es[p]; return e.d.genAt(x.id, x.ct) }
func (s *Server) hashOf(id int64) uint64 {
	return mix(s.data.seed ^ 0x756e736f72746564 ^ mix(uint64(id)))
}

const maxCachedViews = 64

type cachedView struct {
	once sync.Once
	v    view
}

// view returns the current result of q and the version of the set it
// reflects. Results are cached per version and query.
func (s *Server) view(q *query) (view, uint64) {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	version := s.live.version
	lo, hi := s.baseRange(q)
	fast := version == 0 && s.cfg.Sort == SortDesc
	if fast && !q.filtered() {
		return &matchList{d: s.data, lo: lo, hi: hi}, version
	}
	key := fmt.Sprintf("%d|%d-%d/%s", version, lo, hi, q.filterKey())
	if !fast {
		key = fmt.Sprintf("%d/%d-%d/%s", version, q.start, q.last, q.filterKey())
	}
	s.viewMu.Lock()
	if s.viewsVersion != version || len(s.views) >= maxCachedViews {
		clear(s.views)
		s.viewsVersion = version
	}
	c, ok := s.views[key]
	if !ok {
		c = &cachedView{}
		s.views[key] = c
	}
	s.viewMu.Unlock()
	c.once.Do(func() {
		if fast {
			m := &matchList{d: s.data, lo: lo, hi: hi, idx: make([]int32, 0, 64)}
			for i := lo; i < hi; i++ {
				o := s.data.gen(i)
				if q.matchesFilters(&o) {
					m.idx = append(m.idx, int32(i))
				}
			}
			c.v = m
			return
		}
		c.v = s.materialise(q, lo, hi)
	})
	return c.v, version
}

// materialise lists the current set's orders matching q in the configured
// sort order. The caller holds stateMu.
func (s *Server) materialise(q *query, lo, hi int64) *entries {
	l := &s.live
	e := &entries{d: s.data, es: make([]entry, 0, 64)}
	filtered := q.filtered()
	for i := lo; i < hi; i++ {
		if l.paidN > 0 && l.isPaid(i) {
			continue
		}
		ct := s.data.createTime(i)
		if filtered {
			o := s.data.genAt(i, ct)
			if !q.matchesFilters(&o) {
				continue
			}
		}
		e.es = append(e.es, entry{ct, i})
	}
	nbase := len(e.es)
	for k, ct := range l.posted {
		id := s.data.n + int64(k)
		if !q.inWindow(ct) || l.isPaid(id) {
			continue
		}
		if filtered {
			o := s.data.genAt(id, ct)
			if !q.matchesFilters(&o) {
				continue
			}
		}
		e.es = append(e.es, entry{ct, id})
	}
	desc := func(a, b entry) int {
		if a.ct != b.ct {
			return cmpInt(b.ct, a.ct)
		}
		return cmpInt(a.id, b.id)
	}
	switch s.cfg.Sort {
	case SortDesc:
		// Base orders are in descending order already: sort the posted ones
		// and merge.
		if posted := e.es[nbase:]; len(posted) > 0 {
			slices.SortFunc(posted, desc)
			merged := make([]entry, 0, len(e.es))
			a, b := e.es[:nbase], posted
			for len(a) > 0 && len(b) > 0 {
				if desc(a[0], b[0]) <= 0 {
					merged, a = append(merged, a[0]), a[1:]
				} else {
					merged, b = append(merged, b[0]), b[1:]
				}
			}
			e.es = append(append(merged, a...), b...)
		}
	case SortAsc:
		slices.SortFunc(e.es, func(a, b entry) int {
			if a.ct != b.ct {
				return cmpInt(a.ct, b.ct)
			}
			return cmpInt(a.id, b.id)
		})
	case Unsorted:
		slices.SortFunc(e.es, func(a, b entry) int {
			if ha, hb := s.hashOf(a.id), s.hashOf(b.id); ha != hb {
				if ha < hb {
					return -1
				}
				return 1
			}
			return cmpInt(a.id, b.id)
		})
	}
	return e
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
