package fastdecode

import (
	"io"
	"math/bits"
	"sync"
)

// Response bodies are read into pooled buffers whose capacities are powers
// of two from 64 KiB to 32 MiB (a GetRecords response carries at most
// 10 MB of data, about 13.4 MB of base64). A body is decoded into fresh
// output memory and its buffer goes straight back to the pool, so a buffer
// is never shared with anything a caller holds.
const (
	minClass = 16 // 64 KiB
	maxClass = 25 // 32 MiB
)

// Small classes are sync.Pools. Classes from 4 MiB up keep at most two
// buffers each in a free list instead: a sync.Pool would hold on to every
// buffer of a burst of large responses until two GCs later, which with
// 10 MB records is hundreds of MB of heap above the prefetch bound a user
// configured.
const (
	firstBoundedClass = 22 // 4 MiB
	boundedFree       = 2
)

var (
	bodyPools [firstBoundedClass - minClass]sync.Pool // of *[]byte
	bigFree   [maxClass - firstBoundedClass + 1]chan *[]byte
)

func init() {
	for i := range bigFree {
		bigFree[i] = make(chan *[]byte, boundedFree)
	}
}

// getBuffer returns an empty buffer with room for at least n bytes.
func getBuffer(n int) *[]byte {
	c := max(minClass, bits.Len(uint(max(n, 1)-1)))
	switch {
	case c > maxClass:
		b := make([]byte, 0, n)
		return &b
	case c >= firstBoundedClass:
		select {
		case bp := <-bigFree[c-firstBoundedClass]:
			*bp = (*bp)[:0]
			return bp
		default:
		}
	default:
		if v := bodyPools[c-minClass].Get(); v != nil {
			bp := v.(*[]byte)
			*bp = (*bp)[:0]
			return bp
		}
	}
	b := make([]byte, 0, 1<<c)
	return &b
}

// putBuffer returns a buffer from getBuffer to its pool.
func putBuffer(bp *[]byte) {
	c := bits.Len(uint(cap(*bp))) - 1
	if c < minClass || c > maxClass || cap(*bp) != 1<<c {
		return
	}
	*bp = (*bp)[:0]
	if c >= firstBoundedClass {
		select {
		case bigFree[c-firstBoundedClass] <- bp:
		default: // the free list is full: let the GC have it
		}
		return
	}
	bodyPools[c-minClass].Put(bp)
}

// maxSizeHint caps how much a Content-Length header may make us reserve up
// front; a larger body still reads, growing as it goes.
const maxSizeHint = 1 << maxClass

// readBody reads r to its end into a pooled buffer, sized by sizeHint (the
// Content-Length, or -1) when there is one. On a read error it returns what
// it read so far together with the error; the buffer must be given back
// with putBuffer either way.
func readBody(r io.Reader, sizeHint int64) (*[]byte, error) {
	want := 64 << 10
	if sizeHint >= 0 && sizeHint < maxSizeHint {
		want = int(sizeHint) + 1 // +1: the read that sees EOF needs room
	}
	bp := getBuffer(want)
	b := *bp
	for {
		if len(b) == cap(b) {
			nbp := getBuffer(2 * cap(b))
			*nbp = append(*nbp, b...)
			*bp = b
			putBuffer(bp)
			bp, b = nbp, *nbp
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			*bp = b
			if err == io.EOF {
				return bp, nil
			}
			return bp, err
		}
	}
}
