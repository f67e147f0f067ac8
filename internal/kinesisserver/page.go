package kinesisserver

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"

	"github.com/shardwise/shardwise/internal/hashkey"
	"github.com/shardwise/shardwise/internal/kpl"
)

const (
	pageDigits  = 20 // page number in sequence numbers and iterators
	indexDigits = 6  // record index in a sequence number
	shardDigits = 6  // shard number in an iterator
	seqPrefix   = "49"
	seqSuffix   = "0000000000000000000000000000" // 28 zeros: 56 digits in all
)

// sequenceNumber is the sequence number of record index of page.
func sequenceNumber(page uint64, index int) string {
	return fmt.Sprintf("%s%0*d%0*d%s", seqPrefix, pageDigits, page, indexDigits, index, seqSuffix)
}

// pageOf is the page a sequence number of this server belongs to.
func pageOf(seq string) (uint64, bool) {
	if len(seq) != len(seqPrefix)+pageDigits+indexDigits+len(seqSuffix) || seq[:len(seqPrefix)] != seqPrefix {
		return 0, false
	}
	p, err := strconv.ParseUint(seq[len(seqPrefix):len(seqPrefix)+pageDigits], 10, 64)
	return p, err == nil
}

// iterator names page of shard: "it-SSSSSS-PPPP...".
func iterator(shard int, page uint64) string {
	return fmt.Sprintf("it-%0*d-%0*d", shardDigits, shard, pageDigits, page)
}

func parseIterator(it string) (shard int, page uint64, ok bool) {
	if len(it) != 3+shardDigits+1+pageDigits || it[:3] != "it-" || it[3+shardDigits] != '-' {
		return 0, 0, false
	}
	sh, err1 := strconv.Atoi(it[3 : 3+shardDigits])
	p, err2 := strconv.ParseUint(it[4+shardDigits:], 10, 64)
	return sh, p, err1 == nil && err2 == nil && sh >= 0
}

// putDigits writes n as len(dst) decimal digits, zero-padded.
func putDigits(dst []byte, n uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + n%10)
		n /= 10
	}
}

// page is the encoded GetRecords answer every call gets, with the offsets
// of the digits that change from call to call.
type page struct {
	buf       []byte
	seqPages  []int // offset of the page digits of each record's sequence number
	iterShard int   // offset of the shard digits of NextShardIterator
	iterPage  int   // offset of its page digits
	payloads  []string
	keys      []string
}

// payloadVariants is how many distinct payloads a page cycles through.
const payloadVariants = 16

// buildPage encodes the page of a shard whose hash keys are keys. Only KPL
// aggregates depend on the shard: like the KPL, which aggregates the user
// records bound for one shard, their sub-records' partition keys hash into
// the shard's range, or a consumer would rightly drop them as a sibling's.
func buildPage(cfg *Config, keys hashkey.Range) (*page, error) {
	rng := rand.New(rand.NewPCG(uint64(cfg.RecordSize), uint64(cfg.SubRecords)))
	pg := &page{}
	var userKeys []string
	if cfg.SubRecords > 0 {
		userKeys = partitionKeysIn(keys, min(cfg.SubRecords, 100))
	}
	for v := range min(payloadVariants, cfg.RecordsPerCall) {
		var data []byte
		if cfg.SubRecords > 0 {
			urs := make([]kpl.UserRecord, cfg.SubRecords)
			for i := range urs {
				urs[i] = kpl.UserRecord{PartitionKey: userKeys[(v+i)%len(userKeys)], Data: randomBytes(rng, cfg.SubRecordSize)}
			}
			data = kpl.Aggregate(urs)
		} else {
			data = randomBytes(rng, cfg.RecordSize)
		}
		pg.payloads = append(pg.payloads, base64.StdEncoding.EncodeToString(data))
		pg.keys = append(pg.keys, fmt.Sprintf("pk-%d-%d", v, rng.IntN(1e6)))
	}
	var b bytes.Buffer
	pg.seqPages = make([]int, cfg.RecordsPerCall)
	pg.encode(&b, cfg, cfg.RecordsPerCall, false, func(i int) { pg.seqPages[i] = b.Len() + len(seqPrefix) })
	pg.buf = b.Bytes()
	pg.iterShard = bytes.LastIndex(pg.buf, []byte(`"it-`)) + 4
	pg.iterPage = pg.iterShard + shardDigits + 1
	return pg, nil
}

// encode writes a page of n records for shard 0, page 0. at is called
// with each record's index just before its sequence number is written.
// An event page is a SubscribeToShardEvent's payload: its
// ContinuationSequenceNumber (the page's last record, whose digits at is
// called for with index n) takes NextShardIterator's place.
func (pg *page) encode(b *bytes.Buffer, cfg *Config, n int, event bool, at func(i int)) {
	b.WriteString(`{"Records":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"SequenceNumber":"`)
		at(i)
		b.WriteString(sequenceNumber(0, i))
		// Arrival times a millisecond apart, as Kinesis reports them.
		fmt.Fprintf(b, `","ApproximateArrivalTimestamp":%d.%03d,"Data":"`, 1_700_000_000+i/1000, i%1000)
		b.WriteString(pg.payloads[i%len(pg.payloads)])
		b.WriteString(`","PartitionKey":"`)
		b.WriteString(pg.keys[i%len(pg.keys)])
		b.WriteString(`","EncryptionType":"NONE"}`)
	}
	if event {
		b.WriteString(`],"ContinuationSequenceNumber":"`)
		at(n)
		b.WriteString(sequenceNumber(0, n-1))
		fmt.Fprintf(b, `","MillisBehindLatest":%d}`, cfg.MillisBehindLatest)
		return
	}
	fmt.Fprintf(b, `],"NextShardIterator":"%s","MillisBehindLatest":%d}`, iterator(0, 0), cfg.MillisBehindLatest)
}

// patch sets buf (a copy of pg.buf for one shard) to page: its sequence
// numbers, and page+1 in its NextShardIterator.
func (pg *page) patch(buf []byte, page uint64) {
	var d [pageDigits]byte
	putDigits(d[:], page)
	for _, off := range pg.seqPages {
		copy(buf[off:off+pageDigits], d[:])
	}
	putDigits(buf[pg.iterPage:pg.iterPage+pageDigits], page+1)
}

// writePieces writes page of shard from the shared copy: the unchanging
// pieces straight from it, the digits between them.
func (pg *page) writePieces(w http.ResponseWriter, shard int, page uint64) error {
	var d, next [pageDigits]byte
	var sh [shardDigits]byte
	putDigits(d[:], page)
	putDigits(next[:], page+1)
	putDigits(sh[:], uint64(shard))
	at := 0
	write := func(upTo int, digits []byte) error {
		if _, err := w.Write(pg.buf[at:upTo]); err != nil {
			return err
		}
		if _, err := w.Write(digits); err != nil {
			return err
		}
		at = upTo + len(digits)
		return nil
	}
	for _, off := range pg.seqPages {
		if err := write(off, d[:]); err != nil {
			return err
		}
	}
	if err := write(pg.iterShard, sh[:]); err != nil {
		return err
	}
	if err := write(pg.iterPage, next[:]); err != nil {
		return err
	}
	_, err := w.Write(pg.buf[at:])
	return err
}

// short encodes a page of only n records, for a request whose Limit is
// below RecordsPerCall. Its NextShardIterator is the next page: the rest
// of this one is skipped, and sequence numbers still only increase.
func (pg *page) short(cfg *Config, shard int, page uint64, n int) []byte {
	var b bytes.Buffer
	var offs []int
	pg.encode(&b, cfg, n, false, func(int) { offs = append(offs, b.Len()+len(seqPrefix)) })
	buf := b.Bytes()
	var d [pageDigits]byte
	putDigits(d[:], page)
	for _, off := range offs {
		copy(buf[off:], d[:])
	}
	it := bytes.LastIndex(buf, []byte(`"it-`)) + 4
	putDigits(buf[it:it+shardDigits], uint64(shard))
	putDigits(buf[it+shardDigits+1:it+shardDigits+1+pageDigits], page+1)
	return buf
}

// partitionKeysIn returns n partition keys whose MD5 hash keys fall in r.
func partitionKeysIn(r hashkey.Range, n int) []string {
	var keys []string
	for i := 0; len(keys) < n; i++ {
		pk := "user-" + strconv.Itoa(i)
		if r.Contains(hashkey.FromPartitionKey(pk)) {
			keys = append(keys, pk)
		}
	}
	return keys
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return b
}
