package kinesisserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardwise/shardwise/internal/hashkey"
)

// Config shapes the stream. Zero fields take the defaults given.
type Config struct {
	// StreamName is the stream's name. Default: "bench".
	StreamName string
	// Shards is the number of shards. Default: 1.
	Shards int
	// RecordsPerCall is how many records every GetRecords answer holds
	// (fewer when the request's Limit is lower). Kinesis allows up to
	// 10000. Default: 1000.
	RecordsPerCall int
	// RecordSize is the payload of each record in bytes, when records are
	// not aggregated. Default: 1024.
	RecordSize int
	// SubRecords > 0 makes every record a KPL aggregate of SubRecords
	// user records of SubRecordSize bytes each, with their own partition
	// keys (built with internal/kpl's Aggregate).
	SubRecords, SubRecordSize int
	// MillisBehindLatest is reported by every GetRecords answer.
	// Default: 0.
	MillisBehindLatest int64
	// MaxPageMemory bounds the memory spent on per-shard copies of the
	// page; above it, one copy is shared and written in pieces.
	// Default: 256 MiB.
	MaxPageMemory int64

	// Enhanced fan-out (SubscribeToShard; see subscribe.go).

	// SubscriptionLifetime is how long a subscription streams before the
	// endpoint ends it, as Kinesis does after 5 minutes. Default: 5m.
	SubscriptionLifetime time.Duration
	// SubscribeInterval is the least time between two SubscribeToShard
	// calls of one consumer on one shard; a call sooner answers
	// LimitExceededException (Kinesis allows one a second). Negative: no
	// limit. Default: 1s.
	SubscribeInterval time.Duration
	// RecordsPerSecond > 0 paces every shard's records: page p (of
	// RecordsPerCall records) is written at start + (p+1)·RecordsPerCall /
	// RecordsPerSecond, and a subscription pushes each page as an event
	// the moment it is written (LATEST starts at the next one). Zero: the
	// whole endless stream is there at once, and events go out as fast as
	// HTTP/2 flow control lets them. Default: 0.
	RecordsPerSecond float64
	// ShardEndAfterPages > 0 closes every shard after that many pages for
	// SubscribeToShard: the last event has no ContinuationSequenceNumber
	// and names a child shard (not listed by ListShards). Default: 0.
	ShardEndAfterPages uint64
	// ConsumerActivation is how long a registered consumer stays
	// CREATING before it is ACTIVE. Default: 0 (ACTIVE at once).
	ConsumerActivation time.Duration
	// OnEventSent, when set, is called after every SubscribeToShardEvent
	// is flushed to the connection, with the shard, the page it carried
	// and the time. It runs on the subscription's goroutine. It is not
	// passed to a child process (JSON).
	OnEventSent func(shardID string, page uint64, sent time.Time) `json:"-"`
}

func (c *Config) setDefaults() error {
	if c.StreamName == "" {
		c.StreamName = "bench"
	}
	if c.Shards == 0 {
		c.Shards = 1
	}
	if c.RecordsPerCall == 0 {
		c.RecordsPerCall = 1000
	}
	if c.RecordSize == 0 && c.SubRecords == 0 {
		c.RecordSize = 1024
	}
	if c.MaxPageMemory == 0 {
		c.MaxPageMemory = 256 << 20
	}
	if c.SubscriptionLifetime == 0 {
		c.SubscriptionLifetime = 5 * time.Minute
	}
	if c.SubscribeInterval == 0 {
		c.SubscribeInterval = time.Second
	}
	switch {
	case c.Shards < 1 || c.Shards > 999_999:
		return fmt.Errorf("kinesisserver: Shards %d is outside 1..999999", c.Shards)
	case c.RecordsPerCall < 1 || c.RecordsPerCall > 999_999:
		return fmt.Errorf("kinesisserver: RecordsPerCall %d is outside 1..999999", c.RecordsPerCall)
	case c.RecordSize < 0 || c.SubRecords < 0 || c.SubRecordSize < 0:
		return errors.New("kinesisserver: sizes must not be negative")
	}
	return nil
}

// Stats are the server's running totals.
type Stats struct {
	GetRecordsCalls int64
	RecordsServed   int64 // Kinesis records (aggregates count once)
	BytesServed     int64 // GetRecords response bodies
	OtherCalls      int64
	Subscriptions   int64 // SubscribeToShard calls answered with a stream
	EventsSent      int64 // SubscribeToShardEvents written
}

// Server is a running endpoint. Its methods are safe for concurrent use.
type Server struct {
	// URL is the endpoint's base URL, e.g. http://127.0.0.1:41235, for
	// kinesis.Options.BaseEndpoint.
	URL string

	cfg    Config
	page   *page
	shards []*shard
	ranges []hashkey.Range
	http   *http.Server
	served chan struct{} // closed when Serve returns

	getRecords, records, bytes, other atomic.Int64

	started time.Time // RecordsPerSecond pacing starts here
	cons    consumers
	subs    subscriptions
	events  []*eventPage // per shard (or one shared), built lazily
	evOnce  sync.Once
	evErr   error
}

// shard holds a shard's own copy of the page, when pages are per shard.
type shard struct {
	mu   sync.Mutex // guards buf while it is patched and written
	buf  []byte
	page *page // the offsets of buf's digits
}

// Start builds the pages and starts serving on 127.0.0.1 on a free port.
func Start(cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, ranges: hashkey.Split(hashkey.Full, cfg.Shards), served: make(chan struct{}), started: time.Now()}
	s.cons.byName, s.cons.byARN = map[string]*consumerRec{}, map[string]*consumerRec{}
	s.subs.init()
	pg, err := buildPage(&cfg, hashkey.Full)
	if err != nil {
		return nil, err
	}
	s.page = pg
	switch {
	case cfg.SubRecords > 0:
		// Aggregates differ by shard: every shard has a page of its own.
		if need := int64(len(pg.buf)) * int64(cfg.Shards); need > cfg.MaxPageMemory {
			return nil, fmt.Errorf("kinesisserver: KPL pages need %d MiB, above MaxPageMemory", need>>20)
		}
		s.shards = make([]*shard, cfg.Shards)
		for i := range s.shards {
			sp, err := buildPage(&cfg, s.ranges[i])
			if err != nil {
				return nil, err
			}
			s.shards[i] = &shard{buf: sp.buf, page: sp}
		}
	case int64(len(pg.buf))*int64(cfg.Shards) <= cfg.MaxPageMemory:
		s.shards = make([]*shard, cfg.Shards)
		for i := range s.shards {
			s.shards[i] = &shard{buf: append([]byte(nil), pg.buf...), page: pg}
		}
	}
	for i, sh := range s.shards {
		putDigits(sh.buf[sh.page.iterShard:sh.page.iterShard+shardDigits], uint64(i))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + ln.Addr().String()
	// HTTP/1.1 and unencrypted HTTP/2 (prior knowledge, as H2CClient
	// speaks it): SubscribeToShard streams over HTTP/2, like Kinesis's.
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	s.http = &http.Server{
		Handler: s, ReadHeaderTimeout: 10 * time.Second, Protocols: protos,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
	}
	go func() {
		defer close(s.served)
		_ = s.http.Serve(ln)
	}()
	return s, nil
}

// Close stops the server and waits until it has stopped.
func (s *Server) Close() error {
	err := s.http.Close()
	<-s.served
	return err
}

// Stats returns the running totals.
func (s *Server) Stats() Stats {
	return Stats{
		Subscriptions:   s.subs.started.Load(),
		EventsSent:      s.subs.events.Load(),
		GetRecordsCalls: s.getRecords.Load(),
		RecordsServed:   s.records.Load(),
		BytesServed:     s.bytes.Load(),
		OtherCalls:      s.other.Load(),
	}
}

// Shards returns the shard IDs.
func (s *Server) Shards() []string {
	ids := make([]string, s.cfg.Shards)
	for i := range ids {
		ids[i] = shardID(i)
	}
	return ids
}

// StreamARN is the ARN the stream reports.
func (s *Server) StreamARN() string {
	return "arn:aws:kinesis:us-east-1:000000000000:stream/" + s.cfg.StreamName
}

// PageBytes is the size of one GetRecords answer of shard 0.
func (s *Server) PageBytes() int {
	if s.shards != nil {
		return len(s.shards[0].buf)
	}
	return len(s.page.buf)
}

func shardID(i int) string { return fmt.Sprintf("shardId-%012d", i) }

func parseShardID(id string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "shardId-"))
	return n, err == nil && strings.HasPrefix(id, "shardId-") && len(id) == len("shardId-")+12
}

// ServeHTTP answers one Kinesis API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "Kinesis_20131202.")
	if r.Method != http.MethodPost || !ok {
		writeError(w, 400, "UnknownOperationException", "unknown operation "+target)
		return
	}
	switch op {
	case "GetRecords":
		s.serveGetRecords(w, body)
		return
	case "SubscribeToShard":
		s.subscribeToShard(w, r, body)
		return
	}
	s.other.Add(1)
	switch op {
	case "DescribeStreamSummary":
		s.describeStreamSummary(w, body)
	case "ListShards":
		s.listShards(w, body)
	case "GetShardIterator":
		s.getShardIterator(w, body)
	case "RegisterStreamConsumer":
		s.registerStreamConsumer(w, body)
	case "DescribeStreamConsumer":
		s.describeStreamConsumer(w, body)
	case "ListStreamConsumers":
		s.listStreamConsumers(w, body)
	case "DeregisterStreamConsumer":
		s.deregisterStreamConsumer(w, body)
	default:
		writeError(w, 400, "UnknownOperationException", "operation "+op+" is not supported by this endpoint")
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, 500, "InternalFailure", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	b, _ := json.Marshal(map[string]string{"__type": typ, "message": msg})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

type streamRef struct {
	StreamName, StreamARN string
}

// checkStream answers false (and an error response) when the request names
// another stream.
func (s *Server) checkStream(w http.ResponseWriter, ref streamRef) bool {
	if (ref.StreamName != "" && ref.StreamName != s.cfg.StreamName) || (ref.StreamARN != "" && ref.StreamARN != s.StreamARN()) {
		writeError(w, 400, "ResourceNotFoundException", fmt.Sprintf("Stream %s%s not found.", ref.StreamName, ref.StreamARN))
		return false
	}
	return true
}

func (s *Server) describeStreamSummary(w http.ResponseWriter, body []byte) {
	var in streamRef
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, 400, "SerializationException", err.Error())
		return
	}
	if !s.checkStream(w, in) {
		return
	}
	writeJSON(w, map[string]any{"StreamDescriptionSummary": map[string]any{
		"StreamName":              s.cfg.StreamName,
		"StreamARN":               s.StreamARN(),
		"StreamStatus":            "ACTIVE",
		"StreamModeDetails":       map[string]string{"StreamMode": "PROVISIONED"},
		"RetentionPeriodHours":    24,
		"StreamCreationTimestamp": 1.7e9,
		"EnhancedMonitoring":      []any{},
		"EncryptionType":          "NONE",
		"OpenShardCount":          s.cfg.Shards,
		"ConsumerCount":           s.consumerCount(),
	}})
}

func (s *Server) listShards(w http.ResponseWriter, body []byte) {
	var in streamRef
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, 400, "SerializationException", err.Error())
		return
	}
	if !s.checkStream(w, in) {
		return
	}
	type rng struct{ StartingHashKey, EndingHashKey string }
	type seqRange struct{ StartingSequenceNumber string }
	type shard struct {
		ShardId             string
		HashKeyRange        rng
		SequenceNumberRange seqRange
	}
	shards := make([]shard, s.cfg.Shards)
	for i := range shards {
		shards[i] = shard{
			ShardId:             shardID(i),
			HashKeyRange:        rng{s.ranges[i].Start.String(), s.ranges[i].End.String()},
			SequenceNumberRange: seqRange{sequenceNumber(0, 0)},
		}
	}
	writeJSON(w, map[string]any{"Shards": shards})
}

func (s *Server) getShardIterator(w http.ResponseWriter, body []byte) {
	var in struct {
		streamRef
		ShardId, ShardIteratorType, StartingSequenceNumber string
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, 400, "SerializationException", err.Error())
		return
	}
	if !s.checkStream(w, in.streamRef) {
		return
	}
	shard, ok := parseShardID(in.ShardId)
	if !ok || shard >= s.cfg.Shards {
		writeError(w, 400, "ResourceNotFoundException", "Shard "+in.ShardId+" not found.")
		return
	}
	var page uint64
	switch in.ShardIteratorType {
	case "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP":
	case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
		p, ok := pageOf(in.StartingSequenceNumber)
		if !ok {
			writeError(w, 400, "InvalidArgumentException", "StartingSequenceNumber "+in.StartingSequenceNumber+" is not one of this stream's")
			return
		}
		page = p
	default:
		writeError(w, 400, "InvalidArgumentException", "bad ShardIteratorType "+in.ShardIteratorType)
		return
	}
	writeJSON(w, map[string]string{"ShardIterator": iterator(shard, page)})
}

func (s *Server) serveGetRecords(w http.ResponseWriter, body []byte) {
	var in struct {
		ShardIterator string
		Limit         int
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, 400, "SerializationException", err.Error())
		return
	}
	shard, page, ok := parseIterator(in.ShardIterator)
	if !ok || shard >= s.cfg.Shards {
		writeError(w, 400, "InvalidArgumentException", "Invalid ShardIterator.")
		return
	}
	s.getRecords.Add(1)
	if in.Limit > 0 && in.Limit < s.cfg.RecordsPerCall {
		// A short page is built on the spot: correct, not fast.
		pg := s.page
		if s.shards != nil {
			pg = s.shards[shard].page
		}
		b := pg.short(&s.cfg, shard, page, in.Limit)
		s.records.Add(int64(in.Limit))
		s.bytes.Add(int64(len(b)))
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
		return
	}
	s.records.Add(int64(s.cfg.RecordsPerCall))
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if s.shards != nil {
		sh := s.shards[shard]
		s.bytes.Add(int64(len(sh.buf)))
		w.Header().Set("Content-Length", strconv.Itoa(len(sh.buf)))
		sh.mu.Lock()
		defer sh.mu.Unlock()
		sh.page.patch(sh.buf, page)
		_, _ = w.Write(sh.buf)
		return
	}
	s.bytes.Add(int64(len(s.page.buf)))
	w.Header().Set("Content-Length", strconv.Itoa(len(s.page.buf)))
	_ = s.page.writePieces(w, shard, page)
}

// Addr returns the listener's host:port.
func (s *Server) Addr() string { return strings.TrimPrefix(s.URL, "http://") }
