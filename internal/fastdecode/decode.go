package fastdecode

import (
	"encoding/base64"
	"fmt"
	"math"
	"sync"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/internal/b64"
)

// Decode decodes a GetRecords response body (of a 2xx response) into the
// output the SDK's deserializer would produce, or returns an error where
// the SDK's would.
//
// The output shares no memory with body, which the caller may reuse at
// once. Records' Data are slices of one buffer per response, each with its
// capacity clipped to its length, so appending to one cannot overwrite
// another.
func Decode(body []byte) (out *kinesis.GetRecordsOutput, err error) {
	if len(body) > math.MaxInt32 {
		// Offsets are kept in int32; no GetRecords response is
		// anywhere near this.
		return nil, fmt.Errorf("shardwise: body of %d bytes is too large", len(body))
	}
	defer func() {
		// Decode must never take the process down, whatever the body;
		// the fuzz test calls decode directly so that a panic shows.
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("shardwise: internal error: %v", r)
		}
	}()
	return decode(body)
}

func decode(body []byte) (*kinesis.GetRecordsOutput, error) {
	if len(body) == 0 {
		// The SDK leaves the output empty for an empty body.
		return &kinesis.GetRecordsOutput{}, nil
	}
	p := parserPool.Get().(*parser)
	defer p.release()
	p.b, p.next, p.nextKey = body, absent, "NextShardIterator"
	return p.run()
}

// run parses p.b and builds the output, first optimistically: longStr
// takes the first quote after a Data string's opening quote as its end,
// without the second pass that looks for a backslash before it. Base64
// text has no quotes or backslashes, so for every well-formed response
// that is the string's end; and whenever it is not (an escape in Data,
// such as the \/ that some JSON encoders write), the Data span holds a
// backslash, which the base64 decoder rejects, so the optimistic pass
// fails. Any failure is answered by a strict second pass, whose result
// (output or error) is what the SDK's decoder gives. A response that
// succeeds optimistically has no backslash in any Data span, so strict
// parsing would have found the same string ends and the same output.
func (p *parser) run() (*kinesis.GetRecordsOutput, error) {
	if err := p.parse(); err == nil {
		if out, err := p.build(); err == nil {
			return out, nil
		}
	}
	b, nextKey := p.b, p.nextKey
	p.reset()
	p.b, p.next, p.nextKey, p.strict = b, absent, nextKey, true
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p.build()
}

// span locates a string's bytes: body[off:off+n] when off >= 0, or
// esc[-off-1:][:n] when the string had escapes and was unquoted into the
// scanner's esc buffer. n < 0 means the field was absent (or null).
type span struct{ off, n int32 }

var absent = span{n: -1}

func (s span) present() bool { return s.n >= 0 }

// recDesc is what the scan learned about one record.
type recDesc struct {
	data     span  // base64 text
	dataLen  int32 // bytes it decodes to; an upper bound when data is in esc
	pk, seq  span
	enc      span
	arrival  int64 // ApproximateArrivalTimestamp, Unix milliseconds
	hasStamp bool
}

var absentRecord = recDesc{data: absent, pk: absent, seq: absent, enc: absent}

// parser holds the state of one Decode call. It is pooled: its slices keep
// their capacity from one response to the next.
type parser struct {
	scanner
	recs       []recDesc
	hasRecords bool   // Records was present: the output's slice is non-nil
	next       span   // NextShardIterator, or an event's ContinuationSequenceNumber
	nextKey    string // the name of next's member
	millis     int64
	hasMillis  bool
	children   []types.ChildShard
	hasChild   bool
	tmp        []byte // scratch for checkData
}

var parserPool = sync.Pool{New: func() any { return new(parser) }}

// maxPooledScratch bounds the scratch a pooled parser keeps, so one
// pathological response does not pin memory for the life of the pool.
const maxPooledScratch = 1 << 20

func (p *parser) release() {
	p.b = nil
	p.children = nil
	if cap(p.esc) > maxPooledScratch {
		p.esc = nil
	}
	if cap(p.kinds) > maxPooledScratch {
		p.kinds = nil
	}
	if cap(p.tmp) > maxPooledScratch {
		p.tmp = nil
	}
	if cap(p.recs)*int(unsafe.Sizeof(recDesc{})) > 4*maxPooledScratch {
		p.recs = nil
	}
	p.reset()
	parserPool.Put(p)
}

// reset clears p for another parse, keeping its scratch.
func (p *parser) reset() {
	*p = parser{scanner: scanner{esc: p.esc[:0], kinds: p.kinds[:0]}, recs: p.recs[:0], tmp: p.tmp}
}

// toSpan records the string body[start:end], unquoting it into esc when it
// had escapes.
func (p *parser) toSpan(start, end int, escaped bool) span {
	if !escaped {
		return span{off: int32(start), n: int32(end - start)}
	}
	off := len(p.esc)
	var v []byte
	p.esc, v = appendUnquoted(p.esc, p.b[start:end])
	return span{off: int32(-off - 1), n: int32(len(v))}
}

func (p *parser) bytesOf(s span) []byte {
	if s.off >= 0 {
		return p.b[s.off : s.off+s.n]
	}
	o := -s.off - 1
	return p.esc[o : o+s.n]
}

// stringSpan reads a string value (the caller has peeked that the value is
// not null).
func (p *parser) stringSpan() (span, error) {
	if p.b[p.i] != '"' {
		return absent, p.errorf("expected a string, found %q", p.b[p.i])
	}
	start, end, escaped, err := p.str()
	if err != nil {
		return absent, err
	}
	return p.toSpan(start, end, escaped), nil
}

// goString reads a string value as a Go string of its own.
func (p *parser) goString() (string, error) {
	s, err := p.stringSpan()
	if err != nil {
		return "", err
	}
	return string(p.bytesOf(s)), nil
}

// parse is the first pass: it validates the body as the SDK's deserializer
// would and records where every field is. Like the SDK, it reads the first
// JSON value only and ignores whatever follows it.
func (p *parser) parse() error {
	c, err := p.peek()
	if err != nil {
		return err
	}
	if c != '{' {
		// null included: the SDK reads it, then fails looking for a
		// member.
		return p.errorf("expected '{' at the start of the response, found %q", c)
	}
	if err := p.openContainer(); err != nil {
		return err
	}
	for first := true; ; first = false {
		key, ok, err := p.nextMember(first)
		if err != nil || !ok {
			return err
		}
		switch string(key) {
		case "Records":
			err = p.ifNotNull(p.records)
		case p.nextKey:
			err = p.ifNotNull(func() (err error) {
				p.next, err = p.stringSpan()
				return err
			})
		case "MillisBehindLatest":
			err = p.ifNotNull(func() (err error) {
				p.millis, err = p.int64Value()
				p.hasMillis = err == nil
				return err
			})
		case "ChildShards":
			err = p.ifNotNull(func() (err error) {
				p.children, err = p.childShards()
				p.hasChild = err == nil
				return err
			})
		default:
			err = p.skipValue()
		}
		if err != nil {
			return err
		}
	}
}

// ifNotNull consumes a null member value, which the SDK treats as absent,
// or else calls read.
func (p *parser) ifNotNull(read func() error) error {
	null, err := p.isNull()
	if null || err != nil {
		return err
	}
	return read()
}

func (p *parser) int64Value() (int64, error) {
	c := p.b[p.i]
	if c != '-' && !isDigit(c) {
		return 0, p.errorf("expected a number, found %q", c)
	}
	tok, err := p.number()
	if err != nil {
		return 0, err
	}
	n, ok := parseInt(tok)
	if !ok {
		return 0, p.errorf("invalid int64 %q", tok)
	}
	return n, nil
}

func (p *parser) records() error {
	if p.b[p.i] != '[' {
		return p.errorf("expected '[' for Records, found %q", p.b[p.i])
	}
	if err := p.openContainer(); err != nil {
		return err
	}
	// A repeated Records member replaces the earlier one, as in the SDK,
	// which has decoded (and so validated) the earlier one's Data too.
	for i := range p.recs {
		if err := p.checkData(&p.recs[i]); err != nil {
			return err
		}
	}
	p.recs = p.recs[:0]
	p.hasRecords = true
	for first := true; ; first = false {
		ok, err := p.nextElement(first)
		if err != nil || !ok {
			return err
		}
		switch p.b[p.i] {
		case 'n':
			// A null element is a zero Record in the SDK's list.
			if err := p.literal("null"); err != nil {
				return err
			}
			p.recs = append(p.recs, absentRecord)
		case '{':
			if err := p.record(); err != nil {
				return err
			}
		default:
			return p.errorf("expected a record, found %q", p.b[p.i])
		}
	}
}

func (p *parser) record() error {
	if err := p.openContainer(); err != nil {
		return err
	}
	d := absentRecord
	for first := true; ; first = false {
		key, ok, err := p.nextMember(first)
		if err != nil {
			return err
		}
		if !ok {
			p.recs = append(p.recs, d)
			return nil
		}
		var null bool
		switch string(key) {
		case "Data":
			if null, err = p.isNull(); !null && err == nil {
				// A repeated Data replaces the earlier one, which the
				// SDK has decoded, and so validated, all the same.
				if err = p.checkData(&d); err == nil {
					err = p.data(&d)
				}
			}
		case "SequenceNumber":
			if null, err = p.isNull(); !null && err == nil {
				d.seq, err = p.stringSpan()
			}
		case "PartitionKey":
			if null, err = p.isNull(); !null && err == nil {
				d.pk, err = p.stringSpan()
			}
		case "ApproximateArrivalTimestamp":
			if null, err = p.isNull(); !null && err == nil {
				d.arrival, err = p.timestamp()
				d.hasStamp = err == nil
			}
		case "EncryptionType":
			if null, err = p.isNull(); !null && err == nil {
				d.enc, err = p.stringSpan()
			}
		default:
			err = p.skipValue()
		}
		if err != nil {
			return err
		}
	}
}

// data records a record's base64 text and the exact number of bytes it
// decodes to. Text without escapes must be a whole number of 4-byte quanta
// (the SDK decodes with base64.StdEncoding, which requires padding, and
// raw CR or LF in a JSON string are errors); text with escapes is unquoted
// first, as the SDK does, and may then hold CR or LF, which the decoder
// skips, so its length is only an upper bound.
func (p *parser) data(d *recDesc) error {
	if p.b[p.i] != '"' {
		return p.errorf("expected a base64 string for Data, found %q", p.b[p.i])
	}
	start, end, escaped, err := p.longStr()
	if err != nil {
		return err
	}
	d.data = p.toSpan(start, end, escaped)
	if escaped {
		d.dataLen = int32(base64.StdEncoding.DecodedLen(int(d.data.n)))
		return nil
	}
	n := end - start
	if n%4 != 0 {
		return &SyntaxError{Msg: "Data is not padded base64", Offset: start}
	}
	pad := 0
	if n > 0 && p.b[end-1] == '=' {
		pad++
		if p.b[end-2] == '=' {
			pad++
		}
	}
	d.dataLen = int32(n/4*3 - pad)
	return nil
}

// checkData decodes a record's Data that is about to be replaced, only to
// fail where the SDK would; the bytes are thrown away.
func (p *parser) checkData(d *recDesc) error {
	if !d.data.present() {
		return nil
	}
	if cap(p.tmp) < int(d.dataLen) {
		p.tmp = make([]byte, d.dataLen)
	}
	_, _, err := decodeData(p.tmp[:d.dataLen], d.dataLen, p.bytesOf(d.data), d.data.off < 0)
	return err
}

// timestamp reads epoch seconds as the SDK does: a number, or one of the
// strings NaN, Infinity and -Infinity.
func (p *parser) timestamp() (int64, error) {
	var f float64
	switch c := p.b[p.i]; {
	case c == '"':
		start, end, _, err := p.str()
		if err != nil {
			return 0, err
		}
		// The SDK unquotes this string whether or not it has escapes.
		mark := len(p.esc)
		var v []byte
		p.esc, v = appendUnquoted(p.esc, p.b[start:end])
		f, err = parseFloatString(v)
		p.esc = p.esc[:mark]
		if err != nil {
			return 0, err
		}
	case c == '-' || isDigit(c):
		tok, err := p.number()
		if err != nil {
			return 0, err
		}
		if f, err = parseFloat(tok); err != nil {
			return 0, err
		}
	default:
		return 0, p.errorf("expected a number for a timestamp, found %q", c)
	}
	return epochMillis(f)
}

func (p *parser) childShards() ([]types.ChildShard, error) {
	if p.b[p.i] != '[' {
		return nil, p.errorf("expected '[' for ChildShards, found %q", p.b[p.i])
	}
	if err := p.openContainer(); err != nil {
		return nil, err
	}
	out := make([]types.ChildShard, 0)
	for first := true; ; first = false {
		ok, err := p.nextElement(first)
		if err != nil || !ok {
			return out, err
		}
		var cs types.ChildShard
		switch p.b[p.i] {
		case 'n':
			err = p.literal("null")
		case '{':
			cs, err = p.childShard()
		default:
			err = p.errorf("expected a child shard, found %q", p.b[p.i])
		}
		if err != nil {
			return nil, err
		}
		out = append(out, cs)
	}
}

func (p *parser) childShard() (types.ChildShard, error) {
	var cs types.ChildShard
	if err := p.openContainer(); err != nil {
		return cs, err
	}
	for first := true; ; first = false {
		key, ok, err := p.nextMember(first)
		if err != nil || !ok {
			return cs, err
		}
		switch string(key) {
		case "ShardId":
			err = p.ifNotNull(func() error {
				s, err := p.goString()
				cs.ShardId = &s
				return err
			})
		case "ParentShards":
			err = p.ifNotNull(func() (err error) {
				cs.ParentShards, err = p.stringList()
				return err
			})
		case "HashKeyRange":
			err = p.ifNotNull(func() (err error) {
				cs.HashKeyRange, err = p.hashKeyRange()
				return err
			})
		default:
			err = p.skipValue()
		}
		if err != nil {
			return cs, err
		}
	}
}

func (p *parser) stringList() ([]string, error) {
	if p.b[p.i] != '[' {
		return nil, p.errorf("expected '[', found %q", p.b[p.i])
	}
	if err := p.openContainer(); err != nil {
		return nil, err
	}
	out := make([]string, 0)
	for first := true; ; first = false {
		ok, err := p.nextElement(first)
		if err != nil || !ok {
			return out, err
		}
		var s string
		if p.b[p.i] == 'n' {
			err = p.literal("null") // a null element is ""
		} else {
			s, err = p.goString()
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
}

func (p *parser) hashKeyRange() (*types.HashKeyRange, error) {
	if p.b[p.i] != '{' {
		return nil, p.errorf("expected '{' for HashKeyRange, found %q", p.b[p.i])
	}
	if err := p.openContainer(); err != nil {
		return nil, err
	}
	r := &types.HashKeyRange{}
	for first := true; ; first = false {
		key, ok, err := p.nextMember(first)
		if err != nil || !ok {
			return r, err
		}
		var dst **string
		switch string(key) {
		case "StartingHashKey":
			dst = &r.StartingHashKey
		case "EndingHashKey":
			dst = &r.EndingHashKey
		default:
			if err := p.skipValue(); err != nil {
				return nil, err
			}
			continue
		}
		err = p.ifNotNull(func() error {
			s, err := p.goString()
			*dst = &s
			return err
		})
		if err != nil {
			return nil, err
		}
	}
}

// Interned encryption types, so the common values cost no bytes.
const (
	encNone = string(types.EncryptionTypeNone)
	encKMS  = string(types.EncryptionTypeKms)
)

// emptyData is the Data of a record whose base64 text is empty: non-nil,
// as the SDK's, and with no capacity, so nothing can be written into it.
var emptyData = []byte{}

// build is the second pass: it allocates every output once and fills it.
func (p *parser) build() (*kinesis.GetRecordsOutput, error) {
	out := &kinesis.GetRecordsOutput{}
	var nStr, strBytes, dataBytes, nStamps int
	for i := range p.recs {
		d := &p.recs[i]
		if d.pk.present() {
			nStr++
			strBytes += int(d.pk.n)
		}
		if d.seq.present() {
			nStr++
			strBytes += int(d.seq.n)
		}
		if d.enc.present() && internEnc(p.bytesOf(d.enc)) == "" {
			strBytes += int(d.enc.n)
		}
		if d.data.present() {
			dataBytes += int(d.dataLen)
		}
		if d.hasStamp {
			nStamps++
		}
	}
	if p.next.present() {
		nStr++
		strBytes += int(p.next.n)
	}

	sb := stringBuilder{buf: make([]byte, 0, strBytes)}
	ptrs := make([]string, nStr)
	newString := func(s span) *string {
		ptrs[0] = sb.add(p.bytesOf(s))
		ptr := &ptrs[0]
		ptrs = ptrs[1:]
		return ptr
	}
	if p.next.present() {
		out.NextShardIterator = newString(p.next)
	}
	if p.hasMillis {
		millis := p.millis
		out.MillisBehindLatest = &millis
	}
	if p.hasChild {
		out.ChildShards = p.children
	}
	if !p.hasRecords {
		return out, nil
	}

	recs := make([]types.Record, len(p.recs))
	var stamps []time.Time
	if nStamps > 0 {
		stamps = make([]time.Time, nStamps)
	}
	var data []byte
	if dataBytes > 0 {
		// Each record's slot is written by base64 decoding, and its Data
		// covers only what was written: no need to zero it first.
		data = makeNoZero(dataBytes)
	}
	for i := range p.recs {
		d, r := &p.recs[i], &recs[i]
		if d.data.present() {
			var err error
			if r.Data, data, err = decodeData(data, d.dataLen, p.bytesOf(d.data), d.data.off < 0); err != nil {
				return nil, err
			}
		}
		if d.pk.present() {
			r.PartitionKey = newString(d.pk)
		}
		if d.seq.present() {
			r.SequenceNumber = newString(d.seq)
		}
		if d.enc.present() {
			v := p.bytesOf(d.enc)
			s := internEnc(v)
			if s == "" {
				s = sb.add(v)
			}
			r.EncryptionType = types.EncryptionType(s)
		}
		if d.hasStamp {
			stamps[0] = epochTime(d.arrival)
			r.ApproximateArrivalTimestamp = &stamps[0]
			stamps = stamps[1:]
		}
	}
	out.Records = recs
	return out, nil
}

// decodeData decodes src (base64) into the front of buf and returns the
// decoded bytes and the rest of buf. want is the exact decoded length, or
// an upper bound if src was unquoted from escapes.
func decodeData(buf []byte, want int32, src []byte, unquoted bool) (data, rest []byte, err error) {
	if want == 0 && len(src) == 0 {
		return emptyData, buf, nil
	}
	dst := buf[:want:want]
	n, err := b64.Decode(dst, src)
	if err != nil {
		return nil, nil, fmt.Errorf("shardwise: decode base64 Data: %w", err)
	}
	if n == 0 {
		// Escaped text of only CR and LF: the SDK's DecodeString
		// returns a non-nil empty slice.
		return emptyData, buf[want:], nil
	}
	if n != int(want) && !unquoted {
		// Only CR or LF, which the base64 decoder skips, can make
		// unescaped text decode short, and the SDK's JSON scanner
		// rejects them raw in a string.
		return nil, nil, fmt.Errorf("shardwise: control character in Data")
	}
	return dst[:n:n], buf[want:], nil
}

func internEnc(v []byte) string {
	switch string(v) {
	case encNone:
		return encNone
	case encKMS:
		return encKMS
	}
	return ""
}

// stringBuilder hands out strings that share one buffer allocated to the
// exact total size up front, so appending never moves earlier strings.
type stringBuilder struct{ buf []byte }

func (b *stringBuilder) add(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	off := len(b.buf)
	b.buf = append(b.buf, v...)
	return unsafe.String(&b.buf[off], len(v))
}
