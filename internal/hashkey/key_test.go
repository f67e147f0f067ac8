package hashkey

import (
	"crypto/md5"
	"errors"
	"math/big"
	"strings"
	"testing"
)

// Decimal forms of the boundary values the tests keep coming back to.
const (
	maxDec    = "340282366920938463463374607431768211455" // 2^128-1
	over      = "340282366920938463463374607431768211456" // 2^128
	two64     = "18446744073709551616"                    // 2^64
	two64m1   = "18446744073709551615"                    // 2^64-1
	two127    = "170141183460469231731687303715884105728" // 2^127
	tenTo19   = "10000000000000000000"
	tenTo38   = "100000000000000000000000000000000000000"
	tenTo39   = "1000000000000000000000000000000000000000"
	kinesis3a = "113427455640312821154458202477256070485" // second shard of a 3-shard stream
)

func bigOf(k Key) *big.Int {
	b := k.BytesBE()
	return new(big.Int).SetBytes(b[:])
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Key
		err  error
	}{
		{in: "0", want: Key{}},
		{in: "1", want: Key{Lo: 1}},
		{in: "000", want: Key{}},
		{in: "0042", want: Key{Lo: 42}},
		{in: two64m1, want: Key{Lo: ^uint64(0)}},
		{in: two64, want: Key{Hi: 1}},
		{in: "18446744073709551617", want: Key{Hi: 1, Lo: 1}},
		{in: tenTo19, want: Key{Lo: 1e19}},
		{in: two127, want: Key{Hi: 1 << 63}},
		{in: maxDec, want: Max},
		{in: "0000000000000000000000000000000000000000000" + maxDec, want: Max},
		{in: tenTo38, want: Key{Hi: 0x4b3b4ca85a86c47a, Lo: 0x098a224000000000}},

		{in: "", err: ErrSyntax},
		{in: "-1", err: ErrSyntax},
		{in: "+1", err: ErrSyntax},
		{in: " 1", err: ErrSyntax},
		{in: "1 ", err: ErrSyntax},
		{in: "1_000", err: ErrSyntax},
		{in: "0x10", err: ErrSyntax},
		{in: "12a", err: ErrSyntax},
		{in: "١", err: ErrSyntax}, // Arabic-Indic digit one: not ASCII
		{in: over, err: ErrRange},
		{in: tenTo39, err: ErrRange},
		{in: maxDec + "0", err: ErrRange},
		{in: strings.Repeat("9", 100), err: ErrRange},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Parse(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseErrorMessages(t *testing.T) {
	_, err := Parse("12x4")
	if err == nil || !strings.Contains(err.Error(), `'x' at offset 2`) {
		t.Errorf("error %q does not say where the bad byte is", err)
	}
	_, err = Parse(strings.Repeat("7", 1000))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("error for a 1000-digit input is %d bytes long: %q", len(err.Error()), err)
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		k    Key
		want string
	}{
		{Key{}, "0"},
		{Key{Lo: 7}, "7"},
		{Key{Lo: ^uint64(0)}, two64m1},
		{Key{Hi: 1}, two64},
		{Key{Lo: 1e19}, tenTo19},
		{Key{Hi: 1 << 63}, two127},
		{Max, maxDec},
		// Chunks with inner zeros must be zero-padded to 19 digits.
		{Key{Hi: 0x4b3b4ca85a86c47a, Lo: 0x098a224000000000}, tenTo38},
		{Key{Hi: 0x4b3b4ca85a86c47a, Lo: 0x098a224000000001}, "100000000000000000000000000000000000001"},
	}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.k, got, tt.want)
		}
	}
}

func TestRoundTripBoundaries(t *testing.T) {
	keys := []Key{{}, {Lo: 1}, {Lo: ^uint64(0)}, {Hi: 1}, {Hi: 1, Lo: 1}, {Hi: ^uint64(0)}, {Lo: ^uint64(0), Hi: 1 << 63}, Max}
	for _, k := range keys {
		s := k.String()
		if want := bigOf(k).String(); s != want {
			t.Errorf("%#v.String() = %s, math/big says %s", k, s, want)
		}
		back, err := Parse(s)
		if err != nil || back != k {
			t.Errorf("Parse(%s) = %#v, %v; want %#v", s, back, err, k)
		}
		if FromBytesBE(k.BytesBE()) != k {
			t.Errorf("FromBytesBE(BytesBE(%#v)) changed the key", k)
		}
	}
}

func TestCompare(t *testing.T) {
	ordered := []Key{{}, {Lo: 1}, {Lo: ^uint64(0)}, {Hi: 1}, {Hi: 1, Lo: 1}, {Hi: ^uint64(0)}, Max}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := Compare(a, b); got != want {
				t.Errorf("Compare(%v, %v) = %d, want %d", a, b, got, want)
			}
			if got := a.Less(b); got != (want < 0) {
				t.Errorf("%v.Less(%v) = %v", a, b, got)
			}
		}
	}
}

func TestFromPartitionKey(t *testing.T) {
	tests := []struct {
		pk   string
		want Key
	}{
		// MD5 test vectors from RFC 1321, read big-endian.
		{"", Key{Hi: 0xd41d8cd98f00b204, Lo: 0xe9800998ecf8427e}},
		{"abc", Key{Hi: 0x900150983cd24fb0, Lo: 0xd6963f7d28e17f72}},
	}
	for _, tt := range tests {
		if got := FromPartitionKey(tt.pk); got != tt.want {
			t.Errorf("FromPartitionKey(%q) = %#v, want %#v", tt.pk, got, tt.want)
		}
		if got := FromPartitionKeyBytes([]byte(tt.pk)); got != tt.want {
			t.Errorf("FromPartitionKeyBytes(%q) = %#v, want %#v", tt.pk, got, tt.want)
		}
	}
	// Partition keys are Unicode; Kinesis hashes their UTF-8 bytes.
	for _, pk := range []string{"user-42", "ключ", "🔑", strings.Repeat("k", 256)} {
		sum := md5.Sum([]byte(pk))
		want := new(big.Int).SetBytes(sum[:])
		if got := bigOf(FromPartitionKey(pk)); got.Cmp(want) != 0 {
			t.Errorf("FromPartitionKey(%q) = %s, want %s", pk, got, want)
		}
	}
}

func TestAdd1Sub1(t *testing.T) {
	tests := []struct {
		k, next Key
		ok      bool
	}{
		{Key{}, Key{Lo: 1}, true},
		{Key{Lo: ^uint64(0)}, Key{Hi: 1}, true},
		{Key{Hi: 1, Lo: ^uint64(0)}, Key{Hi: 2}, true},
		{Max, Key{}, false},
	}
	for _, tt := range tests {
		next, ok := tt.k.Add1()
		if next != tt.next || ok != tt.ok {
			t.Errorf("%v.Add1() = %v, %v; want %v, %v", tt.k, next, ok, tt.next, tt.ok)
		}
		if !ok {
			continue
		}
		prev, ok := next.Sub1()
		if prev != tt.k || !ok {
			t.Errorf("%v.Sub1() = %v, %v; want %v, true", next, prev, ok, tt.k)
		}
	}
	if k, ok := (Key{}).Sub1(); ok || k != (Key{}) {
		t.Errorf("0.Sub1() = %v, %v; want 0, false", k, ok)
	}
}
