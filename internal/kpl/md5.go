package kpl

import (
	"crypto/md5"
	"unsafe"
)

// sumMany and sumStrings compute MD5 digests of many messages:
// out[i] = md5.Sum(msgs[i]).
var (
	sumMany = func(out [][md5.Size]byte, msgs [][]byte) {
		for i, m := range msgs {
			out[i] = md5.Sum(m)
		}
	}
	sumStrings = func(out [][md5.Size]byte, msgs []string) {
		for i, m := range msgs {
			out[i] = md5.Sum(unsafe.Slice(unsafe.StringData(m), len(m)))
		}
	}
)
