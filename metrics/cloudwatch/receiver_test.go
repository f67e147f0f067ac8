package cloudwatch

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/smithy-go/encoding/cbor"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/internal/metricagg"
)

// receiver is an in-test CloudWatch endpoint for the real cloudwatch.Client:
// it checks each request is a Smithy RPC v2 CBOR PutMetricData, decodes
// the body (gunzipping it when the client compressed it), keeps what it
// read, and answers as the service would, or as the test scripts it.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	reqs    []gotRequest
	respond func(n int) reply // n counts requests from 1; nil answers success

	arrived chan int // receives the request number as each request arrives (non-blocking)
}

type gotRequest struct {
	Namespace string
	Datums    []gotDatum
	Gzip      bool
	BodyBytes int // decoded (uncompressed) body length
}

type gotDatum struct {
	Name      string
	Unit      string
	Dims      map[string]string
	Stats     metricagg.Stats
	Timestamp time.Time
}

// reply scripts one answer. The zero value is success.
type reply struct {
	status   int    // HTTP status for an error reply
	errType  string // the body's __type
	queryErr string // X-Amzn-Query-Error header, e.g. "Throttling;Sender"
	stall    bool   // block until the client gives up or the test ends
}

func throttled() reply {
	return reply{status: 400, errType: "com.amazon.coral.availability#ThrottlingException", queryErr: "Throttling;Sender"}
}

const putMetricDataPath = "/service/GraniteServiceVersion20100801/operation/PutMetricData"

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{t: t, arrived: make(chan int, 1024)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	release := make(chan struct{})
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.serve(w, req, release)
	}))
	r.srv.Listener.Close()
	r.srv.Listener = ln
	r.srv.Start()
	// Cleanups run last-in first-out: stalled handlers are released first,
	// then Close waits for every handler to return.
	t.Cleanup(r.srv.Close)
	t.Cleanup(func() { close(release) })
	return r
}

func (r *receiver) script(fn func(n int) reply) {
	r.mu.Lock()
	r.respond = fn
	r.mu.Unlock()
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request, release <-chan struct{}) {
	t := r.t
	if req.Method != http.MethodPost || req.URL.Path != putMetricDataPath {
		t.Errorf("unexpected request %s %s", req.Method, req.URL.Path)
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	for h, want := range map[string]string{"Content-Type": "application/cbor", "Smithy-Protocol": "rpc-v2-cbor", "Accept": "application/cbor"} {
		if got := req.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if req.Header.Get("Authorization") == "" {
		t.Errorf("request is not signed")
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Errorf("read body: %v", err)
		return
	}
	gz := false
	switch enc := req.Header.Get("Content-Encoding"); enc {
	case "":
	case "gzip":
		gz = true
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Errorf("gzip: %v", err)
			return
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Errorf("gunzip: %v", err)
			return
		}
	default:
		t.Errorf("unexpected Content-Encoding %q", enc)
	}
	got, err := decodePutMetricData(body)
	if err != nil {
		t.Errorf("decode PutMetricData: %v", err)
		return
	}
	got.Gzip = gz
	got.BodyBytes = len(body)

	r.mu.Lock()
	r.reqs = append(r.reqs, got)
	n := len(r.reqs)
	respond := r.respond
	r.mu.Unlock()
	select {
	case r.arrived <- n:
	default:
	}

	var rep reply
	if respond != nil {
		rep = respond(n)
	}
	if rep.stall {
		select {
		case <-release:
		case <-req.Context().Done():
		}
		return
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	if rep.status == 0 {
		w.WriteHeader(http.StatusOK)
		w.Write(cbor.Encode(cbor.Map{}))
		return
	}
	if rep.queryErr != "" {
		w.Header().Set("X-Amzn-Query-Error", rep.queryErr)
	}
	w.WriteHeader(rep.status)
	w.Write(cbor.Encode(cbor.Map{"__type": cbor.String(rep.errType), "message": cbor.String("scripted failure")}))
}

func decodePutMetricData(body []byte) (gotRequest, error) {
	v, err := cbor.Decode(body)
	if err != nil {
		return gotRequest{}, err
	}
	m, ok := v.(cbor.Map)
	if !ok {
		return gotRequest{}, fmt.Errorf("body is %T, want a map", v)
	}
	var out gotRequest
	if ns, ok := m["Namespace"].(cbor.String); ok {
		out.Namespace = string(ns)
	}
	list, _ := m["MetricData"].(cbor.List)
	for i, item := range list {
		dm, ok := item.(cbor.Map)
		if !ok {
			return out, fmt.Errorf("MetricData[%d] is %T", i, item)
		}
		var d gotDatum
		name, _ := dm["MetricName"].(cbor.String)
		d.Name = string(name)
		unit, _ := dm["Unit"].(cbor.String)
		d.Unit = string(unit)
		if dl, ok := dm["Dimensions"].(cbor.List); ok {
			d.Dims = map[string]string{}
			for _, x := range dl {
				xm, _ := x.(cbor.Map)
				n, _ := xm["Name"].(cbor.String)
				val, _ := xm["Value"].(cbor.String)
				d.Dims[string(n)] = string(val)
			}
		}
		sv, ok := dm["StatisticValues"].(cbor.Map)
		if !ok {
			return out, fmt.Errorf("MetricData[%d] has no StatisticValues", i)
		}
		for key, dst := range map[string]*float64{"SampleCount": &d.Stats.SampleCount, "Sum": &d.Stats.Sum, "Minimum": &d.Stats.Minimum, "Maximum": &d.Stats.Maximum} {
			if *dst, err = cbor.AsFloat64(sv[key]); err != nil {
				return out, fmt.Errorf("MetricData[%d].StatisticValues.%s: %v", i, key, err)
			}
		}
		if d.Timestamp, err = cbor.AsTime(dm["Timestamp"]); err != nil {
			return out, fmt.Errorf("MetricData[%d].Timestamp: %v", i, err)
		}
		out.Datums = append(out.Datums, d)
	}
	return out, nil
}

// requests returns a copy of what arrived so far.
func (r *receiver) requests() []gotRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gotRequest(nil), r.reqs...)
}

// datums returns every datum received, sorted by name then dimensions.
func (r *receiver) datums() []gotDatum {
	var out []gotDatum
	for _, q := range r.requests() {
		out = append(out, q.Datums...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return fmt.Sprint(out[i].Dims) < fmt.Sprint(out[j].Dims)
	})
	return out
}

// waitArrival waits for the next request to arrive.
func (r *receiver) waitArrival(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case n := <-r.arrived:
		return n
	case <-time.After(d):
		t.Fatalf("no request arrived within %v", d)
		return 0
	}
}

// client returns the real CloudWatch client pointed at the receiver.
func (r *receiver) client() *cloudwatch.Client {
	return cloudwatch.New(cloudwatch.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(r.srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:   r.srv.Client(),
		// What config.LoadDefaultConfig sets; cloudwatch.New alone would
		// leave 0 and gzip every body.
		RequestMinCompressSizeBytes: 10240,
	})
}

var testTime = time.Date(2025, 3, 1, 12, 30, 0, 0, time.UTC)

// testConfig is a publisher config against r that only flushes when told
// to (or on Close), so tests decide when requests happen.
func testConfig(t *testing.T, r *receiver) Config {
	return Config{
		Client:         r.client(),
		Namespace:      "orders-consumer",
		Dimensions:     []string{AllDimensions},
		FlushInterval:  time.Hour,
		RetryBaseDelay: time.Millisecond,
		RetryMaxDelay:  5 * time.Millisecond,
		Logger:         zerolog.New(zerolog.NewTestWriter(t)),
	}
}

// newTestCloudWatch starts, with its clock stopped at testTime, a publisher and closes it when the test ends
// (a no-op if the test closed it already).
func newTestCloudWatch(t *testing.T, cfg Config) *publisher {
	t.Helper()
	cw, err := newPublisher(cfg, func() time.Time { return testTime })
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		cw.Close(ctx)
	})
	return cw
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
