package kinesistest

import (
	"fmt"
	"regexp"
	"strconv"
)

// Sequence numbers look like the service's: 56 decimal digits, far beyond
// int64, so code that parses them as integers fails here and not first in
// production. Layout (digits):
//
//	"49" | event counter (30) | stream incarnation (12) | shard index (12)
//
// The event counter is one per Fake and is taken for every record put and
// every shard opened or closed, so sequence numbers grow within a shard,
// across shards and across a reshard (a child's numbers are above its
// parents'). Because the counter leads, numeric order is counter order. The
// trailing stream and shard fields let GetShardIterator refuse a number that
// came from another shard or from an earlier stream of the same name, as the
// service does. Consecutive records of a shard differ by at least 10^24, so
// code that assumes "next = previous + 1" fails too.
const (
	seqLen        = 56
	seqPrefix     = "49"
	seqCounterLen = 30
	seqStreamLen  = 12
	seqShardLen   = 12
)

// seqPattern is the service's pattern for StartingSequenceNumber.
var seqPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,128})$`)

type seqParts struct {
	counter     uint64
	incarnation uint64
	shardIndex  uint64
}

func formatSeq(counter, incarnation uint64, shardIndex int) string {
	return fmt.Sprintf("%s%0*d%0*d%0*d", seqPrefix,
		seqCounterLen, counter, seqStreamLen, incarnation, seqShardLen, shardIndex)
}

// parseSeq splits a sequence number this package produced. ok is false for
// anything else, including well-formed numbers from another source.
func parseSeq(s string) (p seqParts, ok bool) {
	if len(s) != seqLen || s[:len(seqPrefix)] != seqPrefix {
		return p, false
	}
	rest := s[len(seqPrefix):]
	var err error
	if p.counter, err = strconv.ParseUint(rest[:seqCounterLen], 10, 64); err != nil {
		return p, false
	}
	rest = rest[seqCounterLen:]
	if p.incarnation, err = strconv.ParseUint(rest[:seqStreamLen], 10, 64); err != nil {
		return p, false
	}
	if p.shardIndex, err = strconv.ParseUint(rest[seqStreamLen:], 10, 64); err != nil {
		return p, false
	}
	return p, true
}
