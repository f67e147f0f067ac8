package main

import (
	"strconv"
	"strings"
)

// Lease keys: the one place in this command that knows their shapes
// (internal/leasekey, once it exists, should replace this file). A
// single-stream lease is keyed by its shard id; a Java multi-stream lease
// by account:streamName:creationEpoch:shardId.

// leaseKey is a parsed lease key.
type leaseKey struct {
	Multi   bool   `json:"multi_stream"`
	Account string `json:"account,omitempty"`
	Stream  string `json:"stream,omitempty"`
	Epoch   int64  `json:"creation_epoch,omitempty"`
	ShardID string `json:"shard_id"`
}

// parseLeaseKey reads a lease key. A key with three colons whose account
// is 12 digits and whose epoch is a number is multi-stream; anything else
// is a single-stream shard id.
func parseLeaseKey(key string) leaseKey {
	parts := strings.Split(key, ":")
	if len(parts) == 4 && parts[1] != "" && parts[3] != "" && isDigits(parts[0]) && len(parts[0]) == 12 {
		if epoch, err := strconv.ParseInt(parts[2], 10, 64); err == nil && epoch >= 0 {
			return leaseKey{Multi: true, Account: parts[0], Stream: parts[1], Epoch: epoch, ShardID: parts[3]}
		}
	}
	return leaseKey{ShardID: key}
}

// streamID is the multi-stream identifier (account:stream:epoch), or "".
func (k leaseKey) streamID() string {
	if !k.Multi {
		return ""
	}
	return k.Account + ":" + k.Stream + ":" + strconv.FormatInt(k.Epoch, 10)
}

// leaseKeyFor is the key of the lease for shardID that this command
// writes (import): the shard id itself, since Shardwise's leases are
// single-stream.
func leaseKeyFor(shardID string) string { return shardID }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
