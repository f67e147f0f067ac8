package main

import "testing"

func TestLeaseStream(t *testing.T) {
	for _, tc := range []struct{ key, stream, shard string }{
		{"shardId-000000000001", "-", "shardId-000000000001"},
		{"123456789012:orders:1700000000:shardId-000000000001", "123456789012:orders:1700000000", "shardId-000000000001"},
		{"a:b", "?", "a:b"},
	} {
		if st, sh := leaseStream(tc.key); st != tc.stream || sh != tc.shard {
			t.Errorf("leaseStream(%q) = %q, %q; want %q, %q", tc.key, st, sh, tc.stream, tc.shard)
		}
	}
}
