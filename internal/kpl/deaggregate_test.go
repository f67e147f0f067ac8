package kpl

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/shardwise/shardwise/internal/hashkey"
	"github.com/shardwise/shardwise/internal/md5x"
)

func sub(i int64, pk, ehk, data string) SubRecord {
	return SubRecord{Index: i, PartitionKey: pk, ExplicitHashKey: ehk, Data: []byte(data)}
}

func equalSubs(a, b []SubRecord) bool {
	return slices.EqualFunc(a, b, func(x, y SubRecord) bool {
		return x.Index == y.Index && x.PartitionKey == y.PartitionKey &&
			x.ExplicitHashKey == y.ExplicitHashKey && bytes.Equal(x.Data, y.Data)
	})
}

func TestIsAggregated(t *testing.T) {
	m := magic[:]
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{"nil", nil, false},
		{"magic only", m, false},
		{"magic and 15 bytes", append(slices.Clone(m), make([]byte, 15)...), false},
		{"magic and a digest", append(slices.Clone(m), make([]byte, 16)...), false},
		{"magic, one byte and a digest", append(slices.Clone(m), make([]byte, 17)...), true},
		{"wrong magic", append([]byte{0xF3, 0x89, 0x9A, 0xC3}, make([]byte, 40)...), false},
		{"plain JSON", []byte(`{"user":"a","event":"click","padding":"xxxxxxxx"}`), false},
		// The Java KCL passes an aggregate of nothing through as a plain
		// record (it wants more than the digest after the magic).
		{"sealed empty aggregate", seal(nil), false},
	}
	for _, tt := range tests {
		if got := IsAggregated(tt.in); got != tt.want {
			t.Errorf("%s: IsAggregated = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDeaggregate(t *testing.T) {
	const maxDec = "340282366920938463463374607431768211455"
	twoKeys := pb{}.str(1, "pk-a").str(1, "pk-b")
	valid := Aggregate([]UserRecord{{PartitionKey: "a", Data: []byte("x")}})
	badDigest := slices.Clone(valid)
	badDigest[len(badDigest)-1] ^= 1
	badMagic := slices.Clone(valid)
	badMagic[0] = 0xF4
	deepGroup := pb{}
	for range 2 * protowire.DefaultRecursionLimit {
		deepGroup = deepGroup.key(9, startGroupType)
	}
	for range 2 * protowire.DefaultRecursionLimit {
		deepGroup = deepGroup.key(9, endGroupType)
	}

	tests := []struct {
		name string
		in   []byte
		want []SubRecord
		err  error // ErrNotAggregate or ErrCorrupt
	}{
		{
			name: "without explicit hash keys",
			in: seal(twoKeys.
				msg(3, rec(0, -1, "one")).
				msg(3, rec(1, -1, "two")).
				msg(3, rec(0, -1, "three"))),
			want: []SubRecord{sub(0, "pk-a", "", "one"), sub(1, "pk-b", "", "two"), sub(2, "pk-a", "", "three")},
		},
		{
			name: "with explicit hash keys",
			in: seal(twoKeys.str(2, "0").str(2, maxDec).
				msg(3, rec(0, 1, "one")).
				msg(3, rec(1, -1, "two")).
				msg(3, rec(1, 0, "three"))),
			want: []SubRecord{sub(0, "pk-a", maxDec, "one"), sub(1, "pk-b", "", "two"), sub(2, "pk-b", "0", "three")},
		},
		{
			name: "empty aggregate: 20 bytes, a plain record as in the Java KCL",
			in:   seal(nil),
			err:  ErrNotAggregate,
		},
		{
			name: "tables but no records",
			in:   seal(twoKeys.str(2, "5")),
		},
		{
			name: "empty data and empty partition key",
			in:   seal(pb{}.str(1, "").msg(3, rec(0, -1, ""))),
			want: []SubRecord{sub(0, "", "", "")},
		},
		{
			name: "tables after records",
			in: seal(pb{}.
				msg(3, rec(1, 0, "one")).
				msg(3, rec(0, -1, "two")).
				str(2, "42").str(1, "pk-a").str(1, "pk-b")),
			want: []SubRecord{sub(0, "pk-b", "42", "one"), sub(1, "pk-a", "", "two")},
		},
		{
			name: "tables and records interleaved",
			in: seal(pb{}.str(1, "pk-a").
				msg(3, rec(1, -1, "one")).
				str(1, "pk-b").
				msg(3, rec(0, -1, "two"))),
			want: []SubRecord{sub(0, "pk-b", "", "one"), sub(1, "pk-a", "", "two")},
		},
		{
			name: "unknown fields of every wire type skipped",
			in: seal(pb{}.
				varint(15, 1<<40).
				raw(0x81, 0x01, 1, 2, 3, 4, 5, 6, 7, 8). // field 16, fixed64
				raw(0x85, 0x01, 1, 2, 3, 4).             // field 16, fixed32
				str(200, "ignored").
				key(17, startGroupType).varint(1, 5).key(18, startGroupType).key(18, endGroupType).key(17, endGroupType).
				str(1, "pk-a").
				msg(3, rec(0, -1, "one").varint(9, 7).str(10, "x")).
				msg(3, pb{}.str(99, "before").varint(1, 0).str(3, "two")).
				str(uint64(protowire.MaxValidNumber), "last")),
			want: []SubRecord{sub(0, "pk-a", "", "one"), sub(1, "pk-a", "", "two")},
		},
		{
			name: "known field numbers with other wire types are unknown fields",
			in: seal(pb{}.
				varint(1, 3). // not a table entry
				varint(3, 3). // not a record, so no index is used up
				str(1, "pk-a").
				msg(3, rec(0, -1, "one").str(1, "x").varint(3, 1))),
			want: []SubRecord{sub(0, "pk-a", "", "one")},
		},
		{
			name: "tags ignored",
			in: seal(pb{}.str(1, "pk-a").
				msg(3, rec(0, -1, "one").
					msg(4, pb{}.str(1, "k").str(2, "v")).
					msg(4, pb{}.str(1, "k2")))),
			want: []SubRecord{sub(0, "pk-a", "", "one")},
		},
		{
			name: "repeated scalar fields keep the last value",
			in: seal(twoKeys.
				msg(3, pb{}.varint(1, 0).str(3, "old").varint(1, 1).str(3, "new"))),
			want: []SubRecord{sub(0, "pk-b", "", "new")},
		},
		{
			name: "non-minimal varints",
			in:   seal(pb{}.str(1, "pk-a").msg(3, pb{}.raw(0x88, 0x00, 0x80, 0x00).str(3, "x"))),
			want: []SubRecord{sub(0, "pk-a", "", "x")},
		},
		{
			name: "bad explicit hash key that no record uses",
			in:   seal(twoKeys.str(2, "nope").msg(3, rec(0, -1, "one"))),
			want: []SubRecord{sub(0, "pk-a", "", "one")},
		},

		{name: "nil", in: nil, err: ErrNotAggregate},
		{name: "too short", in: append(magic[:], 1, 2, 3), err: ErrNotAggregate},
		{name: "corrupt magic", in: badMagic, err: ErrNotAggregate},
		{name: "plain record", in: []byte("hello, this is a plain record"), err: ErrNotAggregate},
		{name: "corrupt MD5", in: badDigest, err: ErrCorrupt},
		{name: "truncated record", in: valid[:len(valid)-1], err: ErrCorrupt},
		{name: "truncated body", in: seal(twoKeys.msg(3, rec(0, -1, "one"))[:len(twoKeys)+5]), err: ErrCorrupt},
		{name: "truncated table entry", in: seal(pb{}.str(1, "pk-a")[:4]), err: ErrCorrupt},
		{name: "length past end", in: seal(pb{}.raw(0x0a, 0x7f, 'a')), err: ErrCorrupt},
		{name: "length overflows int", in: seal(pb{}.raw(0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)), err: ErrCorrupt},
		{name: "varint longer than 10 bytes", in: seal(pb{}.raw(0x78, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)), err: ErrCorrupt},
		{name: "field number 0", in: seal(pb{}.raw(0x00, 0x00)), err: ErrCorrupt},
		{name: "wire type 6", in: seal(pb{}.raw(0x0e, 0x00)), err: ErrCorrupt},
		{name: "wire type 7 in a record", in: seal(twoKeys.msg(3, rec(0, -1, "x").raw(0x0f))), err: ErrCorrupt},
		{name: "end group without start", in: seal(pb{}.key(5, endGroupType)), err: ErrCorrupt},
		{name: "group never closed", in: seal(pb{}.key(5, startGroupType).varint(1, 1)), err: ErrCorrupt},
		{name: "group closed by another number", in: seal(pb{}.key(5, startGroupType).key(6, endGroupType)), err: ErrCorrupt},
		{name: "groups nested too deep", in: seal(deepGroup), err: ErrCorrupt},
		{name: "partition key index out of range", in: seal(twoKeys.msg(3, rec(2, -1, "x"))), err: ErrCorrupt},
		{name: "partition key index huge", in: seal(twoKeys.msg(3, rec(1<<63, -1, "x"))), err: ErrCorrupt},
		{name: "no partition key table", in: seal(pb{}.msg(3, rec(0, -1, "x"))), err: ErrCorrupt},
		{name: "explicit hash key index out of range", in: seal(twoKeys.str(2, "1").msg(3, rec(0, 1, "x"))), err: ErrCorrupt},
		{name: "explicit hash key index without table", in: seal(twoKeys.msg(3, rec(0, 0, "x"))), err: ErrCorrupt},
		{name: "bad explicit hash key: letters", in: seal(twoKeys.str(2, "12ab").msg(3, rec(0, 0, "x"))), err: ErrCorrupt},
		{name: "bad explicit hash key: negative", in: seal(twoKeys.str(2, "-1").msg(3, rec(0, 0, "x"))), err: ErrCorrupt},
		{name: "bad explicit hash key: empty", in: seal(twoKeys.str(2, "").msg(3, rec(0, 0, "x"))), err: ErrCorrupt},
		{name: "bad explicit hash key: 2^128", in: seal(twoKeys.str(2, "340282366920938463463374607431768211456").msg(3, rec(0, 0, "x"))), err: ErrCorrupt},
		{name: "record without partition key index", in: seal(twoKeys.msg(3, pb{}.str(3, "x"))), err: ErrCorrupt},
		{name: "record without data", in: seal(twoKeys.msg(3, pb{}.varint(1, 0))), err: ErrCorrupt},
		{name: "tag without key", in: seal(twoKeys.msg(3, rec(0, -1, "x").msg(4, pb{}.str(2, "v")))), err: ErrCorrupt},
		{name: "tag with broken framing", in: seal(twoKeys.msg(3, rec(0, -1, "x").msg(4, pb{}.raw(0x0a, 0x05)))), err: ErrCorrupt},
		{name: "bad record after good ones", in: seal(twoKeys.msg(3, rec(0, -1, "x")).msg(3, rec(0, -1, "y")).msg(3, rec(9, -1, "z"))), err: ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Deaggregate(tt.in, nil, nil)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error = %v, want %v", err, tt.err)
				}
				if got != nil {
					t.Fatalf("returned %d sub-records with an error", len(got))
				}
				// The two kinds must be distinguishable.
				other := ErrCorrupt
				if tt.err == ErrCorrupt {
					other = ErrNotAggregate
				}
				if errors.Is(err, other) {
					t.Fatalf("error %v also matches %v", err, other)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !equalSubs(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
			// The same input with a filter that keeps everything must give
			// the same result.
			all, err := Deaggregate(tt.in, &hashkey.Full, nil)
			if err != nil || !equalSubs(all, tt.want) {
				t.Fatalf("with the full range: %+v, %v", all, err)
			}
		})
	}
}

func TestCorruptErrorDetails(t *testing.T) {
	in := seal(pb{}.str(1, "pk").str(2, "12ab").msg(3, rec(0, -1, "ok")).msg(3, rec(0, 0, "bad")))
	_, err := Deaggregate(in, nil, nil)
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *CorruptError", err)
	}
	if !errors.Is(err, hashkey.ErrSyntax) {
		t.Errorf("error %v does not wrap the hash key parse error", err)
	}
	if !strings.Contains(ce.Reason, "record 1") {
		t.Errorf("reason %q does not name the record", ce.Reason)
	}
	// The offset points into the second record's value, within the whole
	// input (magic included).
	second := bytes.LastIndex(in, rec(0, 0, "bad"))
	if ce.Offset != second {
		t.Errorf("offset = %d, want %d", ce.Offset, second)
	}

	bad := Aggregate([]UserRecord{{PartitionKey: "a", Data: []byte("x")}})
	bad[len(bad)-1] ^= 0xff
	_, err = Deaggregate(bad, nil, nil)
	if !errors.As(err, &ce) || ce.Offset != -1 || !strings.Contains(err.Error(), "MD5") {
		t.Errorf("digest mismatch error = %v", err)
	}
}

func TestDeaggregateErrorLeavesOutUnchanged(t *testing.T) {
	var recs []UserRecord
	for i := range 20 {
		recs = append(recs, UserRecord{PartitionKey: fmt.Sprint(i), Data: []byte{byte(i)}})
	}
	in := Aggregate(recs)
	// Rebuild it with a bad record at the end, so several sub-records are
	// appended before the error is found.
	body := pb(slices.Clone(in[len(magic):len(in)-16])).msg(3, rec(99, -1, "z"))
	in = seal(body)

	prefix := []SubRecord{sub(7, "mine", "", "keep me")}
	out := make([]SubRecord, 1, 64)
	copy(out, prefix)
	got, err := Deaggregate(in, nil, out)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error = %v, want ErrCorrupt", err)
	}
	if len(got) != 1 || &got[0] != &out[0] || !equalSubs(got, prefix) {
		t.Fatalf("out changed: %+v", got)
	}
	for i, s := range out[1:cap(out)] {
		if s.Data != nil || s.PartitionKey != "" {
			t.Fatalf("spare capacity slot %d still references the input: %+v", i+1, s)
		}
	}
}

func TestDeaggregateAppends(t *testing.T) {
	in := Aggregate([]UserRecord{{PartitionKey: "a", Data: []byte("1")}, {PartitionKey: "b", Data: []byte("2")}})
	out := []SubRecord{sub(5, "x", "", "earlier")}
	out, err := Deaggregate(in, nil, out)
	if err != nil {
		t.Fatal(err)
	}
	want := []SubRecord{sub(5, "x", "", "earlier"), sub(0, "a", "", "1"), sub(1, "b", "", "2")}
	if !equalSubs(out, want) {
		t.Fatalf("got %+v, want %+v", out, want)
	}
}

func TestDataAliasesInput(t *testing.T) {
	in := Aggregate([]UserRecord{
		{PartitionKey: "a", Data: []byte("first")},
		{PartitionKey: "a", Data: []byte("second")},
	})
	orig := slices.Clone(in)
	got, err := Deaggregate(in, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range got {
		if !within(s.Data, in) {
			t.Fatalf("Data %q is not a slice of the input", s.Data)
		}
		if cap(s.Data) != len(s.Data) {
			t.Fatalf("Data has capacity %d beyond its length %d", cap(s.Data), len(s.Data))
		}
	}
	// Appending to one sub-record's data must not overwrite the next.
	_ = append(got[0].Data, "XXXXXXXXXXXXXXXX"...)
	if !bytes.Equal(in, orig) {
		t.Fatal("appending to Data modified the input")
	}
}

// within reports whether s lies inside buf's memory.
func within(s, buf []byte) bool {
	if len(s) == 0 {
		return true
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= start && p+uintptr(len(s)) <= start+uintptr(len(buf))
}

func TestRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 30000) // multi-byte length varints
	many := make([]UserRecord, 300)                  // multi-byte indexes
	for i := range many {
		many[i] = UserRecord{PartitionKey: fmt.Sprintf("pk-%d", i), Data: []byte{byte(i)}}
		if i%3 == 0 {
			many[i].ExplicitHashKey = fmt.Sprint(i * 1000)
		}
	}
	tests := []struct {
		name string
		recs []UserRecord
	}{
		{"one empty", []UserRecord{{}}},
		{"unicode keys", []UserRecord{{PartitionKey: "ключ", Data: []byte("a")}, {PartitionKey: "🔑", Data: []byte("b")}}},
		{"explicit hash key bounds", []UserRecord{
			{PartitionKey: "a", ExplicitHashKey: "0", Data: []byte("lo")},
			{PartitionKey: "a", ExplicitHashKey: "340282366920938463463374607431768211455", Data: []byte("hi")},
		}},
		{"shared keys", []UserRecord{
			{PartitionKey: "a", Data: []byte("1")}, {PartitionKey: "b", Data: []byte("2")},
			{PartitionKey: "a", ExplicitHashKey: "7", Data: []byte("3")}, {PartitionKey: "b", ExplicitHashKey: "7", Data: []byte("4")},
		}},
		{"large data", []UserRecord{{PartitionKey: "a", Data: big}, {PartitionKey: "b", Data: big[:200]}}},
		{"300 records", many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Aggregate(tt.recs)
			if !IsAggregated(in) {
				t.Fatal("Aggregate output is not recognised as an aggregate")
			}
			got, err := Deaggregate(in, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]SubRecord, len(tt.recs))
			for i, r := range tt.recs {
				want[i] = SubRecord{Index: int64(i), PartitionKey: r.PartitionKey, ExplicitHashKey: r.ExplicitHashKey, Data: r.Data}
			}
			if !equalSubs(got, want) {
				t.Fatalf("round trip changed the records")
			}
		})
	}
}

func TestAggregateSharesTableEntries(t *testing.T) {
	recs := make([]UserRecord, 50)
	for i := range recs {
		recs[i] = UserRecord{PartitionKey: fmt.Sprint(i % 3), Data: []byte("d")}
		if i%2 == 0 {
			recs[i].ExplicitHashKey = fmt.Sprint(i % 4)
		}
	}
	in := Aggregate(recs)
	d := decoder{body: in[len(magic) : len(in)-16]}
	lay, err := d.scan()
	if err != nil {
		t.Fatal(err)
	}
	if lay.nPK != 3 || lay.nEHK != 2 {
		t.Fatalf("tables have %d partition keys and %d explicit hash keys, want 3 and 2", lay.nPK, lay.nEHK)
	}
	if len(in) != cap(in) {
		t.Errorf("Aggregate sized its buffer wrong: len %d, cap %d", len(in), cap(in))
	}
}

func TestDeaggregateFilter(t *testing.T) {
	var recs []UserRecord
	for i := range 200 {
		r := UserRecord{PartitionKey: fmt.Sprintf("user-%d", i%37), Data: fmt.Appendf(nil, "event %d", i)}
		switch i % 10 {
		case 3:
			// Explicit hash key inside the kept range, partition key
			// wherever it hashes: the explicit key decides.
			r.ExplicitHashKey = hashkey.Split(hashkey.Full, 4)[1].Start.String()
		case 7:
			r.ExplicitHashKey = "0"
		}
		recs = append(recs, r)
	}
	in := Aggregate(recs)

	for i, keep := range hashkey.Split(hashkey.Full, 4) {
		t.Run(fmt.Sprint("quarter ", i), func(t *testing.T) {
			var want []SubRecord
			for j, r := range recs {
				k := hashkey.FromPartitionKey(r.PartitionKey)
				if r.ExplicitHashKey != "" {
					k, _ = hashkey.Parse(r.ExplicitHashKey)
				}
				if keep.Contains(k) {
					want = append(want, SubRecord{Index: int64(j), PartitionKey: r.PartitionKey, ExplicitHashKey: r.ExplicitHashKey, Data: r.Data})
				}
			}
			if len(want) == 0 || len(want) == len(recs) {
				t.Fatalf("test data keeps %d of %d records in this quarter; the test needs a strict subset", len(want), len(recs))
			}
			got, err := Deaggregate(in, &keep, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !equalSubs(got, want) {
				t.Fatalf("kept %d records, want %d:\ngot  %+v\nwant %+v", len(got), len(want), got, want)
			}
		})
	}

	// The full range keeps everything, as no filter does, without hashing
	// a partition key; a range short of it by one key at either end
	// filters.
	all, err := Deaggregate(in, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	full := hashkey.Full
	hashed := 0
	sumStrings = func(out [][16]byte, msgs []string) { hashed += len(msgs); md5x.SumStrings(out, msgs) }
	t.Cleanup(func() { sumStrings = md5x.SumStrings })
	if got, err := Deaggregate(in, &full, nil); err != nil || !equalSubs(got, all) || hashed != 0 {
		t.Errorf("full range: %d records, %v, %d partition keys hashed; want all %d, no error, none hashed", len(got), err, hashed, len(all))
	}
	// Ranges that miss the smallest or the largest key of the 37.
	minKey, maxKey := hashkey.Max, hashkey.Key{}
	for i := range 37 {
		k := hashkey.FromPartitionKey(fmt.Sprintf("user-%d", i))
		if k.Less(minKey) {
			minKey = k
		}
		if maxKey.Less(k) {
			maxKey = k
		}
	}
	above, _ := minKey.Add1()
	below, _ := maxKey.Sub1()
	for _, keep := range []hashkey.Range{{Start: above, End: hashkey.Max}, {Start: hashkey.Key{}, End: below}} {
		hashed = 0
		got, err := Deaggregate(in, &keep, nil)
		if err != nil || len(got) >= len(all) || hashed == 0 {
			t.Errorf("range %v: %d of %d records, %v, %d partition keys hashed; want fewer, no error, some hashed", keep, len(got), len(all), err, hashed)
		}
	}

	// A filter must not hide a corrupt aggregate: a bad explicit hash key
	// is an error whether or not its record would have been kept.
	bad := seal(pb{}.str(1, "a").str(2, "x").msg(3, rec(0, 0, "d")))
	for _, keep := range []*hashkey.Range{nil, {Start: hashkey.Max, End: hashkey.Max}, &full} {
		if _, err := Deaggregate(bad, keep, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("keep %v: error = %v, want ErrCorrupt", keep, err)
		}
	}
}

// TestDeaggregateAllocs pins the allocation profile the consumer's hot path
// relies on: a fixed number per aggregate, whatever its record count or
// number of distinct keys, when the caller reuses out and a Deaggregator
// (one allocation: the strings of the aggregate's key tables, which the
// sub-records keep); the one-shot Deaggregate allocates its scratch too.
func TestDeaggregateAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are noisy under some instrumentation")
	}
	in := Aggregate(makeRecords(100, 100, 100))
	keep := hashkey.Split(hashkey.Full, 2)[0]
	out := make([]SubRecord, 0, 100)
	var d Deaggregator
	ok := make([]bool, 1)
	for _, tt := range []struct {
		name    string
		keep    *hashkey.Range
		reused  float64
		oneShot float64
	}{
		{"no filter", nil, 1, 3},
		{"filter", &keep, 1, 5},
	} {
		allocs := testing.AllocsPerRun(50, func() {
			d.Verify([][]byte{in}, ok)
			if !ok[0] {
				t.Fatal("Verify rejected a valid aggregate")
			}
			var err error
			if out, err = d.DeaggregateVerified(in, tt.keep, out[:0]); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > tt.reused {
			t.Errorf("%s: %v allocations per aggregate with a reused Deaggregator, want at most %v", tt.name, allocs, tt.reused)
		}
		allocs = testing.AllocsPerRun(50, func() {
			var err error
			if out, err = Deaggregate(in, tt.keep, out[:0]); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > tt.oneShot {
			t.Errorf("%s: %v allocations per aggregate from Deaggregate, want at most %v", tt.name, allocs, tt.oneShot)
		}
	}
}

// makeRecords builds n records of size bytes each spread over keys distinct
// partition keys.
func makeRecords(n, size, keys int) []UserRecord {
	recs := make([]UserRecord, n)
	for i := range recs {
		data := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		recs[i] = UserRecord{PartitionKey: fmt.Sprintf("partition-key-%04d", i%keys), Data: data}
	}
	return recs
}
