package kpl

import (
	"crypto/md5"
	"fmt"
	"strings"

	"github.com/shardwise/shardwise/internal/hashkey"
)

// magic opens every KPL aggregate.
var magic = [4]byte{0xF3, 0x89, 0x9A, 0xC2}

// Field numbers of the AggregatedRecord, Record and Tag messages.
const (
	fieldPartitionKeyTable    = 1
	fieldExplicitHashKeyTable = 2
	fieldRecords              = 3

	fieldRecordPartitionKeyIndex    = 1
	fieldRecordExplicitHashKeyIndex = 2
	fieldRecordData                 = 3
	fieldRecordTags                 = 4

	fieldTagKey = 1
)

// SubRecord is one user record carried inside an aggregate.
type SubRecord struct {
	Index           int64 // position in the aggregate's records list (the sub-sequence number)
	PartitionKey    string
	ExplicitHashKey string // "" if none
	Data            []byte // aliases the input buffer: NOT copied
}

// IsAggregated reports whether data starts with the magic and has more
// than a digest after it. It does not check the digest; Deaggregate does.
//
// A record of exactly the magic and 16 bytes (an aggregate of nothing, the
// MD5 of an empty message) is not an aggregate, as the Java KCL rules: it
// wants more than the digest after the magic, and passes such a record
// through as one plain record, so Shardwise delivers it too rather than
// nothing.
func IsAggregated(data []byte) bool {
	return len(data) > len(magic)+md5.Size && [4]byte(data) == magic
}

// Deaggregate appends the sub-records of the aggregate in data to out and
// returns it.
//
// If keep is non-nil, sub-records whose effective hash key (the explicit
// hash key if present, else the MD5 of the partition key) is outside *keep
// are skipped. This is how a consumer drops the records a KPL producer
// aggregated under one shard's key but that belong to a sibling after a
// split. Skipped sub-records still count for Index, so sub-sequence numbers
// stay right.
//
// If data is not a valid aggregate it returns out unchanged and an error:
// ErrNotAggregate when the magic is missing or data is too short, otherwise
// a *CorruptError (matching ErrCorrupt) for a digest mismatch, malformed or
// truncated protobuf, a missing required field, a table index out of range
// or an explicit hash key that is not a decimal in [0, 2^128-1]. The caller
// should then deliver data as one plain record. An aggregate with a
// non-empty body but no records (tables only) is valid and appends
// nothing; one with an empty body is not an aggregate (see IsAggregated).
//
// Each SubRecord's Data is a slice of data with its capacity clipped to its
// length, so appending to it cannot overwrite the rest of the aggregate. Its
// strings share one allocation per aggregate.
func Deaggregate(data []byte, keep *hashkey.Range, out []SubRecord) ([]SubRecord, error) {
	var d Deaggregator
	return d.deaggregate(data, keep, out, false)
}

// A Deaggregator deaggregates many aggregates, keeping its scratch memory
// between calls, and computes MD5 digests many at a time (internal/md5x
// hashes up to 16 messages at once with SIMD): the digests of all the
// aggregates of a GetRecords response in one Verify, and the hash keys of
// all of an aggregate's partition keys in one go. The zero value is ready
// to use; it is not safe for concurrent use.
type Deaggregator struct {
	tables []string    // an aggregate's partition and explicit hash key tables
	keys   []cachedKey // their hash keys
	sums   [][md5.Size]byte
	bodies [][]byte
}

// Verify sets ok[i] to whether datas[i] is an aggregate (IsAggregated)
// whose digest matches its message. Such data can be passed to
// DeaggregateVerified, which does not check the digest again. len(ok)
// must be at least len(datas).
func (d *Deaggregator) Verify(datas [][]byte, ok []bool) {
	_ = ok[:len(datas)]
	d.bodies = d.bodies[:0]
	for i, data := range datas {
		ok[i] = IsAggregated(data)
		if ok[i] {
			d.bodies = append(d.bodies, data[len(magic):len(data)-md5.Size])
		}
	}
	d.sums = grow(d.sums, len(d.bodies))
	sumMany(d.sums, d.bodies)
	j := 0
	for i, data := range datas {
		if ok[i] {
			ok[i] = d.sums[j] == [md5.Size]byte(data[len(data)-md5.Size:])
			j++
		}
	}
	clear(d.bodies) // do not pin the callers' buffers
}

// DeaggregateVerified is Deaggregate for data that Verify accepted: it
// does not check the digest again (data Verify did not accept gets an
// error, as from Deaggregate).
func (d *Deaggregator) DeaggregateVerified(data []byte, keep *hashkey.Range, out []SubRecord) ([]SubRecord, error) {
	return d.deaggregate(data, keep, out, true)
}

func (d *Deaggregator) deaggregate(data []byte, keep *hashkey.Range, out []SubRecord, verified bool) ([]SubRecord, error) {
	if !IsAggregated(data) {
		return out, ErrNotAggregate
	}
	body := data[len(magic) : len(data)-md5.Size]
	if !verified && md5.Sum(body) != [md5.Size]byte(data[len(data)-md5.Size:]) {
		return out, &CorruptError{Reason: "MD5 digest does not match the message", Offset: -1}
	}
	s, err := d.Scan(data)
	if err != nil {
		return out, err
	}
	res := out
	if err := d.Each(&s, keep, func(sub SubRecord) { res = append(res, sub) }); err != nil {
		// Whatever was appended aliases data; clear it so a caller that
		// reuses out does not pin the buffer through its spare capacity.
		clear(res[len(out):])
		return out, err
	}
	return res, nil
}

// Scanned is an aggregate whose framing Scan has checked, ready for Each.
// It refers to the aggregate's data.
type Scanned struct {
	body []byte
	lay  layout
}

// Records is the number of sub-records in the aggregate, before any
// filter: at least as many as Each yields.
func (s *Scanned) Records() int { return s.lay.nRecords }

// Scan checks the framing of every top-level field of the aggregate in
// data, which Verify accepted (the digest is not checked again), and
// counts its sub-records. An error is the one DeaggregateVerified would
// return for such a message: the caller delivers data as one plain
// record. Scan then Each is DeaggregateVerified in two steps, so that a
// caller can size its output from every aggregate's Records before it
// decodes any.
func (d *Deaggregator) Scan(data []byte) (Scanned, error) {
	if !IsAggregated(data) {
		return Scanned{}, ErrNotAggregate
	}
	dec := decoder{body: data[len(magic) : len(data)-md5.Size], scratch: d}
	lay, cerr := dec.scan()
	if cerr != nil {
		return Scanned{}, cerr.shift()
	}
	return Scanned{body: dec.body, lay: lay}, nil
}

// Each calls yield with every sub-record of s that keep holds (all of them
// when keep is nil), in order, as DeaggregateVerified would append them;
// see Deaggregate for the filter and the sub-records' memory. On an error
// (a record that does not decode, a table index out of range, a bad
// explicit hash key) yield may have been called already: the caller must
// drop what it got and deliver the aggregate as one plain record, as for
// any error of Deaggregate.
func (d *Deaggregator) Each(s *Scanned, keep *hashkey.Range, yield func(SubRecord)) error {
	if keep != nil && *keep == hashkey.Full {
		// Every hash key is in the full range (the lease of a stream's
		// only shard): keeping all sub-records needs no partition-key
		// MD5s. Explicit hash keys are still parsed, so a bad one is an
		// error as with any range.
		keep = nil
	}
	dec := decoder{body: s.body, keep: keep, scratch: d}
	if cerr := dec.decode(s.lay, yield); cerr != nil {
		return cerr.shift()
	}
	return nil
}

// shift turns an offset in the body into one in the aggregate's data.
func (e *CorruptError) shift() *CorruptError {
	if e.Offset >= 0 {
		e.Offset += len(magic)
	}
	return e
}

// grow returns s with length n, reusing its array when it is big enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// decoder holds the state of one Deaggregate call.
type decoder struct {
	body    []byte
	keep    *hashkey.Range
	scratch *Deaggregator

	pks, ehks []string
	pkHashed  bool // keys holds every partition key's hash

	// keys caches hash keys per table entry, so an aggregate of 100
	// records under 3 partition keys costs 3 MD5s, not 100. Entries
	// [0, len(ehks)) are explicit hash keys, parsed whether or not keep is
	// set so a bad one is an error either way; entries after that are
	// partition-key hashes, only present when keep is set.
	keys []cachedKey
}

type cachedKey struct {
	key   hashkey.Key
	state uint8 // 0 unknown, 1 valid
}

// layout is what the first pass learns about the message.
type layout struct {
	nPK, nEHK    int
	tableBytes   int // total length of all table strings
	tablesEnd    int // offset just past the last table entry
	recordsStart int // offset of the first record's key; len(body) if none
	nRecords     int // records fields
}

func corruptAt(off int, format string, args ...any) *CorruptError {
	return &CorruptError{Reason: fmt.Sprintf(format, args...), Offset: off}
}

// A message is decoded in three passes: the first (scan) validates the
// framing of every top-level field, sizes the tables and counts the
// records, the second fills the tables, the third decodes records.
// Protobuf allows the tables to come after the records, so records cannot
// be resolved in the first pass; in practice the tables come first and the
// second and third passes each touch only their own part of the message.
// decode makes the second and third passes, over a message scan accepted.
func (d *decoder) decode(lay layout, yield func(SubRecord)) *CorruptError {
	d.fillTables(lay)
	if n := lay.nEHK; n > 0 || d.keep != nil {
		if d.keep != nil {
			n += lay.nPK
		}
		d.scratch.keys = grow(d.scratch.keys, n)
		clear(d.scratch.keys)
		d.keys = d.scratch.keys
	}
	cerr := d.records(lay, yield)
	clear(d.scratch.tables) // the tables' strings alias the caller's records
	return cerr
}

func (d *decoder) scan() (layout, *CorruptError) {
	b := d.body
	lay := layout{recordsStart: len(b)}
	for off := 0; off < len(b); {
		// The usual fields, a records entry or a table entry with a
		// one-byte key and length, are framed here without a call.
		if off+1 < len(b) && b[off+1] < 0x80 {
			if end := off + 2 + int(b[off+1]); end <= len(b) {
				switch b[off] {
				case fieldRecords<<3 | byte(bytesType):
					if lay.recordsStart == len(b) {
						lay.recordsStart = off
					}
					lay.nRecords++
					off = end
					continue
				case fieldPartitionKeyTable<<3 | byte(bytesType):
					lay.nPK++
					lay.tableBytes += int(b[off+1])
					lay.tablesEnd = end
					off = end
					continue
				}
			}
		}
		num, typ, n := consumeTag(b[off:])
		if n < 0 {
			return lay, corruptAt(off, "malformed field key")
		}
		var m int
		switch {
		case num == fieldPartitionKeyTable && typ == bytesType,
			num == fieldExplicitHashKeyTable && typ == bytesType:
			var v []byte
			v, m = consumeBytes(b[off+n:])
			if m < 0 {
				break
			}
			if num == fieldPartitionKeyTable {
				lay.nPK++
			} else {
				lay.nEHK++
			}
			lay.tableBytes += len(v)
			lay.tablesEnd = off + n + m
		case num == fieldRecords && typ == bytesType:
			_, m = consumeBytes(b[off+n:])
			if lay.recordsStart == len(b) {
				lay.recordsStart = off
			}
			lay.nRecords++
		default:
			m = consumeFieldValue(num, typ, b[off+n:], 0)
		}
		if m < 0 {
			return lay, corruptAt(off, "truncated or malformed field %d", num)
		}
		off += n + m
	}
	return lay, nil
}

// fillTables copies every table string into one buffer, so a whole
// aggregate's keys cost one allocation however many there are. The scan has
// already validated this part of the message.
func (d *decoder) fillTables(lay layout) {
	if lay.nPK+lay.nEHK == 0 {
		return
	}
	d.scratch.tables = grow(d.scratch.tables, lay.nPK+lay.nEHK)
	tables := d.scratch.tables
	d.pks, d.ehks = tables[:0:lay.nPK], tables[lay.nPK:lay.nPK]
	var sb strings.Builder
	sb.Grow(lay.tableBytes)
	b := d.body[:lay.tablesEnd]
	for off := 0; off < len(b); {
		// The usual partition key entry, a one-byte key and length,
		// without a call (scan has checked the framing).
		if b[off] == fieldPartitionKeyTable<<3|byte(bytesType) && off+1 < len(b) && b[off+1] < 0x80 {
			start, end := sb.Len(), off+2+int(b[off+1])
			sb.Write(b[off+2 : end])
			d.pks = append(d.pks, sb.String()[start:])
			off = end
			continue
		}
		num, typ, n := consumeTag(b[off:])
		off += n
		if typ != bytesType || (num != fieldPartitionKeyTable && num != fieldExplicitHashKeyTable) {
			off += consumeFieldValue(num, typ, b[off:], 0)
			continue
		}
		v, m := consumeBytes(b[off:])
		off += m
		start := sb.Len()
		sb.Write(v)
		// A Builder only ever appends, so a string it returned earlier
		// never changes: slicing the current String is safe and free.
		s := sb.String()[start:]
		if num == fieldPartitionKeyTable {
			d.pks = append(d.pks, s)
		} else {
			d.ehks = append(d.ehks, s)
		}
	}
}

func (d *decoder) records(lay layout, yield func(SubRecord)) *CorruptError {
	b := d.body
	var index int64
	for off := lay.recordsStart; off < len(b); {
		var v []byte
		var valueOff int
		if off+1 < len(b) && b[off] == fieldRecords<<3|byte(bytesType) && b[off+1] < 0x80 && off+2+int(b[off+1]) <= len(b) {
			// The usual records field, with a one-byte length, decoded
			// here rather than in two calls.
			valueOff = off + 2
			off = valueOff + int(b[off+1])
			v = b[valueOff:off]
		} else {
			num, typ, n := consumeTag(b[off:])
			if num != fieldRecords || typ != bytesType {
				off += n + consumeFieldValue(num, typ, b[off+n:], 0)
				continue
			}
			var m int
			v, m = consumeBytes(b[off+n:])
			valueOff = off + n + m - len(v)
			off += n + m
		}

		var r rawRecord
		if !parseShort(v, &r) && !parseCanonical(v, &r) {
			var cerr *CorruptError
			if r, cerr = parseRecordGeneral(v, valueOff); cerr != nil {
				return cerr
			}
		}
		if r.pk >= uint64(len(d.pks)) {
			return corruptAt(valueOff, "record %d: partition key index %d out of range of a %d-entry table", index, r.pk, len(d.pks))
		}
		sub := SubRecord{Index: index, PartitionKey: d.pks[r.pk], Data: r.data}
		index++

		var key hashkey.Key
		if r.hasEHK {
			if r.ehk >= uint64(len(d.ehks)) {
				return corruptAt(valueOff, "record %d: explicit hash key index %d out of range of a %d-entry table", sub.Index, r.ehk, len(d.ehks))
			}
			sub.ExplicitHashKey = d.ehks[r.ehk]
			c := &d.keys[r.ehk]
			if c.state == 0 {
				k, err := hashkey.Parse(sub.ExplicitHashKey)
				if err != nil {
					return &CorruptError{
						Reason: fmt.Sprintf("record %d: bad explicit hash key", sub.Index),
						Offset: valueOff, Err: err,
					}
				}
				*c = cachedKey{key: k, state: 1}
			}
			key = c.key
		} else if d.keep != nil {
			if !d.pkHashed {
				d.hashPartitionKeys()
			}
			key = d.keys[len(d.ehks)+int(r.pk)].key
		}
		if d.keep != nil && !d.keep.Contains(key) {
			continue
		}
		yield(sub)
	}
	return nil
}

// hashPartitionKeys computes the hash key of every partition key in the
// table at once (the MD5s many at a time).
func (d *decoder) hashPartitionKeys() {
	d.pkHashed = true
	d.scratch.sums = grow(d.scratch.sums, len(d.pks))
	sumStrings(d.scratch.sums, d.pks)
	for i, sum := range d.scratch.sums {
		d.keys[len(d.ehks)+i] = cachedKey{key: hashkey.FromBytesBE(sum), state: 1}
	}
}

// rawRecord is a Record message before its indexes are resolved.
type rawRecord struct {
	pk, ehk uint64
	hasEHK  bool
	data    []byte
}

// parseRecordGeneral decodes one Record message. Its partition_key_index
// and data are proto2 required fields: the Java KCL's parser rejects a
// record without them, and so do we. As in any protobuf parser, a repeated
// scalar field keeps its last value, and a known field number with an
// unexpected wire type is an unknown field.
//
// parseCanonical decodes most records faster; the decoder tries it first.
func parseRecordGeneral(b []byte, base int) (rawRecord, *CorruptError) {
	var r rawRecord
	var hasPK, hasData bool
	for off := 0; off < len(b); {
		num, typ, n := consumeTag(b[off:])
		if n < 0 {
			return r, corruptAt(base+off, "malformed field key in record")
		}
		var m int
		switch {
		case num == fieldRecordPartitionKeyIndex && typ == varintType:
			r.pk, m = consumeVarint(b[off+n:])
			hasPK = true
		case num == fieldRecordExplicitHashKeyIndex && typ == varintType:
			r.ehk, m = consumeVarint(b[off+n:])
			r.hasEHK = true
		case num == fieldRecordData && typ == bytesType:
			r.data, m = consumeBytes(b[off+n:])
			hasData = true
		case num == fieldRecordTags && typ == bytesType:
			var tag []byte
			tag, m = consumeBytes(b[off+n:])
			if m >= 0 && !validTag(tag) {
				return r, corruptAt(base+off, "malformed tag in record")
			}
		default:
			m = consumeFieldValue(num, typ, b[off+n:], 0)
		}
		if m < 0 {
			return r, corruptAt(base+off, "truncated or malformed record field %d", num)
		}
		off += n + m
	}
	if !hasPK || !hasData {
		return r, corruptAt(base, "record lacks its partition key index or data")
	}
	r.data = r.data[:len(r.data):len(r.data)]
	return r, nil
}

// parseCanonical decodes a Record message laid out the way the KPL writes
// one with no tags: partition_key_index, then explicit_hash_key_index if
// any, then data, each once, with one-byte keys and indexes. It reports
// false for anything else (including valid but different encodings), which
// parseRecordGeneral then decodes (r is then to be overwritten); where it
// reports true the general parser gives the same result.
func parseCanonical(b []byte, r *rawRecord) bool {
	if len(b) < 4 || b[0] != fieldRecordPartitionKeyIndex<<3|byte(varintType) || b[1] >= 0x80 {
		return false
	}
	*r = rawRecord{pk: uint64(b[1])}
	off := 2
	if b[off] == fieldRecordExplicitHashKeyIndex<<3|byte(varintType) {
		if off+2 >= len(b) || b[off+1] >= 0x80 {
			return false
		}
		r.ehk, r.hasEHK = uint64(b[off+1]), true
		off += 2
	}
	if b[off] != fieldRecordData<<3|byte(bytesType) {
		return false
	}
	v, m := consumeBytes(b[off+1:])
	if m < 0 || off+1+m != len(b) {
		return false
	}
	r.data = v[:len(v):len(v)]
	return true
}

// parseShort decodes the commonest Record message, and is inlined into the
// loop over records: a one-byte partition key index, no explicit hash key
// and less than 128 bytes of data. Where it reports true, parseCanonical
// and the general parser give the same result.
func parseShort(b []byte, r *rawRecord) bool {
	if len(b) < 4 || b[0] != fieldRecordPartitionKeyIndex<<3|byte(varintType) || b[1] >= 0x80 ||
		b[2] != fieldRecordData<<3|byte(bytesType) || b[3] >= 0x80 || 4+int(b[3]) != len(b) {
		return false
	}
	r.pk, r.data = uint64(b[1]), b[4:len(b):len(b)]
	return true
}

// validTag reports whether b is a well-formed Tag message with its required
// key. Tags carry nothing a consumer uses, but the Java KCL would fail to
// parse an aggregate with a broken one, and we should agree on what is an
// aggregate.
func validTag(b []byte) bool {
	hasKey := false
	for off := 0; off < len(b); {
		num, typ, n := consumeTag(b[off:])
		if n < 0 {
			return false
		}
		if num == fieldTagKey && typ == bytesType {
			hasKey = true
		}
		m := consumeFieldValue(num, typ, b[off+n:], 0)
		if m < 0 {
			return false
		}
		off += n + m
	}
	return hasKey
}
