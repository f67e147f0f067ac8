// Package hashkey owns Kinesis hash-key arithmetic: the unsigned 128-bit
// keys that partition keys map to, inclusive key ranges as shards report
// them, and the audits that resharding needs (holes in a set of ranges,
// splitting a range into even parts).
//
// It is a leaf: it imports only the standard library, never math/big (a
// Key is two machine words so range checks on the hot path cost a couple of
// comparisons and no allocation), and nothing else in Shardwise.
package hashkey
