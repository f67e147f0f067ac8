package main

import "github.com/shardwise/shardwise/internal/leasekey"

// splitLeaseKey says which stream a lease key belongs to and its shard id:
// a Java multi-stream key (account:streamName:creationEpoch:shardId) gives
// the stream identifier, a single-stream key (the bare shard id) and a
// key that is neither give "".
func splitLeaseKey(key string) (stream, shardID string) {
	if k, err := leasekey.Parse(key); err == nil && k.Multi {
		return k.Stream.String(), k.ShardID
	}
	return "", key
}
