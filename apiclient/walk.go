package apiclient

// The walk: how the first sweep of an unsorted API adapts its slices.
//
// The survey (sweep.go) sees a few thousand orders of the window, enough to
// split it into regions of equal count but not to size slices of three
// quarters of a page each: usage bunches by the hour and the day, and a
// slice planned over a peak holds a page or more, which costs two more
// requests. So each region is walked from its start, one step (slice) at
// a time, concurrently with the others: a step held whole by one answer
// tells the exact density where it lies, and the next step is cut to hold
// walkTarget orders at that density. The steady sweeps plan from the whole
// last sweep's spread (plan.go) and do not walk.

// walkTarget is the share of a page a step is cut to hold: room for the
// density to rise between two steps by a third before a step overflows.
const walkTarget = 0.75

// walkRegions is how many regions a survey cuts per worker: enough that
// every worker has a walk to take, few because each region's first step
// is cut from the survey's estimate alone.
const walkRegions = 2

// nextStep returns the step of the walk after sl. held is how many orders
// sl held if one answer read it whole, or -1: then sl overflowed (it was
// split or paged) and the walk halves its step. A step never grows past
// twice the last (few orders say little of the density) nor shrinks below
// a second, and the last step ends at the region's end.
func nextStep(sl slice, held, pageSize int) slice {
	length := sl.end - sl.start
	target := walkTarget * float64(pageSize)
	var next int64
	switch {
	case held < 0:
		next = length / 2
	case float64(held) <= target/2:
		next = 2 * length
	default:
		next = int64(float64(length) * target / float64(held))
	}
	next = max(next, 1)
	if sl.end+next >= sl.walkEnd {
		return slice{start: sl.end, end: sl.walkEnd}
	}
	return slice{start: sl.end, end: sl.end + next, walkEnd: sl.walkEnd}
}

// walks turns the regions of a survey, each expected to hold perRegion
// orders, into the first step of a walk through each.
func walks(regions []slice, perRegion float64, pageSize int) []slice {
	out := make([]slice, 0, len(regions))
	for _, rg := range regions {
		length := rg.end - rg.start
		steps := perRegion / (walkTarget * float64(pageSize))
		first := int64(float64(length) / max(steps, 1))
		if first >= length {
			out = append(out, rg)
			continue
		}
		out = append(out, slice{start: rg.start, end: rg.start + max(first, 1), walkEnd: rg.end})
	}
	return out
}
