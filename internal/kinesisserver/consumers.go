package kinesisserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// maxConsumers is Kinesis's limit of registered consumers per stream.
const maxConsumers = 20

// consumerRec is a registered stream consumer.
type consumerRec struct {
	Name, ARN string
	Created   time.Time
}

// consumers is the endpoint's registry of enhanced fan-out consumers: the
// kinesistest fake has none of its own, so the endpoint keeps one.
type consumers struct {
	mu     sync.Mutex
	byName map[string]*consumerRec
	byARN  map[string]*consumerRec
}

func (s *Server) consumerARN(name string, created time.Time) string {
	return fmt.Sprintf("%s/consumer/%s:%d", s.StreamARN(), name, created.Unix())
}

// status reports a consumer's ConsumerStatus: CREATING until
// Config.ConsumerActivation has passed since it registered.
func (s *Server) status(c *consumerRec) string {
	if time.Since(c.Created) < s.cfg.ConsumerActivation {
		return "CREATING"
	}
	return "ACTIVE"
}

func (s *Server) consumerJSON(c *consumerRec, withStream bool) map[string]any {
	m := map[string]any{
		"ConsumerName":              c.Name,
		"ConsumerARN":               c.ARN,
		"ConsumerStatus":            s.status(c),
		"ConsumerCreationTimestamp": float64(c.Created.UnixMilli()) / 1000,
	}
	if withStream {
		m["StreamARN"] = s.StreamARN()
	}
	return m
}

type consumerRef struct {
	StreamARN, ConsumerName, ConsumerARN string
}

func (s *Server) decodeConsumerRef(w http.ResponseWriter, body []byte) (consumerRef, bool) {
	var in consumerRef
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, 400, "SerializationException", err.Error())
		return in, false
	}
	if in.StreamARN != "" && in.StreamARN != s.StreamARN() {
		writeError(w, 400, "ResourceNotFoundException", "Stream "+in.StreamARN+" not found.")
		return in, false
	}
	return in, true
}

// lookup finds the consumer a request names, by ARN or by stream and name.
func (s *Server) lookup(in consumerRef) *consumerRec {
	s.cons.mu.Lock()
	defer s.cons.mu.Unlock()
	if in.ConsumerARN != "" {
		return s.cons.byARN[in.ConsumerARN]
	}
	return s.cons.byName[in.ConsumerName]
}

func (s *Server) registerStreamConsumer(w http.ResponseWriter, body []byte) {
	in, ok := s.decodeConsumerRef(w, body)
	if !ok {
		return
	}
	if in.StreamARN == "" || in.ConsumerName == "" {
		writeError(w, 400, "InvalidArgumentException", "StreamARN and ConsumerName are required.")
		return
	}
	s.cons.mu.Lock()
	if _, dup := s.cons.byName[in.ConsumerName]; dup {
		s.cons.mu.Unlock()
		writeError(w, 400, "ResourceInUseException", "Consumer "+in.ConsumerName+" already exists.")
		return
	}
	if len(s.cons.byName) >= maxConsumers {
		s.cons.mu.Unlock()
		writeError(w, 400, "LimitExceededException", fmt.Sprintf("Stream has the maximum of %d consumers.", maxConsumers))
		return
	}
	now := time.Now()
	c := &consumerRec{Name: in.ConsumerName, ARN: s.consumerARN(in.ConsumerName, now), Created: now}
	s.cons.byName[c.Name], s.cons.byARN[c.ARN] = c, c
	s.cons.mu.Unlock()
	writeJSON(w, map[string]any{"Consumer": s.consumerJSON(c, false)})
}

func (s *Server) describeStreamConsumer(w http.ResponseWriter, body []byte) {
	in, ok := s.decodeConsumerRef(w, body)
	if !ok {
		return
	}
	c := s.lookup(in)
	if c == nil {
		writeError(w, 400, "ResourceNotFoundException", "Consumer "+in.ConsumerName+in.ConsumerARN+" not found.")
		return
	}
	writeJSON(w, map[string]any{"ConsumerDescription": s.consumerJSON(c, true)})
}

func (s *Server) listStreamConsumers(w http.ResponseWriter, body []byte) {
	in, ok := s.decodeConsumerRef(w, body)
	if !ok {
		return
	}
	if in.StreamARN == "" {
		writeError(w, 400, "InvalidArgumentException", "StreamARN is required.")
		return
	}
	s.cons.mu.Lock()
	list := make([]*consumerRec, 0, len(s.cons.byName))
	for _, c := range s.cons.byName {
		list = append(list, c)
	}
	s.cons.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	out := make([]map[string]any, len(list))
	for i, c := range list {
		out[i] = s.consumerJSON(c, false)
	}
	writeJSON(w, map[string]any{"Consumers": out})
}

func (s *Server) deregisterStreamConsumer(w http.ResponseWriter, body []byte) {
	in, ok := s.decodeConsumerRef(w, body)
	if !ok {
		return
	}
	s.cons.mu.Lock()
	c := s.cons.byARN[in.ConsumerARN]
	if in.ConsumerARN == "" {
		c = s.cons.byName[in.ConsumerName]
	}
	if c != nil {
		delete(s.cons.byName, c.Name)
		delete(s.cons.byARN, c.ARN)
	}
	s.cons.mu.Unlock()
	if c == nil {
		writeError(w, 400, "ResourceNotFoundException", "Consumer "+in.ConsumerName+in.ConsumerARN+" not found.")
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_, _ = w.Write([]byte("{}"))
}

// consumerOfARN reports whether arn names a registered consumer, and its
// status.
func (s *Server) consumerOfARN(arn string) (*consumerRec, bool) {
	c := s.lookup(consumerRef{ConsumerARN: arn})
	return c, c != nil && strings.HasPrefix(arn, s.StreamARN()+"/consumer/")
}

func (s *Server) consumerCount() int {
	s.cons.mu.Lock()
	defer s.cons.mu.Unlock()
	return len(s.cons.byName)
}
