package apiclient

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNextStep(t *testing.T) {
	sl := slice{start: 1000, end: 1100, walkEnd: 5000}
	// Held whole: the next step is cut to hold 75 orders at its density.
	assert.Equal(t, slice{start: 1100, end: 1100 + 150, walkEnd: 5000}, nextStep(sl, 50, 100))
	assert.Equal(t, slice{start: 1100, end: 1100 + 75, walkEnd: 5000}, nextStep(sl, 100, 100))
	// Few orders (or none) say little: at most twice the length.
	assert.Equal(t, slice{start: 1100, end: 1300, walkEnd: 5000}, nextStep(sl, 3, 100))
	assert.Equal(t, slice{start: 1100, end: 1300, walkEnd: 5000}, nextStep(sl, 0, 100))
	// Overflowed: half the length.
	assert.Equal(t, slice{start: 1100, end: 1150, walkEnd: 5000}, nextStep(sl, -1, 100))
	// Never below a second; the last step ends the region, and walks no more.
	assert.Equal(t, slice{start: 1001, end: 1002, walkEnd: 5000}, nextStep(slice{start: 1000, end: 1001, walkEnd: 5000}, -1, 100))
	assert.Equal(t, slice{start: 4900, end: 5000}, nextStep(slice{start: 4800, end: 4900, walkEnd: 5000}, 10, 100))
}

func TestWalksCoverTheRegions(t *testing.T) {
	regions := []slice{{start: 0, end: 1000}, {start: 1000, end: 1010}, {start: 1010, end: 3000}}
	got := walks(regions, 300, 100) // 4 steps of 75 orders a region
	assert.Equal(t, []slice{{start: 0, end: 250, walkEnd: 1000}, {start: 1000, end: 1002, walkEnd: 1010},
		{start: 1010, end: 1507, walkEnd: 3000}}, got)
	// Walking each region to its end covers it exactly, in steps.
	for i, sl := range got {
		for sl.walkEnd > sl.end {
			sl = nextStep(sl, 75, 100)
		}
		assert.Equal(t, regions[i].end, sl.end)
	}
	// A region expected to hold less than a step is one slice.
	assert.Equal(t, []slice{{start: 0, end: 1000}}, walks([]slice{{start: 0, end: 1000}}, 50, 100))
}
