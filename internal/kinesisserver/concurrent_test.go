package kinesisserver

import (
	"flag"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// TestConcurrentSubscriptionsOneClient runs subscriptions to every shard
// at once on one client, with each decoder: under -race this shows that
// neither shares state between subscriptions (the SDK's protocol, used
// without SDKSubscribeToShardOption, does).
func TestConcurrentSubscriptionsOneClient(t *testing.T) {
	opts := append(decoders, struct {
		name string
		opt  func(*kinesis.Options)
	}{"sdk-shared-protocol", func(*kinesis.Options) {}})
	for _, dec := range opts {
		if dec.name == "sdk-shared-protocol" && !*sharedProtocol {
			continue
		}
		t.Run(dec.name, func(t *testing.T) {
			s := start(t, Config{Shards: 4, RecordsPerCall: 20, RecordSize: 200, SubscribeInterval: -1})
			c := h2Client(s)
			arn := register(t, c, s, "app")
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for _, shard := range s.Shards() {
				wg.Go(func() {
					out, err := subscribe(t, c, arn, shard, trim, dec.opt)
					if err != nil {
						errs <- err
						return
					}
					defer out.GetStream().Close()
					n := 0
					for range out.GetStream().Events() {
						if n++; n == 50 {
							return
						}
					}
					errs <- fmt.Errorf("%s: %d events, err %v", shard, n, out.GetStream().Err())
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

var sharedProtocol = flag.Bool("shared-protocol", false, "also run concurrent subscriptions through the SDK's shared protocol (a data race in the SDK: -race fails)")
