package emulator

import (
	"bytes"
	"io"
	"net/http"

	"github.com/shardwise/shardwise/internal/eventstream"
)

// kinesis-local (kinesis-mock) answers SubscribeToShard with an event
// stream that lacks the initial-response message every AWS JSON event
// stream starts with, and the AWS SDK for Go fails the call without it
// ("expected initial-response"). The edge puts it in: a SubscribeToShard
// answer with status 200 and an event-stream content type reaches the client as the initial-response
// message Kinesis sends, followed by the emulator's stream unchanged (if
// the emulator ever sends an initial-response of its own, that one is
// dropped, so there is exactly one). Over HTTP/1.1, as the emulator
// speaks it; the SDK accepts that for SubscribeToShard.

const (
	subscribeToShardTarget = kinesisTargetPrefix + "SubscribeToShard"
	eventStreamContentType = "application/vnd.amazon.eventstream"
)

// initialResponse is the message Kinesis starts a SubscribeToShard stream
// with.
var initialResponse = eventstream.AppendMessage(nil, []eventstream.Header{
	eventstream.StringHeader(":event-type", "initial-response"),
	eventstream.StringHeader(":content-type", "application/json"),
	eventstream.StringHeader(":message-type", "event"),
}, []byte("{}"))

// injectInitialResponse is the Kinesis route's ModifyResponse.
func injectInitialResponse(resp *http.Response) error {
	if resp.Request == nil || resp.Request.Header.Get("X-Amz-Target") != subscribeToShardTarget || resp.StatusCode != http.StatusOK ||
		resp.Header.Get("Content-Type") != eventStreamContentType {
		return nil
	}
	resp.Body = &withInitialResponse{up: resp.Body, pending: initialResponse}
	// The stream grows by one message: whatever length the emulator
	// declared is no longer the body's.
	resp.ContentLength = -1
	resp.Header.Del("Content-Length")
	return nil
}

// withInitialResponse reads as the initial-response, then the upstream
// stream, less an initial-response at its start.
type withInitialResponse struct {
	up       io.ReadCloser
	pending  []byte // to hand out before reading upstream again
	examined bool   // the upstream's first message was looked at
}

func (w *withInitialResponse) Read(p []byte) (int, error) {
	for {
		if len(w.pending) > 0 {
			n := copy(p, w.pending)
			w.pending = w.pending[n:]
			return n, nil
		}
		if w.examined {
			return w.up.Read(p)
		}
		w.examined = true
		// Reads exactly the first message (never past it), so the rest
		// passes through byte for byte.
		m, err := eventstream.NewReader(w.up).Next()
		if err != nil {
			return 0, err
		}
		if !isInitialResponse(&m) {
			w.pending = bytes.Clone(m.Raw)
		}
	}
}

func isInitialResponse(m *eventstream.Message) bool {
	et, _ := m.String(":event-type")
	return et == "initial-response"
}

func (w *withInitialResponse) Close() error { return w.up.Close() }
