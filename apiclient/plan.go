package apiclient

import (
	"sort"
	"strings"
)

// profileBuckets is the resolution of a sweep's spread of orders in time:
// 4096 buckets of a 30-day window are about ten minutes each, 16 KiB.
const profileBuckets = 4096

// profile is how the orders of one sweep were spread over its window, and
// how the API sorted them: the plan of the next sweep.
type profile struct {
	origin, width int64 // bucket i covers [origin + i*width, origin + (i+1)*width)
	counts        []int32
	pageSize      int
	sorted        sortOrder
}

func newProfile(w slice, pageSize int) *profile {
	width := max(1, (w.end-w.start+profileBuckets-1)/profileBuckets)
	return &profile{origin: w.start, width: width, counts: make([]int32, profileBuckets), pageSize: pageSize}
}

func (p *profile) add(t int64) {
	if i := (t - p.origin) / p.width; t >= p.origin && i < int64(len(p.counts)) {
		p.counts[i]++
	}
}

func (p *profile) merge(o *profile) {
	for i, n := range o.counts {
		p.counts[i] += n
	}
}

func (p *profile) sortedName() string {
	if p == nil {
		return ""
	}
	return [...]string{"", "ascending", "descending", "unsorted"}[p.sorted]
}

// expected estimates the orders in [a, b) from the profile: buckets in
// proportion to their overlap, and past the profiled window the rate of
// its last tenth (the orders posted since).
func (p *profile) expected(a, b int64) float64 {
	end := p.origin + int64(len(p.counts))*p.width
	var n float64
	for t := a; t < b; {
		if t < p.origin {
			t = min(b, p.origin) // before the profile: no orders seen there
			continue
		}
		if t >= end {
			tail := int64(len(p.counts)) / 10
			var recent int64
			for _, c := range p.counts[len(p.counts)-int(tail):] {
				recent += int64(c)
			}
			n += float64(recent) / float64(tail*p.width) * float64(b-t)
			break
		}
		i := (t - p.origin) / p.width
		bucketEnd := min(p.origin+(i+1)*p.width, b)
		n += float64(p.counts[i]) * float64(bucketEnd-t) / float64(p.width)
		t = bucketEnd
	}
	return n
}

// plan cuts w into the slices of a sweep. Without a profile it is one
// slice: its first answer shows how the API sorts and how dense it is.
// With one, a sorted API gets slices of many pages, each walked by its
// time cursor (about one request per page, plus one per slice), enough of
// them to keep every worker busy; an unsorted one gets slices expected to
// hold three quarters of a page, so most are read by a single request.
func (p *profile) plan(w slice, pageSize, workers int) []slice {
	if p == nil || p.pageSize != pageSize {
		w.fanout = true
		return []slice{w}
	}
	total := p.expected(w.start, w.end)
	var target float64
	if p.sorted == unsorted {
		target = 0.75 * float64(pageSize)
	} else {
		// m pages a slice, a little under, so that a slice ends on a
		// short answer rather than on a nearly empty one.
		m := min(max(int(total/float64(pageSize))/(2*workers), 1), 50)
		target = 0.95 * float64(m*pageSize)
	}
	var out []slice
	a := w.start
	acc := 0.0
	// Walk the buckets; cut when the expected count reaches the target.
	step := p.width
	for t := w.start; t < w.end; {
		next := min(w.end, t+step-((t-p.origin)%step+step)%step)
		if next <= t {
			next = t + 1
		}
		n := p.expected(t, next)
		if acc+n >= target && n > 0 {
			// Cut inside [t, next) where the target is reached.
			need := target - acc
			cut := t + int64(float64(next-t)*need/n)
			cut = max(cut, a+1)
			if cut < next {
				out = append(out, slice{start: a, end: cut})
				a, acc, t = cut, 0, cut
				continue
			}
			out = append(out, slice{start: a, end: next})
			a, acc, t = next, 0, next
			continue
		}
		acc += n
		t = next
	}
	if a < w.end {
		out = append(out, slice{start: a, end: w.end})
	}
	for i := range out {
		out[i].expect = p.expected(out[i].start, out[i].end) / float64(pageSize)
	}
	// Workers take slices from the end: the first sweep's spread hands the
	// biggest first, but order does not matter for correctness.
	return out
}

// planKey names the query a profile belongs to: its filters.
func planKey(base map[string]string) string {
	keys := make([]string, 0, len(base))
	for k := range base {
		switch k {
		case "StartTime", "EndTime", "Page", "Signature":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(base[k])
		b.WriteByte('&')
	}
	return b.String()
}
