//go:build linux

package apiclient

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// guarded returns a copy of b that ends where readable memory ends: the
// page after it is mapped without access, so a read past the body's end
// (the assembly's vector loads, say) faults instead of passing unseen.
func guarded(t *testing.T, b []byte) []byte {
	t.Helper()
	page := syscall.Getpagesize()
	n := (len(b)+page-1)/page + 1
	mem, err := syscall.Mmap(-1, 0, n*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Munmap(mem) })
	require.NoError(t, syscall.Mprotect(mem[(n-1)*page:], syscall.PROT_NONE))
	end := (n - 1) * page
	body := mem[end-len(b) : end : end]
	copy(body, b)
	return body
}

// TestNothingReadsPastTheBody: pages of shaped orders (escape runs, zeros,
// numbers of every kind) cut at every one of their last 200 bytes, each
// ending right before a page without access, are indexed, decoded and
// crossed by every form of crossMembers without a fault, the forms
// agreeing.
func TestNothingReadsPastTheBody(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	run := strings.Repeat(`\u534e`, 11)
	for trial := range 40 {
		var orders []string
		for range 4 {
			orders = append(orders, shapedOrder(r, trial%3))
		}
		// An order whose last values are a run of escapes, a long integer
		// and a zero, skipped, and a long integer kept, so that cuts end
		// inside each.
		orders = append(orders, `{"Region":"hk","OrderNo":"1","OrderTotalPrice":"1","OrganizationName":"`+
			run+`","StartTime":176718841912345678,"PaidTime":0,"CreateTime":1767225600123456789012345678901234567890,"`+
			strings.Repeat("K", 28)+`":1}`) // a literal of 32 bytes, the loop's most
		full := shapedPage(orders)
		d := newDecoder()
		var p page
		require.NoError(t, d.decodePage(full, &p))
		shapes := d.shapes
		for cut := max(1, len(full)-200); cut <= len(full); cut++ {
			body := guarded(t, full[:cut])
			_ = newDecoder().decodePage(body, &p) // a fault would end the test binary
			d.scanner.reset(body)
			for start := range body {
				if body[start] != '{' || start == 0 {
					continue
				}
				for _, sh := range shapes {
					agreedTrace(t, d, sh, start, fmt.Sprintf("cut at %d of %d, from byte %d", cut, len(full), start))
				}
			}
		}
	}
}

// guardedStops returns a copy of stops that ends where readable memory
// ends, as guarded does for a body: the AVX2 loop reads the index without
// a bounds check, trusting its two zero words.
func guardedStops(t *testing.T, stops []uint64) []uint64 {
	t.Helper()
	b := guarded(t, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(stops))), 8*len(stops)))
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), len(stops))
}

// TestLiteralsAtTheLoopsBounds: shapes whose literals are 30 to 34 bytes
// (the AVX2 loop compares 32 and leaves longer ones to Go), with a kept or
// a skipped member first, in pages cut at every length, body and index
// each ending right before a page without access: every form of
// crossMembers agrees, the shapes read what member by member reads, and
// nothing reads past either.
func TestLiteralsAtTheLoopsBounds(t *testing.T) {
	literal := func(first bool, key string, n int) string { // `,"key":` padded to n bytes
		head := ","
		if first {
			head = "{"
		}
		core := `"` + key + `":`
		return head + strings.Repeat(" ", n-len(head)-len(core)) + core
	}
	for _, n := range []int{30, 31, 32, 33, 34} {
		for _, keptFirst := range []bool{false, true} {
			first, second, value := "Quantity", "Region", "12"
			if keptFirst {
				first, second, value = "Region", "Quantity", `"x"`
			}
			order := literal(true, first, n) + value + literal(false, second, n) + `"ab"` + literal(false, "OrderNo", n) +
				`"n1"` + literal(false, "OrderTotalPrice", n) + `"1"` + literal(false, "CreateTime", n) + "17}"
			full := shapedPage([]string{order, order, order})
			d := newDecoder()
			var p page
			require.NoError(t, d.decodePage(full, &p))
			require.NotEmpty(t, d.shapes)
			shapes := d.shapes
			for cut := 1; cut <= len(full); cut++ {
				body := guarded(t, full[:cut])
				decodeBoth(t, full, body)
				d.scanner.reset(body)
				d.stops = guardedStops(t, d.stops)
				for start := 1; start < len(body); start++ {
					if body[start] != '{' {
						continue
					}
					for _, sh := range shapes {
						agreedTrace(t, d, sh, start, fmt.Sprintf("literals of %d, kept first %v, cut %d, order at %d", n, keptFirst, cut, start))
					}
				}
			}
		}
	}
}
