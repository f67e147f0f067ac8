//go:build unix

package fastdecode

import (
	"bytes"
	"syscall"
	"testing"
	"time"

	"github.com/aws/smithy-go/transport/http"
)

// benchStream is an event stream of events SubscribeToShardEvents, each
// carrying body's records (a realisticBody with ContinuationSequenceNumber
// in place of NextShardIterator).
func benchStream(body []byte, events int) []byte {
	payload := bytes.Replace(body, []byte(`"NextShardIterator"`), []byte(`"ContinuationSequenceNumber"`), 1)
	var b []byte
	for range events {
		b = append(b, eventMessage(payload)...)
	}
	return b
}

// BenchmarkEventStream decodes the same event-stream bytes with the SDK's
// event-stream unmarshaller and with ours (framing, CRCs and payloads),
// and reports the CPU seconds each spends per GB of stream: the process's
// CPU time (user + system, the GC's included, from getrusage), which a
// loaded machine does not inflate as it does wall time.
//
//	go test -run=NONE -bench=EventStream ./internal/fastdecode
func BenchmarkEventStream(b *testing.B) {
	for _, bb := range benchBodies[:3] {
		stream := benchStream(bb.body, 4)
		for _, c := range []struct {
			name string
			p    func() http.ClientProtocol
		}{
			{"sdk", newSDKProtocol},
			{"fast", func() http.ClientProtocol { return &eventProtocol{ClientProtocol: newSDKProtocol(), dec: New()} }},
		} {
			b.Run(bb.name+"/"+c.name, func(b *testing.B) {
				p := c.p()
				b.SetBytes(int64(len(stream)))
				b.ReportAllocs()
				cpu0 := processCPU()
				for b.Loop() {
					res := readAll(p, stream)
					if n := len(res); n != 5 || res[n-1].err.Error() != "EOF" {
						b.Fatalf("%d results, last %v", n, res[n-1].err)
					}
				}
				b.ReportMetric((processCPU()-cpu0)/(float64(b.N)*float64(len(stream))/1e9), "cpu_s_per_gb")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(4*bb.recs), "ns/record")
			})
		}
	}
}

// processCPU is the process's CPU seconds so far.
func processCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
