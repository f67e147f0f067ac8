package emulator

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// probe is the request that tells an emulator is serving: a cheap list
// call that answers 200 once the server is up.
type probe struct {
	target      string // X-Amz-Target
	contentType string
	service     string // SigV4 service name in the credential scope
}

var (
	kinesisProbe  = probe{target: "Kinesis_20131202.ListStreams", contentType: "application/x-amz-json-1.1", service: "kinesis"}
	dynamoDBProbe = probe{target: "DynamoDB_20120810.ListTables", contentType: "application/x-amz-json-1.0", service: "dynamodb"}
)

// probeClient talks to 127.0.0.1 only: no proxy, no connection reuse (a
// kept-alive connection to a half-started server tells nothing).
var probeClient = &http.Client{
	Transport: &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true,
		DialContext:       (&net.Dialer{Timeout: time.Second}).DialContext,
	},
	Timeout: 3 * time.Second,
}

// do sends the probe to endpoint and returns nil on HTTP 200, else an
// error describing what came back.
func (p probe) do(ctx context.Context, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader("{}"))
	if err != nil {
		return err
	}
	// The emulators accept any signature but want the headers to look like
	// SigV4 (kinesis-local insists on a date header).
	now := time.Now().UTC()
	req.Header.Set("Content-Type", p.contentType)
	req.Header.Set("X-Amz-Target", p.target)
	req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
	req.Header.Set("Authorization", fmt.Sprintf(
		"AWS4-HMAC-SHA256 Credential=AKIDSHARDWISELOCAL/%s/%s/%s/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=%s",
		now.Format("20060102"), Region, p.service, strings.Repeat("0", 64)))
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s: %s", p.target, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// freePorts returns n distinct TCP ports that were free on 127.0.0.1 a
// moment ago. All n listeners stay open until the last is chosen so the
// kernel cannot hand out one port twice; another process may still take a
// port before the emulator binds it, which Start detects and retries.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("emulator: choosing a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
