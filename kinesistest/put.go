package kinesistest

import (
	"bytes"
	"sort"
	"unicode/utf8"
)

// PutEntry is one record for PutRecords.
type PutEntry struct {
	// PartitionKey routes the record by its MD5 (required, 1 to 256
	// Unicode characters).
	PartitionKey string
	// ExplicitHashKey, if not "", routes the record instead of the
	// partition key's MD5 (a decimal in [0, 2^128-1]).
	ExplicitHashKey string
	// Data is the record's payload; it is copied.
	Data []byte
}

// PutResult says where PutRecords stored one entry.
type PutResult struct {
	// ShardID is the shard the entry went to.
	ShardID string
	// SequenceNumber is the record's sequence number in that shard.
	SequenceNumber string
}

// PutRecord stores data in the open shard whose hash range holds
// MD5(partitionKey) and returns that shard and the record's sequence
// number. The data is copied. Write limits (1 MB/s, 1,000 records/s per
// shard) are not enforced.
func (f *Fake) PutRecord(streamName, partitionKey string, data []byte) (shardID, seq string, err error) {
	return f.putRecordExplicit(streamName, partitionKey, "", data)
}

// putRecordExplicit is PutRecord routed by explicitHashKey (a decimal in
// [0, 2^128-1]) when it is not "".
func (f *Fake) putRecordExplicit(streamName, partitionKey, explicitHashKey string, data []byte) (shardID, seq string, err error) {
	res, err := f.PutRecords(streamName, []PutEntry{{PartitionKey: partitionKey, ExplicitHashKey: explicitHashKey, Data: data}})
	if err != nil {
		return "", "", err
	}
	return res[0].ShardID, res[0].SequenceNumber, nil
}

// PutRecords stores the entries in order, all or none: an invalid entry
// fails the whole call before anything is stored (the service would fail
// that entry alone; tests that need partial failures can put one at a
// time). Unlike the service it takes more than 500 entries, so tests can
// load a stream in one call. The records get consecutive positions in the
// event counter, so records of one partition key keep their order.
func (f *Fake) PutRecords(streamName string, entries []PutEntry) ([]PutResult, error) {
	hashes := make([]u128, len(entries))
	for i, e := range entries {
		if n := utf8.RuneCountInString(e.PartitionKey); n < 1 || n > 256 {
			return nil, errInvalid("entry %d: partition key must be 1 to 256 characters, got %d", i, n)
		}
		if size := len(e.Data) + len(e.PartitionKey); size > f.cfg.maxRecordSize {
			return nil, errInvalid("entry %d: record of %d bytes (data + partition key) exceeds the %d byte limit", i, size, f.cfg.maxRecordSize)
		}
		if e.ExplicitHashKey == "" {
			hashes[i] = partitionKeyHash(e.PartitionKey)
			continue
		}
		h, ok := parseHashKey(e.ExplicitHashKey)
		if !ok {
			return nil, errInvalid("entry %d: ExplicitHashKey %q is not a decimal integer in [0, 2^128-1]", i, e.ExplicitHashKey)
		}
		hashes[i] = h
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.streams[streamName]
	if !ok {
		return nil, f.streamNotFound(streamName)
	}
	now := f.now()
	out := make([]PutResult, len(entries))
	for i, e := range entries {
		s := st.route(hashes[i])
		c := f.nextCounterLocked()
		seq := formatSeq(c, st.incarnation, s.index)
		s.records = append(s.records, record{
			counter: c,
			seq:     seq,
			pk:      e.PartitionKey,
			data:    bytes.Clone(e.Data),
			arrival: now,
		})
		out[i] = PutResult{ShardID: s.id, SequenceNumber: seq}
	}
	st.signalLocked()
	return out, nil
}

// route returns the open shard whose hash range holds h. Open shards always
// cover the whole key space without overlap.
func (st *stream) route(h u128) *shard {
	i := sort.Search(len(st.open), func(i int) bool { return st.open[i].end.cmp(h) >= 0 })
	return st.open[i]
}
