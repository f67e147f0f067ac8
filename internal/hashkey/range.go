package hashkey

import (
	"fmt"
	"math/bits"
	"slices"
)

// Range is an inclusive range of hash keys, as a shard's HashKeyRange
// reports it. A Range with Start > End is empty.
type Range struct {
	Start, End Key
}

// Full is the whole key space, the range of a stream's only shard.
var Full = Range{Start: Key{}, End: Max}

// ParseRange parses a shard's StartingHashKey and EndingHashKey. It rejects
// a range whose start is above its end, because Kinesis never reports one
// and accepting it would make Contains silently false for every key.
func ParseRange(start, end string) (Range, error) {
	s, err := Parse(start)
	if err != nil {
		return Range{}, fmt.Errorf("%w (starting hash key %q)", err, start)
	}
	e, err := Parse(end)
	if err != nil {
		return Range{}, fmt.Errorf("%w (ending hash key %q)", err, end)
	}
	if e.Less(s) {
		return Range{}, fmt.Errorf("shardwise: starting hash key %s is above ending hash key %s", s, e)
	}
	return Range{Start: s, End: e}, nil
}

// Contains reports whether k is in r, ends included.
func (r Range) Contains(k Key) bool {
	return !k.Less(r.Start) && !r.End.Less(k)
}

// Empty reports whether r holds no keys.
func (r Range) Empty() bool {
	return r.End.Less(r.Start)
}

// String formats r as "[start, end]".
func (r Range) String() string {
	return "[" + r.Start.String() + ", " + r.End.String() + "]"
}

// Holes returns the parts of [0, Max] that no range in ranges covers, in
// ascending order, as maximal ranges. Overlapping, adjacent, duplicate and
// empty ranges are allowed (an audit is looking for mistakes, so it must
// not assume their absence). The input is not modified.
func Holes(ranges []Range) []Range {
	sorted := make([]Range, 0, len(ranges))
	for _, r := range ranges {
		if !r.Empty() {
			sorted = append(sorted, r)
		}
	}
	slices.SortFunc(sorted, func(a, b Range) int { return Compare(a.Start, b.Start) })

	var holes []Range
	// next is the lowest key not yet known to be covered.
	next := Key{}
	for _, r := range sorted {
		if next.Less(r.Start) {
			end, _ := r.Start.Sub1() // r.Start > next >= 0
			holes = append(holes, Range{Start: next, End: end})
		}
		if next.Less(r.End) || next == r.End {
			n, ok := r.End.Add1()
			if !ok {
				// Covered through Max; nothing can be missing after it.
				return holes
			}
			next = n
		}
	}
	return append(holes, Range{Start: next, End: Max})
}

// Split cuts r into n contiguous, non-overlapping ranges that together cover
// exactly r. Sizes differ by at most one key and the larger parts come
// last, which for Split(Full, n) with n = 2, 3 or 4 gives the layout
// CreateStream gives a new stream (the tests pin those). It returns nil if
// n < 1, r is empty, or r holds fewer than n keys.
func Split(r Range, n int) []Range {
	if n < 1 || r.Empty() {
		return nil
	}
	if n == 1 {
		// The one case where a part can hold 2^128 keys, which q below
		// could not represent.
		return []Range{r}
	}
	// r can hold 2^128 keys, one more than a Key can count, so divide the
	// width (size-1) and fix up afterwards.
	width := sub(r.End, r.Start)
	d := uint64(n)
	qHi, rem := bits.Div64(0, width.Hi, d)
	qLo, rem := bits.Div64(rem, width.Lo, d)
	q := Key{Hi: qHi, Lo: qLo}
	rem++ // size = width+1 = n*q + rem, with 1 <= rem <= n
	if rem == d {
		q, _ = q.Add1() // q < 2^128/n and n >= 2, so it cannot overflow
		rem = 0
	}
	if q == (Key{}) {
		return nil
	}
	// The first n-rem parts hold q keys, the last rem parts q+1. Adding
	// size-1 rather than size keeps the last part from wrapping past Max.
	small, _ := q.Sub1()
	out := make([]Range, n)
	start := r.Start
	for i := range out {
		span := small
		if uint64(i) >= d-rem {
			span = q
		}
		end := add(start, span)
		out[i] = Range{Start: start, End: end}
		if i < n-1 {
			start, _ = end.Add1()
		}
	}
	return out
}

func add(a, b Key) Key {
	lo, carry := bits.Add64(a.Lo, b.Lo, 0)
	hi, _ := bits.Add64(a.Hi, b.Hi, carry)
	return Key{Hi: hi, Lo: lo}
}

func sub(a, b Key) Key {
	lo, borrow := bits.Sub64(a.Lo, b.Lo, 0)
	hi, _ := bits.Sub64(a.Hi, b.Hi, borrow)
	return Key{Hi: hi, Lo: lo}
}
