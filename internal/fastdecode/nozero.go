package fastdecode

import (
	"strings"
	"unsafe"
)

// makeNoZero returns a new []byte of length and capacity n whose contents
// are not zeroed first: for a buffer that is about to be overwritten
// whole, such as the decoded Data of a response (about 1 MB an event for a
// busy shard, zeroed for nothing by make).
//
// The memory comes from strings.Builder.Grow, the standard library's one
// public way to allocate bytes without clearing them. One byte is written
// through the Builder so that its String has a data pointer; the slice
// returned starts after that byte, so no string ever covers the bytes the
// caller writes. The Builder and its string are dropped at once; the slice
// keeps the allocation alive.
//
// Callers must write every byte they expose: Decode hands out only the
// part of each record's slot that base64 decoding wrote (decodeData clips
// each Data to what was written).
func makeNoZero(n int) []byte {
	if n == 0 {
		return nil
	}
	var sb strings.Builder
	sb.Grow(n + 1)
	sb.WriteByte(0)
	p := unsafe.Add(unsafe.Pointer(unsafe.StringData(sb.String())), 1)
	return unsafe.Slice((*byte)(p), n)
}
