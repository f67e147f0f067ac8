package kpl

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/shardwise/shardwise/internal/hashkey"
)

// FuzzDeaggregate feeds Deaggregate arbitrary input. When sealed is true the
// input is taken as the protobuf body and framed with the magic and a
// correct digest; otherwise nearly every mutation would stop at the MD5
// check and the fuzzer would never reach the protobuf decoder. lo and hi
// choose a hash-key filter (none when lo > hi).
func FuzzDeaggregate(f *testing.F) {
	seeds := [][]UserRecord{
		nil,
		{{PartitionKey: "a", Data: []byte("x")}},
		{{PartitionKey: "a", ExplicitHashKey: "12345", Data: []byte("x")}, {PartitionKey: "b", Data: []byte("yy")}},
		makeRecords(20, 10, 5),
	}
	for _, recs := range seeds {
		agg := Aggregate(recs)
		body := agg[len(magic) : len(agg)-16]
		f.Add(agg, false, uint64(0), ^uint64(0))
		f.Add(slices.Clone(body), true, uint64(0), ^uint64(0))
		f.Add(slices.Clone(body), true, uint64(1)<<63, ^uint64(0))
		f.Add(slices.Clone(body), true, uint64(1), uint64(0))
		// Mutations: a flipped byte, truncations, a broken digest.
		if len(body) > 2 {
			flipped := slices.Clone(body)
			flipped[len(flipped)/2] ^= 0x80
			f.Add(flipped, true, uint64(1), uint64(0))
			f.Add(slices.Clone(body[:len(body)-1]), true, uint64(1), uint64(0))
		}
		f.Add(agg[:len(agg)-1], false, uint64(1), uint64(0))
		broken := slices.Clone(agg)
		broken[len(broken)-1] ^= 1
		f.Add(broken, false, uint64(1), uint64(0))
	}
	f.Add([]byte(pb{}.msg(3, rec(0, 0, "x")).str(2, "7").str(1, "k")), true, uint64(1), uint64(0))
	f.Add([]byte(pb{}.key(5, startGroupType).varint(1, 1).key(5, endGroupType).str(1, "k").msg(3, rec(0, -1, "x").msg(4, pb{}.str(1, "t")))), true, uint64(0), uint64(0))
	f.Add([]byte("not an aggregate"), false, uint64(1), uint64(0))

	var shared Deaggregator // reused across inputs, as a fetcher does
	f.Fuzz(func(t *testing.T, in []byte, sealed bool, lo, hi uint64) {
		if sealed {
			in = seal(in)
		}
		var keep *hashkey.Range
		if lo <= hi {
			keep = &hashkey.Range{Start: hashkey.Key{Hi: lo}, End: hashkey.Key{Hi: hi, Lo: ^uint64(0)}}
		}
		orig := slices.Clone(in)
		prefix := []SubRecord{{Index: -1, PartitionKey: "prefix"}}

		got, err := Deaggregate(in, keep, slices.Clone(prefix))
		if !bytes.Equal(in, orig) {
			t.Fatal("Deaggregate modified its input")
		}

		// The batch path agrees with the one-shot one: Verify accepts
		// exactly the aggregates whose digest matches, and
		// DeaggregateVerified then gives the same result.
		ok := make([]bool, 3)
		shared.Verify([][]byte{in, []byte("plain"), in}, ok)
		wantOK := IsAggregated(in) && md5.Sum(in[len(magic):len(in)-md5.Size]) == [md5.Size]byte(in[len(in)-md5.Size:])
		if ok[0] != wantOK || ok[2] != wantOK || ok[1] {
			t.Fatalf("Verify = %v, want [%v false %v]", ok, wantOK, wantOK)
		}
		if wantOK {
			got2, err2 := shared.DeaggregateVerified(in, keep, slices.Clone(prefix))
			if (err == nil) != (err2 == nil) || (err == nil && !equalSubs(got, got2)) {
				t.Fatalf("DeaggregateVerified = %v, %v; Deaggregate = %v, %v", got2, err2, got, err)
			}
			// So does Scan then Each, with the same error, and Records
			// bounds what Each yields.
			var got3 []SubRecord
			sc, err3 := shared.Scan(in)
			if err3 == nil {
				err3 = shared.Each(&sc, keep, func(s SubRecord) { got3 = append(got3, s) })
				if len(got3) > sc.Records() {
					t.Fatalf("Each yielded %d sub-records, Records = %d", len(got3), sc.Records())
				}
			}
			if (err == nil) != (err3 == nil) || (err != nil && err.Error() != err3.Error()) || (err == nil && !equalSubs(got[1:], got3)) {
				t.Fatalf("Scan+Each = %v, %v; Deaggregate = %v, %v", got3, err3, got, err)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrNotAggregate) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is neither ErrNotAggregate nor ErrCorrupt", err)
			}
			if errors.Is(err, ErrNotAggregate) == IsAggregated(in) {
				t.Fatalf("IsAggregated = %v but error = %v", IsAggregated(in), err)
			}
			if len(got) != 1 || got[0].PartitionKey != "prefix" {
				t.Fatalf("out changed on error: %+v", got)
			}
			return
		}
		got = got[1:]
		last := int64(-1)
		for _, s := range got {
			if !within(s.Data, in) {
				t.Fatalf("sub-record %d: Data is not a slice of the input", s.Index)
			}
			if s.Index <= last {
				t.Fatalf("Index %d follows %d", s.Index, last)
			}
			last = s.Index
			if keep != nil && !keep.Contains(effectiveKey(t, s)) {
				t.Fatalf("sub-record %d is outside the filter", s.Index)
			}
		}

		// Filtering only ever removes sub-records; it never changes one.
		all, err := Deaggregate(in, nil, nil)
		if err != nil {
			t.Fatalf("succeeded with a filter but failed without: %v", err)
		}
		var want []SubRecord
		for _, s := range all {
			if keep == nil || keep.Contains(effectiveKey(t, s)) {
				want = append(want, s)
			}
		}
		if !equalSubs(got, want) {
			t.Fatalf("filtered result differs from filtering the full result")
		}

		// Whatever was decoded re-encodes to the same sub-records. (An
		// aggregate of no records, tables or unknown fields only, is
		// valid, but re-encoding nothing gives the empty aggregate, which
		// is not one: see IsAggregated.)
		if len(all) == 0 {
			return
		}
		recs := make([]UserRecord, len(all))
		for i, s := range all {
			recs[i] = UserRecord{PartitionKey: s.PartitionKey, ExplicitHashKey: s.ExplicitHashKey, Data: s.Data}
		}
		again, err := Deaggregate(Aggregate(recs), nil, nil)
		if err != nil {
			t.Fatalf("re-encoded aggregate fails: %v", err)
		}
		for i := range again {
			again[i].Index = all[i].Index
		}
		if !equalSubs(again, all) {
			t.Fatal("re-encoding changed the sub-records")
		}
	})
}

func effectiveKey(t *testing.T, s SubRecord) hashkey.Key {
	if s.ExplicitHashKey == "" {
		return hashkey.FromPartitionKey(s.PartitionKey)
	}
	k, err := hashkey.Parse(s.ExplicitHashKey)
	if err != nil {
		t.Fatalf("sub-record %d was returned with a bad explicit hash key %q", s.Index, s.ExplicitHashKey)
	}
	return k
}

// FuzzRoundTrip generates records from the fuzzer's bytes, aggregates them,
// and checks that deaggregating gives them back, filtered by a range also
// drawn from the input.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{}, uint64(0), uint64(0))
	f.Add([]byte("\x03abc\x00\x05hello\x01\x02xy\x09"), uint64(0), ^uint64(0))
	f.Add(bytes.Repeat([]byte{0x42, 0x07, 1, 2, 3}, 40), uint64(1)<<62, uint64(3)<<62)
	f.Fuzz(func(t *testing.T, in []byte, lo, hi uint64) {
		recs := genRecords(in)
		var keep *hashkey.Range
		if lo <= hi {
			keep = &hashkey.Range{Start: hashkey.Key{Hi: lo}, End: hashkey.Key{Hi: hi, Lo: ^uint64(0)}}
		}
		var want []SubRecord
		for i, r := range recs {
			s := SubRecord{Index: int64(i), PartitionKey: r.PartitionKey, ExplicitHashKey: r.ExplicitHashKey, Data: r.Data}
			if keep == nil || keep.Contains(effectiveKey(t, s)) {
				want = append(want, s)
			}
		}
		agg := Aggregate(recs)
		got, err := Deaggregate(agg, keep, nil)
		if len(recs) == 0 {
			// An aggregate of nothing is the magic and a digest only,
			// which the Java KCL (and so Shardwise) reads as a plain record.
			if !errors.Is(err, ErrNotAggregate) || len(agg) != len(magic)+md5.Size {
				t.Fatalf("aggregate of no records (%d bytes): err = %v, want ErrNotAggregate", len(agg), err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !equalSubs(got, want) {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
	})
}

// genRecords reads records off in: a control byte, then a partition key
// and data whose lengths it gives. The control byte's top bits pick an
// explicit hash key from a small set, so tables get shared entries.
func genRecords(in []byte) []UserRecord {
	ehks := []string{"", "", "0", "340282366920938463463374607431768211455", "18446744073709551616", "170141183460469231731687303715884105728", "99", ""}
	var recs []UserRecord
	for len(in) > 0 && len(recs) < 1000 {
		c := in[0]
		in = in[1:]
		pkLen := min(int(c&7), len(in))
		pk := string(in[:pkLen])
		in = in[pkLen:]
		var dataLen int
		if len(in) > 0 {
			v, n := binary.Uvarint(in)
			if n <= 0 {
				n = 1
			}
			in = in[n:]
			dataLen = int(min(v, uint64(len(in))))
		}
		recs = append(recs, UserRecord{PartitionKey: pk, ExplicitHashKey: ehks[c>>5], Data: in[:dataLen]})
		in = in[dataLen:]
	}
	return recs
}

// FuzzParseRecord checks the fast paths for the KPL's own layout of a
// Record message (parseShort and parseCanonical) against the general
// parser: wherever one accepts, the general parser decodes the same fields.
func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(rec(0, -1, "x")))
	f.Add([]byte(rec(3, 1, "data")))
	f.Add([]byte(rec(127, 127, "")))
	f.Add([]byte(rec(128, -1, "x")))
	f.Add([]byte(rec(1, -1, "x").varint(1, 2)))
	f.Add([]byte(rec(1, -1, "x").msg(4, pb{}.str(1, "t"))))
	f.Add([]byte(pb{}.str(3, "x").varint(1, 0)))
	f.Add([]byte(rec(0, -1, "x")[:3]))
	f.Add([]byte(rec(1, -1, string(make([]byte, 127)))))
	f.Add([]byte(rec(1, -1, string(make([]byte, 128)))))
	// A two-byte data length (0x80 0x00, overlong) whose first byte, read
	// as a one-byte length, matches the record's size.
	f.Add(append([]byte{0x08, 0x30, 0x1a, 0x80}, make([]byte, 128)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		for name, parse := range map[string]func([]byte, *rawRecord) bool{"parseShort": parseShort, "parseCanonical": parseCanonical} {
			var fast rawRecord
			if !parse(b, &fast) {
				continue
			}
			general, cerr := parseRecordGeneral(b, 0)
			if cerr != nil {
				t.Fatalf("%s accepted what the general parser rejects: %v", name, cerr)
			}
			if fast.pk != general.pk || fast.hasEHK != general.hasEHK || fast.ehk != general.ehk ||
				!bytes.Equal(fast.data, general.data) || cap(fast.data) != len(fast.data) {
				t.Fatalf("%s %+v, general %+v", name, fast, general)
			}
		}
	})
}
