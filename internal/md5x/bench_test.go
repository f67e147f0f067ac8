package md5x

import (
	"crypto/md5"
	"fmt"
	"math/rand/v2"
	"testing"
)

func benchMsgs(count, size int) [][]byte {
	r := rand.New(rand.NewPCG(uint64(count), uint64(size)))
	msgs := make([][]byte, count)
	for i := range msgs {
		msgs[i] = randMsg(r, size)
	}
	return msgs
}

// partitionKeys returns n 12-byte keys shaped like "pk-42-123456".
func partitionKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("pk-%02d-%06d", i%100, 123456+i)
	}
	return keys
}

// benchSum hashes sets[0], sets[1], ... in turn, one set per iteration
// (several sets keep the data out of the caches; see
// BenchmarkAggregatesCold). All sets have the same sizes.
func benchSum(b *testing.B, sets [][][]byte, generic bool) {
	forceGeneric = generic
	defer func() { forceGeneric = false }()
	out := make([][16]byte, len(sets[0]))
	benchLoop(b, sets, func(msgs [][]byte) { SumMany(out, msgs) })
}

func benchCrypto(b *testing.B, sets [][][]byte) {
	out := make([][16]byte, len(sets[0]))
	benchLoop(b, sets, func(msgs [][]byte) {
		for i, m := range msgs {
			out[i] = md5.Sum(m)
		}
	})
}

func benchLoop(b *testing.B, sets [][][]byte, sum func([][]byte)) {
	total := 0
	for _, m := range sets[0] {
		total += len(m)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		sum(sets[i%len(sets)])
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(sets[0])), "ns/msg")
}

func benchSet(b *testing.B, sets ...[][]byte) {
	b.Run("md5x", func(b *testing.B) {
		if !useSIMD {
			b.Skip("no AVX-512")
		}
		benchSum(b, sets, false)
	})
	b.Run("crypto-md5", func(b *testing.B) { benchCrypto(b, sets) })
}

func BenchmarkAggregates100x10KB(b *testing.B) { benchSet(b, benchMsgs(100, 10<<10)) }

func Benchmark1000x1KB(b *testing.B) { benchSet(b, benchMsgs(1000, 1<<10)) }

func BenchmarkPartitionKeys100x12B(b *testing.B) {
	keys := partitionKeys(100)
	msgs := make([][]byte, len(keys))
	for i, k := range keys {
		msgs[i] = []byte(k)
	}
	benchSet(b, msgs)
	b.Run("md5x-strings", func(b *testing.B) {
		if !useSIMD {
			b.Skip("no AVX-512")
		}
		out := make([][16]byte, len(keys))
		b.SetBytes(int64(12 * len(keys)))
		b.ReportAllocs()
		for b.Loop() {
			SumStrings(out, keys)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(keys)), "ns/msg")
	})
}

// BenchmarkHugeAndTiny is one 1 MiB message and a hundred 20-byte ones.
func BenchmarkHugeAndTiny(b *testing.B) {
	msgs := append(benchMsgs(1, 1<<20), benchMsgs(100, 20)...)
	benchSet(b, msgs)
}

// BenchmarkAggregatesCold hashes sets of 100 x 10 KB messages that are not
// in this core's caches, as a consumer hashes a response that was just
// decoded, often on another core: each iteration takes the next of 32 sets
// (32 MB, more than any core's L2). The kernel's prefetching is for this
// case (asm_gen.go -prefetch): on the development machine (Intel Xeon, 2 MB
// of L2 a core) it ran at 3.3 to 5.9 GB/s without it, 7.6 to 8.2 GB/s with
// it, and 9 GB/s with the data in L2 (BenchmarkAggregates100x10KB).
func BenchmarkAggregatesCold(b *testing.B) {
	sets := make([][][]byte, 32)
	for i := range sets {
		sets[i] = benchMsgs(100, 10<<10)
	}
	benchSet(b, sets...)
}
