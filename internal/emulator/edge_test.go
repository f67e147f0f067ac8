package emulator

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// seen is what a fake backend received.
type seen struct {
	method, uri, host, target, auth, custom, body string
}

// fakeBackend answers every request with its name and reports what it got.
func fakeBackend(t *testing.T, name string, got chan<- seen) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.RequestURI, r.Host, r.Header.Get("X-Amz-Target"), r.Header.Get("Authorization"), r.Header.Get("X-Custom"), string(b)}
		w.Header().Set("X-Backend", name)
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// testClient is an HTTP client of the test's own: no connection pool is
// shared with other tests (http.DefaultClient's idle connections to an
// edge an earlier test closed must not meet this test's requests).
func testClient(t *testing.T) *http.Client {
	tr := &http.Transport{Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func startTestEdge(t *testing.T, env Env) *Edge {
	t.Helper()
	e, err := StartEdge(env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if !strings.HasPrefix(e.URL(), "http://127.0.0.1:") {
		t.Fatalf("edge at %s, want 127.0.0.1", e.URL())
	}
	return e
}

func TestEdgeRoutesByTargetAndPreservesTheRequest(t *testing.T) {
	got := make(chan seen, 1)
	kin := fakeBackend(t, "kinesis", got)
	ddb := fakeBackend(t, "dynamodb", got)
	e := startTestEdge(t, Env{Kinesis: kin.URL, DynamoDB: ddb.URL})

	for _, tc := range []struct{ target, backend string }{
		{"Kinesis_20131202.GetRecords", "kinesis"},
		{"DynamoDB_20120810.UpdateItem", "dynamodb"},
	} {
		body := `{"n":"` + tc.target + `"}`
		req, _ := http.NewRequest(http.MethodPost, e.URL()+"/some/path?x=1&y=2", strings.NewReader(body))
		req.Host = "localhost.localstack.cloud:4566"
		req.Header.Set("X-Amz-Target", tc.target)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/x")
		req.Header.Set("X-Custom", "kept")
		resp, err := testClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(answer) != tc.backend || resp.Header.Get("X-Backend") != tc.backend {
			t.Errorf("%s: answered %d %q by %q, want 200 from %s", tc.target, resp.StatusCode, answer, resp.Header.Get("X-Backend"), tc.backend)
		}
		want := seen{http.MethodPost, "/some/path?x=1&y=2", "localhost.localstack.cloud:4566", tc.target, "AWS4-HMAC-SHA256 Credential=test/x", "kept", body}
		if s := <-got; s != want {
			t.Errorf("%s: backend got %+v, want %+v", tc.target, s, want)
		}
	}
	if s := e.Stats(); s != (EdgeStats{Kinesis: 1, DynamoDB: 1}) {
		t.Errorf("stats %+v", s)
	}
}

func TestEdgeStreamsResponses(t *testing.T) {
	release := make(chan struct{})
	kin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "second\n")
	}))
	t.Cleanup(kin.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	e := startTestEdge(t, Env{Kinesis: kin.URL, DynamoDB: kin.URL})
	req, _ := http.NewRequest(http.MethodPost, e.URL()+"/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.SubscribeToShard")
	resp, err := testClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	// The first line arrives while the backend still holds the response
	// open: the edge does not buffer it.
	if line, err := rd.ReadString('\n'); err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(release)
	if line, err := rd.ReadString('\n'); err != nil || line != "second\n" {
		t.Fatalf("second line %q, %v", line, err)
	}
}

func TestEdgeAcceptsPutMetricDataAndRefusesTheRest(t *testing.T) {
	got := make(chan seen, 1)
	kin := fakeBackend(t, "kinesis", got)
	e := startTestEdge(t, Env{Kinesis: kin.URL, DynamoDB: kin.URL})
	ctx := context.Background()
	cw := cloudwatch.NewFromConfig(AWSConfig(), func(o *cloudwatch.Options) {
		o.BaseEndpoint = aws.String(e.URL())
		o.RetryMaxAttempts = 1
	})
	_, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
		Namespace:  aws.String("edge-test"),
		MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("RecordsProcessed"), Value: aws.Float64(3), Unit: cwtypes.StandardUnitCount}},
	})
	if err != nil {
		t.Fatalf("PutMetricData through the edge: %v", err)
	}
	_, err = cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{})
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusNotImplemented {
		t.Errorf("ListMetrics: %v, want HTTP 501", err)
	}
	// A DynamoDB Streams call has no emulator: 501 too, naming it.
	req, _ := http.NewRequest(http.MethodPost, e.URL()+"/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "DynamoDBStreams_20120810.ListStreams")
	resp, err := testClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(string(b), "DynamoDBStreams_20120810.ListStreams") {
		t.Errorf("unrouted target: %d %q", resp.StatusCode, b)
	}
	if s := e.Stats(); s != (EdgeStats{PutMetricData: 1, Unrouted: 2}) {
		t.Errorf("stats %+v", s)
	}
	select {
	case s := <-got:
		t.Errorf("a backend received %+v", s)
	default:
	}
}

func TestEdgeBadGatewayWhenAnEmulatorIsDown(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	e := startTestEdge(t, Env{Kinesis: down.URL, DynamoDB: down.URL})
	kc := KinesisClient(e.URL())
	_, err := kc.ListStreams(context.Background(), &kinesis.ListStreamsInput{}, func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusBadGateway {
		t.Errorf("ListStreams with kinesis-local down: %v, want HTTP 502", err)
	}
}

// TestEdgeServesTheEmulators drives the real emulators through an edge
// with one endpoint for both clients, and pins down what kinesis-local
// reports that the README's LocalStack section relies on.
func TestEdgeServesTheEmulators(t *testing.T) {
	env := Require(t)
	e := startTestEdge(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc := KinesisClient(e.URL())
	dc := DynamoDBClient(e.URL())

	if _, err := dc.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("DynamoDB through the edge: %v", err)
	}
	stream := "edge-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	if err := CreateStream(ctx, kc, stream, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String("k"), Data: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String(stream), ShardId: shards.Shards[0].ShardId, ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Read the five records one by one. kinesis-mock (LocalStack's Kinesis
	// engine) measures MillisBehindLatest from the returned record to the
	// newest record of the shard, not to the present as Kinesis does: it is
	// 0 as soon as a reader has the newest record, however old that is. The
	// README's LocalStack section says so.
	type read struct {
		arrival time.Time
		mbl     int64
	}
	var reads []read
	iter := it.ShardIterator
	for len(reads) < 5 {
		out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Records) != 1 {
			t.Fatalf("GetRecords returned %d records after %d, want 1", len(out.Records), len(reads))
		}
		if out.MillisBehindLatest == nil {
			t.Fatal("no MillisBehindLatest")
		}
		reads = append(reads, read{aws.ToTime(out.Records[0].ApproximateArrivalTimestamp), *out.MillisBehindLatest})
		iter = out.NextShardIterator
	}
	newest := reads[4].arrival
	for i, r := range reads {
		want := newest.Sub(r.arrival).Milliseconds()
		if d := r.mbl - want; d < -2 || d > 2 {
			t.Errorf("record %d: MillisBehindLatest %d, want %d (its distance to the newest record)", i, r.mbl, want)
		}
	}
	if reads[4].mbl != 0 {
		t.Errorf("MillisBehindLatest %d at the newest record, want 0", reads[4].mbl)
	}
	if s := e.Stats(); s.Kinesis < 5 || s.DynamoDB < 1 || s.Unrouted != 0 {
		t.Errorf("stats %+v", s)
	}
	var apiErr smithy.APIError
	if _, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream + "-missing")}); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ResourceNotFoundException" {
		t.Errorf("an emulator's error passes through unchanged: got %v", err)
	}
}
