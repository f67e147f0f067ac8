package kinesisserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardwise/shardwise/internal/eventstream"
)

// Fault is a misbehaviour injected into one shard's subscriptions with
// InjectFault. Each injected fault happens once.
type Fault int

const (
	// FaultEndEarly ends the shard's open subscription (or its next one)
	// cleanly after its next event, long before its lifetime, as Kinesis
	// may.
	FaultEndEarly Fault = iota + 1
	// FaultStreamReset resets the HTTP/2 stream (RST_STREAM) in the middle
	// of the next event: the client reads half a message, then an error.
	FaultStreamReset
	// FaultConnReset closes the TCP connection carrying the subscription
	// in the middle of the next event (every stream on it fails).
	FaultConnReset
	// FaultSilence stops the events: the stream stays open, sending
	// nothing, until its lifetime ends or the client goes away.
	FaultSilence
	// FaultResourceInUse makes the next SubscribeToShard on the shard
	// answer ResourceInUseException, as when the consumer's previous
	// subscription is still open.
	FaultResourceInUse
)

// InjectFault queues f for the subscriptions of shardID.
func (s *Server) InjectFault(shardID string, f Fault) {
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	s.subs.faults[shardID] = append(s.subs.faults[shardID], f)
	s.subs.nFaults.Add(1)
}

// subscriptions tracks open subscriptions, the per-second call limit and
// the injected faults.
type subscriptions struct {
	mu       sync.Mutex
	open     map[string]bool      // consumer ARN + shard: a stream is open
	lastCall map[string]time.Time // consumer ARN + shard: last accepted call
	faults   map[string][]Fault   // shard: queued faults
	closed   chan struct{}        // closed and replaced when a subscription ends
	nFaults  atomic.Int64         // len of all fault queues, for a lock-free check
	started  atomic.Int64
	events   atomic.Int64
}

func (ss *subscriptions) init() {
	ss.open, ss.lastCall, ss.faults = map[string]bool{}, map[string]time.Time{}, map[string][]Fault{}
	ss.closed = make(chan struct{})
}

// AwaitClosed waits until no subscription of consumerARN to shardID is
// open (the endpoint has seen the client leave), or ctx ends.
func (s *Server) AwaitClosed(ctx context.Context, consumerARN, shardID string) error {
	key := consumerARN + " " + shardID
	for {
		s.subs.mu.Lock()
		open, ch := s.subs.open[key], s.subs.closed
		s.subs.mu.Unlock()
		if !open {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// takeFault removes and returns the first queued fault of shard among
// those in want, or 0.
func (ss *subscriptions) takeFault(shard string, want ...Fault) Fault {
	if ss.nFaults.Load() == 0 {
		return 0
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	q := ss.faults[shard]
	for i, f := range q {
		for _, w := range want {
			if f == w {
				ss.faults[shard] = append(q[:i:i], q[i+1:]...)
				ss.nFaults.Add(-1)
				return f
			}
		}
	}
	return 0
}

type connKey struct{}

// H2CClient returns an HTTP client that speaks HTTP/2 without TLS to the
// endpoint (what SubscribeToShard needs; other calls work over it too),
// for kinesis.Options.HTTPClient.
func (s *Server) H2CClient() *http.Client {
	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: protos}}
}

// eventPage is the payload of a SubscribeToShardEvent carrying one page,
// with the offsets of the page digits to patch (the records' sequence
// numbers and the ContinuationSequenceNumber).
type eventPage struct {
	buf  []byte
	offs []int
}

var eventHeaders = func() []byte {
	m := eventstream.AppendMessage(nil, []eventstream.Header{
		eventstream.StringHeader(":event-type", "SubscribeToShardEvent"),
		eventstream.StringHeader(":content-type", "application/json"),
		eventstream.StringHeader(":message-type", "event"),
	}, nil)
	return m[12 : len(m)-4]
}()

func (s *Server) eventPages() ([]*eventPage, error) {
	s.evOnce.Do(func() {
		build := func(pg *page) *eventPage {
			var b bytes.Buffer
			ep := &eventPage{}
			pg.encode(&b, &s.cfg, s.cfg.RecordsPerCall, true, func(int) { ep.offs = append(ep.offs, b.Len()+len(seqPrefix)) })
			ep.buf = b.Bytes()
			return ep
		}
		if s.cfg.SubRecords > 0 {
			for _, sh := range s.shards {
				s.events = append(s.events, build(sh.page))
			}
			return
		}
		s.events = []*eventPage{build(s.page)}
	})
	return s.events, s.evErr
}

// crcWriter writes to a buffered writer and keeps the CRC32 of what it
// wrote.
type crcWriter struct {
	w   *bufio.Writer
	crc uint32
}

func (c *crcWriter) write(p []byte) {
	c.crc = crc32.Update(c.crc, crc32.IEEETable, p)
	_, _ = c.w.Write(p) // a failed write shows at Flush
}

// writeEvent writes ep as the event of page, framed, straight from the
// shared payload with the digits patched in as it goes: no copy of a page
// per subscription. cut > 0 stops after that many bytes (a fault).
func writeEvent(w *bufio.Writer, ep *eventPage, page uint64, cut int) {
	total := 12 + len(eventHeaders) + len(ep.buf) + 4
	var prelude [12]byte
	binary.BigEndian.PutUint32(prelude[0:], uint32(total))
	binary.BigEndian.PutUint32(prelude[4:], uint32(len(eventHeaders)))
	binary.BigEndian.PutUint32(prelude[8:], crc32.ChecksumIEEE(prelude[:8]))
	c := &crcWriter{w: w}
	if cut > 0 {
		c.write(prelude[:])
		c.write(eventHeaders)
		c.write(ep.buf[:min(cut, len(ep.buf))])
		return
	}
	c.write(prelude[:])
	c.write(eventHeaders)
	var d [pageDigits]byte
	putDigits(d[:], page)
	at := 0
	for _, off := range ep.offs {
		c.write(ep.buf[at:off])
		c.write(d[:])
		at = off + pageDigits
	}
	c.write(ep.buf[at:])
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], c.crc)
	_, _ = w.Write(sum[:])
}

// pageAvailable is when page is written, when records are paced.
func (s *Server) pageAvailable(page uint64) time.Time {
	secs := float64(page+1) * float64(s.cfg.RecordsPerCall) / s.cfg.RecordsPerSecond
	return s.started.Add(time.Duration(secs * float64(time.Second)))
}

// latestPage is the first page not yet written.
func (s *Server) latestPage() uint64 {
	if s.cfg.RecordsPerSecond <= 0 {
		return 0
	}
	written := time.Since(s.started).Seconds() * s.cfg.RecordsPerSecond / float64(s.cfg.RecordsPerCall)
	return uint64(math.Floor(written))
}

func (s *Server) subscribeToShard(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		ConsumerARN, ShardId string
		StartingPosition     struct {
			Type, SequenceNumber string
			Timestamp            float64
		}
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, 400, "SerializationException", err.Error())
		return
	}
	s.other.Add(1)
	c, ok := s.consumerOfARN(in.ConsumerARN)
	if !ok {
		writeError(w, 400, "ResourceNotFoundException", "Consumer "+in.ConsumerARN+" not found.")
		return
	}
	if st := s.status(c); st != "ACTIVE" {
		writeError(w, 400, "ResourceInUseException", "Consumer "+in.ConsumerARN+" is "+st+".")
		return
	}
	shard, ok := parseShardID(in.ShardId)
	if !ok || shard >= s.cfg.Shards {
		writeError(w, 400, "ResourceNotFoundException", "Shard "+in.ShardId+" not found.")
		return
	}
	var page uint64
	switch pos := in.StartingPosition; pos.Type {
	case "TRIM_HORIZON", "AT_TIMESTAMP":
	case "LATEST":
		page = s.latestPage()
	case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
		p, ok := pageOf(pos.SequenceNumber)
		if !ok {
			writeError(w, 400, "InvalidArgumentException", "SequenceNumber "+pos.SequenceNumber+" is not one of this stream's")
			return
		}
		page = p
		// After a page's last record (an event's continuation) is the
		// next page; after any other record, the page again (the
		// consumer drops what it has seen, as with GetShardIterator).
		if pos.Type == "AFTER_SEQUENCE_NUMBER" && pos.SequenceNumber == sequenceNumber(p, s.cfg.RecordsPerCall-1) {
			page++
		}
	default:
		writeError(w, 400, "InvalidArgumentException", "bad StartingPosition.Type "+pos.Type)
		return
	}
	key := in.ConsumerARN + " " + in.ShardId
	if s.subs.takeFault(in.ShardId, FaultResourceInUse) != 0 {
		writeError(w, 400, "ResourceInUseException", "Another active subscription exists for this consumer (injected).")
		return
	}
	s.subs.mu.Lock()
	switch now := time.Now(); {
	case s.subs.open[key]:
		s.subs.mu.Unlock()
		writeError(w, 400, "ResourceInUseException", "Another active subscription exists for this consumer: "+in.ConsumerARN+" on "+in.ShardId+".")
		return
	case s.cfg.SubscribeInterval > 0 && now.Sub(s.subs.lastCall[key]) < s.cfg.SubscribeInterval:
		s.subs.mu.Unlock()
		writeError(w, 400, "LimitExceededException", "Rate exceeded for consumer "+in.ConsumerARN+" and shard "+in.ShardId+".")
		return
	default:
		s.subs.open[key], s.subs.lastCall[key] = true, now
		s.subs.mu.Unlock()
	}
	defer func() {
		s.subs.mu.Lock()
		delete(s.subs.open, key)
		close(s.subs.closed)
		s.subs.closed = make(chan struct{})
		s.subs.mu.Unlock()
	}()
	pages, err := s.eventPages()
	if err != nil {
		writeError(w, 500, "InternalFailureException", err.Error())
		return
	}
	ep := pages[0]
	if len(pages) > 1 {
		ep = pages[shard]
	}
	s.subs.started.Add(1)
	s.stream(w, r, shard, page, ep)
}

// stream writes the initial response, then one event per page from page
// on, until the lifetime ends, the shard ends, the client leaves or a
// fault strikes.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, shard int, page uint64, ep *eventPage) {
	ctx := r.Context()
	id := shardID(shard)
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	flush := func() bool {
		if bw.Flush() != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return ctx.Err() == nil
	}
	_, _ = bw.Write(eventstream.AppendMessage(nil, []eventstream.Header{
		eventstream.StringHeader(":event-type", "initial-response"),
		eventstream.StringHeader(":content-type", "application/json"),
		eventstream.StringHeader(":message-type", "event"),
	}, []byte("{}")))
	if !flush() {
		return
	}
	lifetime := time.NewTimer(s.cfg.SubscriptionLifetime)
	defer lifetime.Stop()
	var pace *time.Timer
	for ; ; page++ {
		if s.cfg.ShardEndAfterPages > 0 && page >= s.cfg.ShardEndAfterPages {
			_, _ = bw.Write(s.shardEndEvent(shard))
			flush()
			return
		}
		if s.cfg.RecordsPerSecond > 0 {
			if wait := time.Until(s.pageAvailable(page)); wait > 0 {
				if pace == nil {
					pace = time.NewTimer(wait)
					defer pace.Stop()
				} else {
					pace.Reset(wait)
				}
				select {
				case <-pace.C:
				case <-lifetime.C:
					return
				case <-ctx.Done():
					return
				}
			}
		}
		switch s.subs.takeFault(id, FaultEndEarly, FaultStreamReset, FaultConnReset, FaultSilence) {
		case FaultEndEarly:
			return
		case FaultSilence:
			select {
			case <-lifetime.C:
			case <-ctx.Done():
			}
			return
		case FaultStreamReset:
			writeEvent(bw, ep, page, len(ep.buf)/2)
			flush()
			panic(http.ErrAbortHandler) // net/http resets the stream
		case FaultConnReset:
			writeEvent(bw, ep, page, len(ep.buf)/2)
			flush()
			if c, ok := ctx.Value(connKey{}).(net.Conn); ok {
				_ = c.Close()
			}
			panic(http.ErrAbortHandler)
		}
		writeEvent(bw, ep, page, 0)
		if !flush() {
			return
		}
		s.subs.events.Add(1)
		s.records.Add(int64(s.cfg.RecordsPerCall))
		s.bytes.Add(int64(len(ep.buf)))
		if s.cfg.OnEventSent != nil {
			s.cfg.OnEventSent(id, page, time.Now())
		}
		select {
		case <-lifetime.C:
			return
		case <-ctx.Done():
			return
		default:
		}
	}
}

// shardEndEvent is the last event of a closed shard: no records, no
// ContinuationSequenceNumber, and the child shard that follows it.
func (s *Server) shardEndEvent(shard int) []byte {
	rng := s.ranges[shard]
	payload := fmt.Sprintf(`{"Records":[],"MillisBehindLatest":0,"ChildShards":[{"ShardId":%q,"ParentShards":[%q],"HashKeyRange":{"StartingHashKey":%q,"EndingHashKey":%q}}]}`,
		ChildShardID(shard, s.cfg.Shards), shardID(shard), rng.Start.String(), rng.End.String())
	return eventstream.AppendMessage(nil, []eventstream.Header{
		eventstream.StringHeader(":event-type", "SubscribeToShardEvent"),
		eventstream.StringHeader(":content-type", "application/json"),
		eventstream.StringHeader(":message-type", "event"),
	}, []byte(payload))
}

// ChildShardID is the child a closed shard's last event names.
func ChildShardID(shard, shards int) string { return shardID(shard + shards) }

// PageOf is the page (as OnEventSent names it) holding a sequence number
// of this endpoint.
func PageOf(seq string) (uint64, bool) { return pageOf(seq) }
