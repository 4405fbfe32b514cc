package apiclient

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShortOfTotal: an answer is refused only when it holds fewer orders
// than its TotalCount leaves for its page; a page past the count, a last
// page, no count, and counts near the int64 bounds are not.
func TestShortOfTotal(t *testing.T) {
	for _, tc := range []struct {
		n           int
		total       int64
		page        int
		short, hint bool
	}{
		{n: 100, total: 3000, page: 1},
		{n: 0, total: 3000, page: 31},                          // past the end
		{n: 20, total: 220, page: 3},                           // the last page
		{n: 30, total: -1, page: 1},                            // no TotalCount
		{n: 0, total: 0, page: 1},                              // nothing
		{n: 100, total: math.MaxInt64, page: math.MaxInt32},    // no overflow
		{n: 50, total: 3000, page: 1, short: true, hint: true}, // a cap of 50
		{n: 50, total: 3000, page: 30, short: true, hint: true},
		{n: 19, total: 220, page: 3, short: true},          // one missing from the last: no cap
		{n: 2, total: math.MaxInt64, page: 1, short: true}, // no page size to suggest
	} {
		err := shortOfTotal(tc.n, tc.total, tc.page, 100)
		if !tc.short {
			assert.NoError(t, err, "%+v", tc)
			continue
		}
		require.ErrorIs(t, err, ErrShortPages, "%+v", tc)
		if tc.hint {
			assert.Contains(t, err.Error(), "set --api.page-size to ", "%+v", tc)
		} else {
			assert.NotContains(t, err.Error(), "--api.page-size", "%+v", tc)
		}
	}
}
