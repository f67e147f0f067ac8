package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The peers' table formats, as their sources write them (facts read from
// vmware/vmware-go-kcl-v2 clientlibrary/checkpoint and
// harlow/kinesis-consumer store/ddb). Both resume a shard after the
// record whose sequence number they stored (AFTER_SEQUENCE_NUMBER), which
// is what a Shardwise checkpoint at that sequence number means too. A
// checkpoint taken inside a KPL aggregate is stored by both as the
// aggregate's sequence number with no sub-record index, so it imports as
// sub-sequence 0: Shardwise then delivers the rest of that one aggregate
// again (at least once, never a record skipped).

// vmware-go-kcl-v2's checkpoint table: hash key ShardID (S); AssignedTo
// (S, the owner; removed when a worker releases the lease), LeaseTimeout
// (S, RFC 3339 with nanoseconds, UTC: when the owner's lease expires; its
// owner renews it ahead of time), Checkpoint (S: the last sequence number
// processed, or SHARD_END), ParentShardId (S), ClaimRequest (S, lease
// stealing).
const (
	vmwareShardID      = "ShardID"
	vmwareAssignedTo   = "AssignedTo"
	vmwareLeaseTimeout = "LeaseTimeout"
	vmwareCheckpoint   = "Checkpoint"
	vmwareParent       = "ParentShardId"
	vmwareClaimRequest = "ClaimRequest"
)

type vmwarePeer struct{ table string }

func (vmwarePeer) liveness() string {
	return "vmware-go-kcl-v2 owners (a lease with AssignedTo set and LeaseTimeout in the future, by this host's clock, is live)"
}

// defaultObserve: vmware workers renew their leases well within their
// failover time (tens of seconds by default), and checkpoint as they
// process.
func (vmwarePeer) defaultObserve() time.Duration { return 10 * time.Second }

func (p vmwarePeer) read(ctx context.Context, client *dynamodb.Client, now time.Time) ([]peerCheckpoint, []oddItem, error) {
	items, err := scanAll(ctx, client, p.table)
	if err != nil {
		return nil, nil, err
	}
	var out []peerCheckpoint
	var odd []oddItem
	for _, item := range items {
		c, err := vmwareItem(item, now)
		if err != nil {
			odd = append(odd, oddItem{Key: str(item, vmwareShardID), Reason: err.Error()})
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ShardID < out[j].ShardID })
	return out, odd, nil
}

func vmwareItem(item map[string]types.AttributeValue, now time.Time) (peerCheckpoint, error) {
	var c peerCheckpoint
	var err error
	get := func(name string) string {
		v, e := attrS(item, name)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	c.ShardID = get(vmwareShardID)
	c.Owner = get(vmwareAssignedTo)
	timeout := get(vmwareLeaseTimeout)
	c.Checkpoint = get(vmwareCheckpoint)
	parent := get(vmwareParent)
	claim := get(vmwareClaimRequest)
	switch {
	case err != nil:
		return c, err
	case c.ShardID == "":
		return c, fmt.Errorf("no %s", vmwareShardID)
	}
	if err := validCheckpoint(c.Checkpoint); err != nil {
		return c, err
	}
	if parent != "" {
		c.Parents = []string{parent}
	}
	if c.Owner != "" {
		t, perr := time.Parse(time.RFC3339Nano, timeout)
		switch {
		case timeout == "" || perr != nil:
			// Owned with no readable expiry: it cannot be told expired.
			c.Live, c.Why = true, fmt.Sprintf("owned by %s with %s %q", c.Owner, vmwareLeaseTimeout, timeout)
		case t.After(now):
			c.Live, c.Why = true, fmt.Sprintf("owned by %s until %s (%s from now)", c.Owner, t.UTC().Format(time.RFC3339), t.Sub(now).Round(time.Second))
		}
	}
	c.fingerprint = strings.Join([]string{c.Owner, timeout, c.Checkpoint, claim}, "\x00")
	return c, nil
}

// harlow/kinesis-consumer's DynamoDB store: hash key namespace (S,
// "<appName>-<streamName>"), range key shard_id (S), sequence_number (S:
// the last sequence number processed). It has no owners and no
// timestamps; a running consumer writes its checkpoints once per flush
// interval (1 minute by default) when they moved.
const (
	harlowNamespace = "namespace"
	harlowShardID   = "shard_id"
	harlowSequence  = "sequence_number"
)

type harlowPeer struct{ table, namespace string }

func (harlowPeer) liveness() string {
	return "harlow/kinesis-consumer keeps no owners or timestamps: the only sign of a live consumer is a checkpoint that moves (a consumer on an idle stream writes nothing and cannot be seen)"
}

// defaultObserve: the store flushes every minute by default.
func (harlowPeer) defaultObserve() time.Duration { return 70 * time.Second }

func (p harlowPeer) read(ctx context.Context, client *dynamodb.Client, _ time.Time) ([]peerCheckpoint, []oddItem, error) {
	items, err := scanAll(ctx, client, p.table)
	if err != nil {
		return nil, nil, err
	}
	if p.namespace == "" {
		seen := map[string]bool{}
		var names []string
		for _, item := range items {
			if ns := str(item, harlowNamespace); ns != "" && !seen[ns] {
				seen[ns] = true
				names = append(names, ns)
			}
		}
		sort.Strings(names)
		return nil, nil, usagef("-namespace is required with -from harlow (APPNAME-STREAMNAME); the table holds: %s", dash(strings.Join(names, ", ")))
	}
	var out []peerCheckpoint
	var odd []oddItem
	for _, item := range items {
		if str(item, harlowNamespace) != p.namespace {
			continue
		}
		shard, err1 := attrS(item, harlowShardID)
		seq, err2 := attrS(item, harlowSequence)
		if err := firstErr(err1, err2); err != nil {
			odd = append(odd, oddItem{Key: str(item, harlowShardID), Reason: err.Error()})
			continue
		}
		if shard == "" {
			odd = append(odd, oddItem{Reason: "no " + harlowShardID})
			continue
		}
		if err := validCheckpoint(seq); err != nil {
			odd = append(odd, oddItem{Key: shard, Reason: err.Error()})
			continue
		}
		out = append(out, peerCheckpoint{ShardID: shard, Checkpoint: seq, fingerprint: seq})
	}
	if len(out) == 0 && len(odd) == 0 {
		return nil, nil, fmt.Errorf("no checkpoints of namespace %q in table %q", p.namespace, p.table)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ShardID < out[j].ShardID })
	return out, odd, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
