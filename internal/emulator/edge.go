package emulator

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// Request routing of the edge, by what the AWS SDK sends:
//   - Kinesis and DynamoDB speak AWS JSON: POST / with an X-Amz-Target of
//     "Kinesis_20131202.<Operation>" or "DynamoDB_20120810.<Operation>".
//   - CloudWatch speaks Smithy RPC v2 CBOR: POST
//     /service/GraniteServiceVersion20100801/operation/<Operation>.
const (
	kinesisTargetPrefix  = "Kinesis_20131202."
	dynamoDBTargetPrefix = "DynamoDB_20120810."
	cloudWatchPathPrefix = "/service/GraniteServiceVersion20100801/operation/"
)

// EdgeStats counts the requests an Edge has answered, per route.
type EdgeStats struct {
	Kinesis       int64 // forwarded to kinesis-local
	DynamoDB      int64 // forwarded to dynalite
	PutMetricData int64 // CloudWatch PutMetricData calls accepted and discarded
	Unrouted      int64 // answered 501: no emulator serves them
}

// Edge is one HTTP endpoint on 127.0.0.1 in front of the emulators, the
// way LocalStack serves every service on its edge port (4566): a client
// configured with one BaseEndpoint reaches Kinesis, DynamoDB and CloudWatch
// through it.
//
// Requests whose X-Amz-Target names Kinesis go to kinesis-local, those
// naming DynamoDB to dynalite, with method, path, query, headers (Host
// included, as signed) and body unchanged; responses stream back as the
// emulator writes them. No CloudWatch emulator exists here, so CloudWatch's
// PutMetricData is accepted and discarded (HTTP 200 with the empty CBOR
// answer the SDK expects), and counted. Everything else, other CloudWatch
// operations included, gets 501 Not Implemented with a text naming what
// was asked and what the edge serves.
//
// SubscribeToShard against kinesis-local works only through the edge,
// which adds the initial-response message the emulator leaves out (see
// fanout.go).
type Edge struct {
	url      string
	srv      *http.Server
	kinesis  *httputil.ReverseProxy
	dynamoDB *httputil.ReverseProxy
	tr       *http.Transport

	kinesisN, dynamoDBN, putMetricDataN, unroutedN atomic.Int64
}

// StartEdge starts an Edge on a free port of 127.0.0.1 forwarding to the
// Kinesis and DynamoDB emulators of env. Close it when done.
func StartEdge(env Env) (*Edge, error) {
	if env.Kinesis == "" || env.DynamoDB == "" {
		return nil, errors.New("emulator: the edge needs the Kinesis and DynamoDB endpoints")
	}
	kinesisURL, err := url.Parse(env.Kinesis)
	if err != nil {
		return nil, fmt.Errorf("emulator: Kinesis endpoint: %w", err)
	}
	dynamoURL, err := url.Parse(env.DynamoDB)
	if err != nil {
		return nil, fmt.Errorf("emulator: DynamoDB endpoint: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("emulator: edge: %w", err)
	}
	e := &Edge{
		url: "http://" + ln.Addr().String(),
		// Loopback only: never through a proxy from the environment.
		tr: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	e.kinesis = e.proxy(kinesisURL)
	e.kinesis.ModifyResponse = injectInitialResponse // see fanout.go
	e.dynamoDB = e.proxy(dynamoURL)
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go e.srv.Serve(ln)
	return e, nil
}

// proxy forwards to target, changing only the scheme and host the request
// is sent to.
func (e *Edge) proxy(target *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // as the client signed it
		},
		Transport:     e.tr,
		FlushInterval: -1, // pass each write on at once (event streams, long reads)
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, fmt.Sprintf("shardwise edge: forwarding %s to %s: %v", r.Header.Get("X-Amz-Target"), target.Host, err), http.StatusBadGateway)
		},
		// A body copy cut short is what every subscription ends with when
		// its client goes (context canceled); the client sees the cut
		// itself, so the proxy's own log line for it is noise.
		ErrorLog: log.New(io.Discard, "", 0),
	}
}

// URL returns the edge's endpoint, http://127.0.0.1:PORT.
func (e *Edge) URL() string { return e.url }

// Stats returns the requests answered so far, per route.
func (e *Edge) Stats() EdgeStats {
	return EdgeStats{
		Kinesis:       e.kinesisN.Load(),
		DynamoDB:      e.dynamoDBN.Load(),
		PutMetricData: e.putMetricDataN.Load(),
		Unrouted:      e.unroutedN.Load(),
	}
}

// Close stops the edge at once, closing open connections.
func (e *Edge) Close() error {
	err := e.srv.Close()
	e.tr.CloseIdleConnections()
	return err
}

// ServeHTTP routes one request (see Edge).
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(target, kinesisTargetPrefix):
		e.kinesisN.Add(1)
		e.kinesis.ServeHTTP(w, r)
	case strings.HasPrefix(target, dynamoDBTargetPrefix):
		e.dynamoDBN.Add(1)
		e.dynamoDB.ServeHTTP(w, r)
	case r.Method == http.MethodPost && r.URL.Path == cloudWatchPathPrefix+"PutMetricData":
		e.putMetricDataN.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", "application/cbor")
		w.WriteHeader(http.StatusOK)
		w.Write(cbor.Encode(cbor.Map{})) // PutMetricDataOutput has no members
	default:
		e.unroutedN.Add(1)
		what := "X-Amz-Target " + target
		if target == "" {
			what = r.Method + " " + r.URL.Path
		}
		http.Error(w, "shardwise edge: nothing serves "+what+
			": this edge forwards Kinesis_20131202.* to kinesis-local and DynamoDB_20120810.* to dynalite, and accepts and discards CloudWatch PutMetricData",
			http.StatusNotImplemented)
	}
}
