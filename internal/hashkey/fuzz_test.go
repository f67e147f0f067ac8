package hashkey

import (
	"math/big"
	"testing"
)

var two128 = new(big.Int).Lsh(big.NewInt(1), 128)

// FuzzParse checks Parse against math/big: the same strings are accepted,
// with the same value, and String gives back math/big's canonical form.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "0", "00", "1", "-1", "+1", " 1", two64, two64m1, maxDec, over, tenTo38, tenTo39, "1a", "1_0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)

		digits := s != ""
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				digits = false
				break
			}
		}
		var want *big.Int
		if digits {
			want, _ = new(big.Int).SetString(s, 10)
		}
		valid := want != nil && want.Cmp(two128) < 0

		if !valid {
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", s, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if bigOf(got).Cmp(want) != 0 {
			t.Fatalf("Parse(%q) = %v, want %s", s, got, want)
		}
		if got.String() != want.String() {
			t.Fatalf("String() = %q, want %q", got.String(), want.String())
		}
	})
}

// FuzzString checks String against math/big for arbitrary keys and that
// Parse inverts it.
func FuzzString(f *testing.F) {
	f.Add(uint64(0), uint64(0))
	f.Add(uint64(1), uint64(0))
	f.Add(^uint64(0), ^uint64(0))
	f.Add(uint64(0x4b3b4ca85a86c47a), uint64(0x098a224000000000))
	f.Fuzz(func(t *testing.T, hi, lo uint64) {
		k := Key{Hi: hi, Lo: lo}
		s := k.String()
		if want := bigOf(k).String(); s != want {
			t.Fatalf("%#v.String() = %s, want %s", k, s, want)
		}
		back, err := Parse(s)
		if err != nil || back != k {
			t.Fatalf("Parse(%s) = %#v, %v", s, back, err)
		}
	})
}
