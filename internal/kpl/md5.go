package kpl

import "github.com/shardwise/shardwise/internal/md5x"

// sumMany and sumStrings compute MD5 digests of many messages at once:
// out[i] = md5.Sum(msgs[i]) (SIMD across messages where the CPU has it).
var (
	sumMany    = md5x.SumMany
	sumStrings = md5x.SumStrings
)
