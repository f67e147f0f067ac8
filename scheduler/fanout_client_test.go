package scheduler

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

// builtKinesisOptions is the options of the Kinesis client New builds
// from awsCfg.
func builtKinesisOptions(t *testing.T, awsCfg *aws.Config, fanOut bool) kinesis.Options {
	t.Helper()
	cfg := validConfig()
	cfg.AWSConfig = awsCfg
	cfg.FanOut = fanOut
	cfg.Stores = leases.NewMemoryStores()
	s, err := New(cfg, consumer.ProcessorFactoryFunc(func(string) consumer.Processor { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	c, ok := s.kinesis.(*kinesis.Client)
	if !ok {
		t.Fatalf("built Kinesis client is %T", s.kinesis)
	}
	return c.Options()
}

func streamBuffer(t *testing.T, hc aws.HTTPClient) int {
	t.Helper()
	b, ok := hc.(*awshttp.BuildableClient)
	if !ok {
		t.Fatalf("HTTP client is %T, want the SDK's buildable client", hc)
	}
	tr := b.GetTransport()
	if tr.HTTP2 == nil {
		return 0
	}
	return tr.HTTP2.MaxReceiveBufferPerStream
}

// A fan-out worker that builds its Kinesis client from AWSConfig gives
// each subscription a small HTTP/2 receive window, whether AWSConfig has
// no HTTP client or the SDK's buildable one (what LoadDefaultConfig
// sets), and keeps a window the user set; a polling worker's client is
// left as the SDK builds it, and an HTTP client of the user's own type is
// used as given.
func TestFanOutClientHasSmallStreamBuffer(t *testing.T) {
	if got := streamBuffer(t, builtKinesisOptions(t, &aws.Config{Region: "us-east-1"}, true).HTTPClient); got != fanOutStreamBuffer {
		t.Fatalf("no HTTP client given: stream buffer %d, want %d", got, fanOutStreamBuffer)
	}
	buildable := &aws.Config{Region: "us-east-1", HTTPClient: awshttp.NewBuildableClient()}
	if got := streamBuffer(t, builtKinesisOptions(t, buildable, true).HTTPClient); got != fanOutStreamBuffer {
		t.Fatalf("the SDK's buildable client: stream buffer %d, want %d", got, fanOutStreamBuffer)
	}
	if got := streamBuffer(t, buildable.HTTPClient); got != 0 {
		t.Fatalf("the user's buildable client was modified: stream buffer %d", got)
	}
	mine := &aws.Config{Region: "us-east-1", HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: 1 << 20}
	})}
	if got := streamBuffer(t, builtKinesisOptions(t, mine, true).HTTPClient); got != 1<<20 {
		t.Fatalf("a window set by the user: stream buffer %d, want it kept (%d)", got, 1<<20)
	}
	if got := streamBuffer(t, builtKinesisOptions(t, &aws.Config{Region: "us-east-1"}, false).HTTPClient); got != 0 {
		t.Fatalf("polling: stream buffer %d, want the SDK's client untouched", got)
	}
	own := &http.Client{}
	if got := builtKinesisOptions(t, &aws.Config{Region: "us-east-1", HTTPClient: own}, true).HTTPClient; got != own {
		t.Fatalf("an HTTP client of the user's own type was replaced by %T", got)
	}
}

// The client with the small window still negotiates HTTP/2 over TLS, as
// SubscribeToShard requires: the SDK's default transport forces it
// despite its own dialer and TLS config, and the window setting keeps it.
func TestFanOutClientNegotiatesHTTP2OverTLS(t *testing.T) {
	protos := make(chan int, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case protos <- r.ProtoMajor:
		default:
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte(`{"StreamDescriptionSummary":{"StreamName":"orders"}}`))
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	// The test server's certificate is trusted, on the SDK's buildable
	// client as a user would configure one.
	trusting := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.TLSClientConfig.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	})
	o := builtKinesisOptions(t, &aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, HTTPClient: trusting}, true)
	if got := streamBuffer(t, o.HTTPClient); got != fanOutStreamBuffer {
		t.Fatalf("stream buffer %d, want %d", got, fanOutStreamBuffer)
	}
	o.BaseEndpoint = aws.String(srv.URL)
	if _, err := kinesis.New(o).DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	if p := <-protos; p != 2 {
		t.Fatalf("the request came over HTTP/%d, want HTTP/2", p)
	}
}
