package chaos

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Produced is one record the stream acknowledged.
type Produced struct {
	Key     string
	Counter int64
	Shard   string
	Seq     string
	T       int64 // Now() when the acknowledgement arrived
}

// producer writes records carrying a per-key counter: each record's data
// is "key counter" and its partition key is the key. A key's next counter
// is sent only once the previous one was acknowledged (a failed entry is
// sent again, alone for its key), and one PutRecords call carries at most
// one record per key, so for every key the stream holds the counters in
// increasing order: a consumer that sees a key's counter go down has
// reordered it.
type producer struct {
	kc     *kinesis.Client
	stream string
	keys   []string
	rate   int // records per second

	mu      sync.Mutex
	next    map[string]int64 // the counter each key sends next
	retry   map[string]bool  // keys whose record next[key] failed and goes again
	acked   []Produced
	errs    int // failed calls and failed entries
	lastErr error
}

func newProducer(kc *kinesis.Client, stream string, keys, rate int) *producer {
	p := &producer{kc: kc, stream: stream, rate: rate, next: map[string]int64{}, retry: map[string]bool{}}
	for i := range keys {
		k := fmt.Sprintf("key-%03d", i)
		p.keys = append(p.keys, k)
		p.next[k] = 1
	}
	return p
}

// run produces, in a call every tick, until stop is closed (the call in
// flight then completes, so every record that landed is acknowledged) or
// ctx ends.
func (p *producer) run(ctx context.Context, stop <-chan struct{}) {
	const tick = 100 * time.Millisecond
	perTick := max(1, p.rate*int(tick)/int(time.Second))
	t := time.NewTicker(tick)
	defer t.Stop()
	cursor := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-t.C:
		}
		// Keys whose last record failed go first, then the next keys in
		// turn; never one key twice in a call.
		var batch []string
		inBatch := map[string]bool{}
		p.mu.Lock()
		for _, k := range p.keys {
			if p.retry[k] && len(batch) < perTick {
				batch = append(batch, k)
				inBatch[k] = true
			}
		}
		for i := 0; i < len(p.keys) && len(batch) < perTick; i++ {
			k := p.keys[(cursor+i)%len(p.keys)]
			if !inBatch[k] {
				batch = append(batch, k)
				inBatch[k] = true
			}
		}
		cursor = (cursor + perTick) % len(p.keys)
		entries := make([]types.PutRecordsRequestEntry, len(batch))
		counters := make([]int64, len(batch))
		for i, k := range batch {
			counters[i] = p.next[k]
			entries[i] = types.PutRecordsRequestEntry{
				PartitionKey: aws.String(k),
				Data:         []byte(k + " " + strconv.FormatInt(counters[i], 10)),
			}
		}
		p.mu.Unlock()

		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, err := p.kc.PutRecords(callCtx, &kinesis.PutRecordsInput{StreamName: aws.String(p.stream), Records: entries})
		cancel()
		now := Now()
		p.mu.Lock()
		if err != nil || len(out.Records) != len(batch) {
			// Whether any of them landed is unknown: each goes again
			// with the same counter. A record that did land is then in
			// the stream twice, with two sequence numbers; the verifier
			// counts (key, counter) pairs, so that is no loss and no
			// reordering.
			p.errs++
			p.lastErr = err
			for _, k := range batch {
				p.retry[k] = true
			}
		} else {
			for i, r := range out.Records {
				k := batch[i]
				if r.ErrorCode != nil {
					p.errs++
					p.retry[k] = true
					continue
				}
				p.acked = append(p.acked, Produced{Key: k, Counter: counters[i], Shard: aws.ToString(r.ShardId), Seq: aws.ToString(r.SequenceNumber), T: now})
				p.next[k]++
				delete(p.retry, k)
			}
		}
		p.mu.Unlock()
	}
}

// snapshot returns the records acknowledged so far and the failures.
func (p *producer) snapshot() ([]Produced, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Produced(nil), p.acked...), p.errs
}
