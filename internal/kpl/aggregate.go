package kpl

import "crypto/md5"

// UserRecord is one record to put into an aggregate. An empty
// ExplicitHashKey means none: Kinesis then routes by the MD5 of
// PartitionKey.
type UserRecord struct {
	PartitionKey, ExplicitHashKey string
	Data                          []byte
}

// Aggregate encodes recs as one KPL aggregate, with each distinct partition
// key and explicit hash key stored once in its table, in order of first use.
//
// It does not validate explicit hash keys, so tests can build aggregates
// that a consumer must reject; a producer should check them with
// hashkey.Parse first. Kinesis also caps a record at 1 MiB, which is the
// caller's to respect.
func Aggregate(recs []UserRecord) []byte {
	pkIndex := make(map[string]uint64)
	ehkIndex := make(map[string]uint64)
	var pks, ehks []string
	// idx holds each record's (partition key, explicit hash key + 1) table
	// indexes; 0 in the second slot means no explicit hash key.
	idx := make([][2]uint64, len(recs))
	size := len(magic) + md5.Size
	for i, r := range recs {
		pi, ok := pkIndex[r.PartitionKey]
		if !ok {
			pi = uint64(len(pks))
			pkIndex[r.PartitionKey] = pi
			pks = append(pks, r.PartitionKey)
			size += 1 + sizeVarint(uint64(len(r.PartitionKey))) + len(r.PartitionKey)
		}
		idx[i][0] = pi
		if r.ExplicitHashKey != "" {
			ei, ok := ehkIndex[r.ExplicitHashKey]
			if !ok {
				ei = uint64(len(ehks))
				ehkIndex[r.ExplicitHashKey] = ei
				ehks = append(ehks, r.ExplicitHashKey)
				size += 1 + sizeVarint(uint64(len(r.ExplicitHashKey))) + len(r.ExplicitHashKey)
			}
			idx[i][1] = ei + 1
		}
		rs := recordSize(idx[i], len(r.Data))
		size += 1 + sizeVarint(uint64(rs)) + rs
	}

	buf := make([]byte, 0, size)
	buf = append(buf, magic[:]...)
	for _, pk := range pks {
		buf = appendStringField(buf, fieldPartitionKeyTable, pk)
	}
	for _, ehk := range ehks {
		buf = appendStringField(buf, fieldExplicitHashKeyTable, ehk)
	}
	for i, r := range recs {
		buf = appendTag(buf, fieldRecords, bytesType)
		buf = appendVarint(buf, uint64(recordSize(idx[i], len(r.Data))))
		// partition_key_index and data are required in the proto2 schema,
		// so they are written even when zero or empty.
		buf = appendVarintField(buf, fieldRecordPartitionKeyIndex, idx[i][0])
		if idx[i][1] != 0 {
			buf = appendVarintField(buf, fieldRecordExplicitHashKeyIndex, idx[i][1]-1)
		}
		buf = appendBytesField(buf, fieldRecordData, r.Data)
	}
	sum := md5.Sum(buf[len(magic):])
	return append(buf, sum[:]...)
}

// recordSize is the encoded length of a Record message body.
func recordSize(idx [2]uint64, dataLen int) int {
	n := 1 + sizeVarint(idx[0]) + 1 + sizeVarint(uint64(dataLen)) + dataLen
	if idx[1] != 0 {
		n += 1 + sizeVarint(idx[1]-1)
	}
	return n
}
