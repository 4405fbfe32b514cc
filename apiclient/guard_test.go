//go:build linux

package apiclient

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"

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
