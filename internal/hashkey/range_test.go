package hashkey

import (
	"errors"
	"math/big"
	"slices"
	"testing"
)

func k(lo uint64) Key { return Key{Lo: lo} }

func TestParseRange(t *testing.T) {
	tests := []struct {
		start, end string
		want       Range
		err        error
		errText    bool
	}{
		{start: "0", end: maxDec, want: Full},
		{start: "5", end: "5", want: Range{k(5), k(5)}},
		{start: two64m1, end: two64, want: Range{Key{Lo: ^uint64(0)}, Key{Hi: 1}}},
		{start: "", end: "5", err: ErrSyntax},
		{start: "0", end: over, err: ErrRange},
		{start: "6", end: "5", errText: true},
	}
	for _, tt := range tests {
		got, err := ParseRange(tt.start, tt.end)
		switch {
		case tt.err != nil:
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseRange(%q, %q) error = %v, want %v", tt.start, tt.end, err, tt.err)
			}
		case tt.errText:
			if err == nil {
				t.Errorf("ParseRange(%q, %q) accepted an inverted range", tt.start, tt.end)
			}
		case err != nil || got != tt.want:
			t.Errorf("ParseRange(%q, %q) = %v, %v; want %v", tt.start, tt.end, got, err, tt.want)
		}
	}
}

func TestContains(t *testing.T) {
	r := Range{Start: Key{Lo: ^uint64(0)}, End: Key{Hi: 1, Lo: 5}}
	tests := []struct {
		r    Range
		k    Key
		want bool
	}{
		{Full, Key{}, true},
		{Full, Max, true},
		{r, Key{Lo: ^uint64(0) - 1}, false},
		{r, Key{Lo: ^uint64(0)}, true},
		{r, Key{Hi: 1}, true},
		{r, Key{Hi: 1, Lo: 5}, true},
		{r, Key{Hi: 1, Lo: 6}, false},
		{r, Key{Lo: 5}, false}, // same low word as End: the high word decides
		{Range{k(3), k(3)}, k(3), true},
		{Range{k(4), k(3)}, k(3), false},
	}
	for _, tt := range tests {
		if got := tt.r.Contains(tt.k); got != tt.want {
			t.Errorf("%v.Contains(%v) = %v, want %v", tt.r, tt.k, got, tt.want)
		}
	}
}

func TestHoles(t *testing.T) {
	two64 := Key{Hi: 1}
	two64m1 := Key{Lo: ^uint64(0)}
	tests := []struct {
		name string
		in   []Range
		want []Range
	}{
		{"none", nil, []Range{Full}},
		{"full", []Range{Full}, nil},
		{"only empty ranges", []Range{{k(5), k(4)}}, []Range{Full}},
		{"missing start", []Range{{k(10), Max}}, []Range{{k(0), k(9)}}},
		{"missing end", []Range{{k(0), k(10)}}, []Range{{k(11), Max}}},
		{"missing max only", []Range{{k(0), mustSub(Max)}}, []Range{{Max, Max}}},
		{"missing zero only", []Range{{k(1), Max}}, []Range{{k(0), k(0)}}},
		{"adjacent across 2^64", []Range{{two64, Max}, {k(0), two64m1}}, nil},
		{"gap at 2^64", []Range{{k(0), two64m1}, {Key{Hi: 1, Lo: 1}, Max}}, []Range{{two64, two64}}},
		{
			"overlaps and duplicates",
			[]Range{{k(0), k(10)}, {k(5), k(20)}, {k(5), k(20)}, {k(8), k(9)}, {k(30), Max}},
			[]Range{{k(21), k(29)}},
		},
		{
			"unsorted, several holes",
			[]Range{{k(50), k(60)}, {k(10), k(20)}},
			[]Range{{k(0), k(9)}, {k(21), k(49)}, {k(61), Max}},
		},
		{"contained range after max end", []Range{{k(0), Max}, {k(3), k(4)}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			got := Holes(in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Holes(%v) = %v, want %v", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("Holes modified its input: %v", in)
			}
		})
	}
}

func mustSub(k Key) Key {
	p, ok := k.Sub1()
	if !ok {
		panic("Sub1 of 0")
	}
	return p
}

func TestSplitKinesisLayouts(t *testing.T) {
	// The hash key ranges CreateStream gives 2- and 3-shard streams.
	tests := []struct {
		n      int
		starts []string
	}{
		{1, []string{"0"}},
		{2, []string{"0", two127}},
		{3, []string{"0", kinesis3a, "226854911280625642308916404954512140970"}},
		{4, []string{"0", "85070591730234615865843651857942052864", two127, "255211775190703847597530955573826158592"}},
	}
	for _, tt := range tests {
		got := Split(Full, tt.n)
		if len(got) != tt.n {
			t.Fatalf("Split(Full, %d) returned %d ranges", tt.n, len(got))
		}
		for i, r := range got {
			if r.Start.String() != tt.starts[i] {
				t.Errorf("Split(Full, %d)[%d].Start = %s, want %s", tt.n, i, r.Start, tt.starts[i])
			}
		}
		if got[len(got)-1].End != Max {
			t.Errorf("Split(Full, %d) does not end at Max", tt.n)
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		r Range
		n int
	}{
		{Full, 1}, {Full, 2}, {Full, 7}, {Full, 100}, {Full, 1 << 20},
		{Range{k(0), k(9)}, 10},
		{Range{k(0), k(9)}, 3},
		{Range{k(5), k(5)}, 1},
		{Range{Key{Lo: ^uint64(0) - 2}, Key{Hi: 1, Lo: 2}}, 4},
		{Range{Key{Hi: 3}, Max}, 6},
	}
	for _, tt := range tests {
		parts := Split(tt.r, tt.n)
		checkSplit(t, tt.r, tt.n, parts)
	}
}

// checkSplit checks the invariants every Split result must have: n parts,
// contiguous, covering r exactly, sizes within one key of each other.
func checkSplit(t *testing.T, r Range, n int, parts []Range) {
	t.Helper()
	if len(parts) != n {
		t.Fatalf("Split(%v, %d) returned %d parts", r, n, len(parts))
	}
	if parts[0].Start != r.Start || parts[n-1].End != r.End {
		t.Errorf("Split(%v, %d) covers [%v, %v]", r, n, parts[0].Start, parts[n-1].End)
	}
	one := big.NewInt(1)
	var lo, hi *big.Int
	for i, p := range parts {
		if p.Empty() {
			t.Fatalf("Split(%v, %d)[%d] = %v is empty", r, n, i, p)
		}
		if i > 0 {
			if next, _ := parts[i-1].End.Add1(); next != p.Start {
				t.Fatalf("Split(%v, %d): part %d starts at %v, previous ends at %v", r, n, i, p.Start, parts[i-1].End)
			}
		}
		size := new(big.Int).Sub(bigOf(p.End), bigOf(p.Start))
		size.Add(size, one)
		if lo == nil || size.Cmp(lo) < 0 {
			lo = size
		}
		if hi == nil || size.Cmp(hi) > 0 {
			hi = size
		}
	}
	if new(big.Int).Sub(hi, lo).Cmp(one) > 0 {
		t.Errorf("Split(%v, %d): part sizes range from %s to %s", r, n, lo, hi)
	}
}

func TestSplitRejects(t *testing.T) {
	tests := []struct {
		r Range
		n int
	}{
		{Full, 0},
		{Full, -1},
		{Range{k(0), k(9)}, 11},
		{Range{k(5), k(4)}, 1},
	}
	for _, tt := range tests {
		if got := Split(tt.r, tt.n); got != nil {
			t.Errorf("Split(%v, %d) = %v, want nil", tt.r, tt.n, got)
		}
	}
}

func TestSplitThenHoles(t *testing.T) {
	parts := Split(Full, 9)
	if h := Holes(parts); h != nil {
		t.Fatalf("a split of the full range has holes %v", h)
	}
	missing := parts[4]
	parts = slices.Delete(parts, 4, 5)
	if h := Holes(parts); !slices.Equal(h, []Range{missing}) {
		t.Fatalf("Holes after dropping part 4 = %v, want [%v]", h, missing)
	}
}
