package kinesistest

import (
	"math/big"
	"strconv"
	"testing"
)

func TestParseHashKey(t *testing.T) {
	two128 := new(big.Int).Lsh(big.NewInt(1), 128)
	maxKey := new(big.Int).Sub(two128, big.NewInt(1)).String()
	tests := []struct {
		in   string
		want u128
		ok   bool
	}{
		{"0", u128{}, true},
		{"1", u128{lo: 1}, true},
		{"18446744073709551615", u128{lo: ^uint64(0)}, true},
		{"18446744073709551616", u128{hi: 1}, true},
		{maxKey, maxHashKey, true},
		{two128.String(), u128{}, false}, // 2^128: one past the space
		{"", u128{}, false},
		{"-1", u128{}, false},
		{"+1", u128{}, false},
		{"01", u128{}, false},
		{"1e3", u128{}, false},
		{"0x10", u128{}, false},
	}
	for _, tc := range tests {
		got, ok := parseHashKey(tc.in)
		if ok != tc.ok {
			t.Errorf("parseHashKey(%q) ok = %v, want %v", tc.in, ok, tc.ok)
			continue
		}
		if tc.ok && got != tc.want {
			t.Errorf("parseHashKey(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("parseHashKey(%q).String() = %q", tc.in, got.String())
		}
	}
}

func TestU128IncDec(t *testing.T) {
	tests := []struct{ a, inc u128 }{
		{u128{}, u128{lo: 1}},
		{u128{lo: ^uint64(0)}, u128{hi: 1}},
		{u128{hi: 7, lo: 5}, u128{hi: 7, lo: 6}},
	}
	for _, tc := range tests {
		if got := tc.a.inc(); got != tc.inc {
			t.Errorf("%+v.inc() = %+v, want %+v", tc.a, got, tc.inc)
		}
		if got := tc.inc.dec(); got != tc.a {
			t.Errorf("%+v.dec() = %+v, want %+v", tc.inc, got, tc.a)
		}
		if tc.a.cmp(tc.inc) != -1 || tc.inc.cmp(tc.a) != 1 || tc.a.cmp(tc.a) != 0 {
			t.Errorf("cmp(%+v, %+v) wrong", tc.a, tc.inc)
		}
	}
}

func TestPartitionKeyHash(t *testing.T) {
	// MD5 digests from RFC 1321's test suite, read as big-endian integers.
	tests := map[string]string{
		"a":              "0cc175b9c0f1b6a831c399e269772661",
		"abc":            "900150983cd24fb0d6963f7d28e17f72",
		"message digest": "f96b697d7cb7938d525a2f31aaf161d0",
	}
	for pk, hexDigest := range tests {
		want, _ := new(big.Int).SetString(hexDigest, 16)
		if got := partitionKeyHash(pk).String(); got != want.String() {
			t.Errorf("partitionKeyHash(%q) = %s, want %s", pk, got, want)
		}
	}
}

func TestEvenBoundaries(t *testing.T) {
	two128 := new(big.Int).Lsh(big.NewInt(1), 128)
	for _, n := range []int{1, 2, 3, 4, 7, 16} {
		b := evenBoundaries(n)
		if len(b) != n {
			t.Fatalf("evenBoundaries(%d) has %d entries", n, len(b))
		}
		for i, got := range b {
			want := new(big.Int).Mul(two128, big.NewInt(int64(i)))
			want.Quo(want, big.NewInt(int64(n)))
			if got.String() != want.String() {
				t.Errorf("evenBoundaries(%d)[%d] = %s, want %s", n, i, got, want)
			}
		}
	}
}

func TestSequenceNumberFormat(t *testing.T) {
	a := formatSeq(1, 3, 0)
	b := formatSeq(2, 3, 0)
	c := formatSeq(2, 3, 5)
	for _, s := range []string{a, b, c} {
		if len(s) != 56 {
			t.Errorf("len(%q) = %d, want 56", s, len(s))
		}
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			t.Errorf("%q parses as int64; sequence numbers must not", s)
		}
	}
	ba, _ := new(big.Int).SetString(a, 10)
	bb, _ := new(big.Int).SetString(b, 10)
	if ba.Cmp(bb) >= 0 {
		t.Errorf("counter 1 (%s) does not sort below counter 2 (%s)", a, b)
	}
	// Gaps: callers must not compute the next sequence number.
	if diff := new(big.Int).Sub(bb, ba); diff.Cmp(big.NewInt(1)) <= 0 {
		t.Errorf("consecutive sequence numbers differ by %s; want gaps", diff)
	}
	p, ok := parseSeq(c)
	if !ok || p != (seqParts{counter: 2, incarnation: 3, shardIndex: 5}) {
		t.Errorf("parseSeq(%q) = %+v, %v", c, p, ok)
	}
	for _, bad := range []string{"", "49", "1" + a[1:], a[:55], a + "0"} {
		if _, ok := parseSeq(bad); ok {
			t.Errorf("parseSeq(%q) accepted", bad)
		}
	}
}
