package fastdecode

import (
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestParseShortDecimalIsParseFloat checks the fast path against
// strconv.ParseFloat on the decimals it accepts, bit for bit.
func TestParseShortDecimalIsParseFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	cases := []string{"0.0", "-0.0", "0.5", "1700000000.123", "1700000000.9999", "999999999999999.", "-0.000000000000001", "123456789012345"}
	for range 200_000 {
		intDigits, fracDigits := rng.IntN(12), rng.IntN(10)
		s := strconv.FormatUint(rng.Uint64N(pow10u(intDigits)), 10)
		if fracDigits > 0 {
			f := strconv.FormatUint(rng.Uint64N(pow10u(fracDigits)), 10)
			for len(f) < fracDigits {
				f = "0" + f
			}
			s += "." + f
		}
		if rng.IntN(2) == 0 {
			s = "-" + s
		}
		cases = append(cases, s)
	}
	accepted := 0
	for _, s := range cases {
		got, ok := parseShortDecimal([]byte(s))
		if !ok {
			continue
		}
		accepted++
		want, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("%s: ParseFloat: %v", s, err)
		}
		if got != want || (got == 0 && (1/got > 0) != (1/want > 0)) {
			t.Fatalf("%s: got %v, ParseFloat %v", s, got, want)
		}
	}
	if accepted < len(cases)/2 {
		t.Fatalf("the fast path took only %d of %d decimals", accepted, len(cases))
	}
	for _, s := range []string{"1e5", "1234567890123456.5", "1.5E3"} {
		if _, ok := parseShortDecimal([]byte(s)); ok {
			t.Errorf("%s: the fast path must decline it", s)
		}
	}
}

func pow10u(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

// TestHasStop checks the eight-bytes-at-a-time test against the byte
// table, for every byte value in every position.
func TestHasStop(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			var w [8]byte
			for i := range w {
				w[i] = 'a'
			}
			w[pos] = byte(c)
			if got, want := hasStop(binary.LittleEndian.Uint64(w[:])), strStop[c]; got != want {
				t.Fatalf("byte %#x at %d: hasStop %v, want %v", c, pos, got, want)
			}
		}
	}
	// Neighbours that borrow: a stop byte next to 0x00/0x01/0x80/0xff.
	for _, w := range [][8]byte{{0x01, '"', 1, 1, 1, 1, 1, 1}, {0x80, 0x20, 0x21, 0x7f, 0xff, 0x5b, 0x5d, 0x23}} {
		want := false
		for _, b := range w {
			want = want || strStop[b]
		}
		if got := hasStop(binary.LittleEndian.Uint64(w[:])); got != want {
			t.Fatalf("%q: hasStop %v, want %v", w, got, want)
		}
	}
}
