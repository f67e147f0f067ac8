package md5x

import (
	"bytes"
	"crypto/md5"
	"math/rand/v2"
	"testing"

	"github.com/shardwise/shardwise/internal/racebuild"
)

// paths runs f once per implementation: the SIMD kernel (when the CPU has
// it) and the forced crypto/md5 fallback.
func paths(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	t.Run("simd", func(t *testing.T) {
		if !useSIMD {
			t.Skip(noSIMDReason())
		}
		f(t)
	})
	t.Run("generic", func(t *testing.T) {
		forceGeneric = true
		defer func() { forceGeneric = false }()
		f(t)
	})
}

// noSIMDReason says why the lane kernel is not in use.
func noSIMDReason() string {
	if puregoBuild {
		return "built with -tags purego: no lane kernel compiled in"
	}
	return "CPU or OS lacks AVX-512 (F+VL with ZMM state enabled); SIMD path not testable here"
}

// TestSIMDAvailable reports which path SumMany takes. A purego build must
// take crypto/md5 whatever the CPU; otherwise TestDetection (amd64) checks
// useSIMD against the CPU flags.
func TestSIMDAvailable(t *testing.T) {
	if puregoBuild && useSIMD {
		t.Fatal("useSIMD=true in a purego build")
	}
	if useSIMD {
		t.Log("useSIMD=true: the AVX-512 lane kernel is in use")
	} else {
		t.Log("useSIMD=false: crypto/md5 only: " + noSIMDReason())
	}
}

// check hashes msgs with SumMany and SumStrings and compares every digest
// with crypto/md5.
func check(t *testing.T, msgs [][]byte) {
	t.Helper()
	out := make([][16]byte, len(msgs)+1)
	canary := [16]byte{1, 2, 3}
	out[len(msgs)] = canary
	SumMany(out, msgs)
	strs := make([]string, len(msgs))
	for i, m := range msgs {
		strs[i] = string(m)
	}
	outS := make([][16]byte, len(msgs))
	SumStrings(outS, strs)
	bad := 0
	for i, m := range msgs {
		want := md5.Sum(m)
		if out[i] != want || outS[i] != want {
			bad++
			if bad <= 5 {
				t.Errorf("msg %d/%d (len %d): SumMany %x SumStrings %x want %x", i, len(msgs), len(m), out[i], outS[i], want)
			}
		}
	}
	if out[len(msgs)] != canary {
		t.Errorf("SumMany wrote past len(msgs)")
	}
	if bad > 5 {
		t.Errorf("... %d wrong digests in total", bad)
	}
}

func randMsg(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestEmpty(t *testing.T) {
	paths(t, func(t *testing.T) {
		SumMany(nil, nil)
		SumStrings(nil, nil)
		check(t, [][]byte{})
		check(t, [][]byte{nil})
		check(t, [][]byte{nil, {}, nil})
		check(t, make([][]byte, 40))
	})
}

func TestEveryLength(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	paths(t, func(t *testing.T) {
		var msgs [][]byte
		for n := 0; n <= 200; n++ {
			msgs = append(msgs, randMsg(r, n))
		}
		check(t, msgs)
		// Reversed, so lanes finish in a different order.
		rev := make([][]byte, len(msgs))
		for i := range msgs {
			rev[i] = msgs[len(msgs)-1-i]
		}
		check(t, rev)
		// Each length alone and in pairs (below and at the SIMD threshold).
		for n := 0; n <= 200; n++ {
			check(t, msgs[n:n+1])
			if n < 200 {
				check(t, msgs[n:n+2])
			}
		}
	})
}

func TestBoundaries(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	paths(t, func(t *testing.T) {
		var msgs [][]byte
		for _, b := range []int{55, 56, 63, 64, 119, 120, 127, 128, 183, 184, 191, 192, 1024} {
			for d := -2; d <= 2; d++ {
				msgs = append(msgs, randMsg(r, b+d))
			}
		}
		check(t, msgs)
		// All identical lengths: every lane switches phase at once.
		for _, n := range []int{0, 55, 56, 63, 64, 119, 120, 128} {
			same := make([][]byte, 37)
			for i := range same {
				same[i] = randMsg(r, n)
			}
			check(t, same)
		}
	})
}

func TestCounts(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	paths(t, func(t *testing.T) {
		for _, count := range []int{1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 129, 1000} {
			msgs := make([][]byte, count)
			for i := range msgs {
				msgs[i] = randMsg(r, r.IntN(300))
			}
			check(t, msgs)
		}
	})
}

func TestRandomLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	paths(t, func(t *testing.T) {
		for round := 0; round < 4; round++ {
			msgs := make([][]byte, 20+r.IntN(60))
			for i := range msgs {
				msgs[i] = randMsg(r, r.IntN(64<<10+1))
			}
			check(t, msgs)
		}
	})
}

func TestHugeAndTiny(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	huge := randMsg(r, 1<<20+13)
	paths(t, func(t *testing.T) {
		tiny := make([][]byte, 100)
		for i := range tiny {
			tiny[i] = randMsg(r, 1+r.IntN(40))
		}
		check(t, append([][]byte{huge}, tiny...))
		check(t, append(append([][]byte{}, tiny...), huge))
		mid := append(append(append([][]byte{}, tiny[:50]...), huge), tiny[50:]...)
		check(t, mid)
		check(t, [][]byte{huge, tiny[0]})
		check(t, [][]byte{tiny[0], huge, huge, tiny[1]})
	})
}

func TestSharedBackingAndUnaligned(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	buf := randMsg(r, 200000)
	paths(t, func(t *testing.T) {
		// Overlapping and adjacent sub-slices of one array, odd offsets.
		var msgs [][]byte
		off := 1
		for off < len(buf)-5000 {
			n := r.IntN(3000)
			msgs = append(msgs, buf[off:off+n])
			off += 1 + r.IntN(n+1)
		}
		check(t, msgs)
		// Messages ending exactly at the end of the array (and of its
		// capacity), every start alignment.
		var ends [][]byte
		for a := 0; a < 64; a++ {
			ends = append(ends, buf[len(buf)-a-100:len(buf):len(buf)])
			ends = append(ends, buf[len(buf)-a:])
		}
		check(t, ends)
		// Messages that are exactly one whole allocation each.
		exact := make([][]byte, 64)
		for i := range exact {
			exact[i] = randMsg(r, 64*(i%4)+i)
		}
		check(t, exact)
	})
}

func TestConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	msgs := make([][]byte, 300)
	for i := range msgs {
		msgs[i] = randMsg(r, r.IntN(3000))
	}
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for k := 0; k < 20; k++ {
				out := make([][16]byte, len(msgs))
				SumMany(out, msgs[k:])
				for i, m := range msgs[k:] {
					if out[i] != md5.Sum(m) {
						t.Errorf("goroutine %d: wrong digest", g)
						return
					}
				}
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

func TestOutTooShortPanics(t *testing.T) {
	for _, f := range []func(){
		func() { SumMany(make([][16]byte, 1), make([][]byte, 2)) },
		func() { SumStrings(make([][16]byte, 1), make([]string, 2)) },
		func() { SumMany(nil, make([][]byte, 1)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}

func TestAllocs(t *testing.T) {
	if racebuild.Enabled {
		// make test runs this test again without -race.
		t.Skip("under the race detector sync.Pool drops a quarter of the contexts put back")
	}
	r := rand.New(rand.NewPCG(13, 14))
	msgs := make([][]byte, 100)
	strs := make([]string, 100)
	for i := range msgs {
		msgs[i] = randMsg(r, r.IntN(2000))
		strs[i] = string(msgs[i])
	}
	out := make([][16]byte, 100)
	paths(t, func(t *testing.T) {
		if a := testing.AllocsPerRun(20, func() { SumMany(out, msgs) }); a != 0 {
			t.Errorf("SumMany: %v allocs/op", a)
		}
		if a := testing.AllocsPerRun(20, func() { SumStrings(out, strs) }); a != 0 {
			t.Errorf("SumStrings: %v allocs/op", a)
		}
	})
}

func FuzzSumMany(f *testing.F) {
	f.Add([]byte("hello"), []byte{3, 0, 200})
	f.Add(bytes.Repeat([]byte("x"), 1000), []byte{55, 56, 63, 64, 119, 120, 128, 255})
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		// cuts splits data into messages: each byte is a length (mod what is
		// left, scaled so long inputs give long messages too).
		var msgs [][]byte
		rest := data
		for _, c := range cuts {
			n := int(c) * (1 + len(data)/256)
			if n > len(rest) {
				n = len(rest)
			}
			msgs = append(msgs, rest[:n])
			rest = rest[n:]
		}
		msgs = append(msgs, rest)
		want := make([][16]byte, len(msgs))
		for i, m := range msgs {
			want[i] = md5.Sum(m)
		}
		for _, path := range []string{"auto", "generic", "kernel"} {
			got := make([][16]byte, len(msgs))
			switch path {
			case "auto":
				SumMany(got, msgs)
			case "generic":
				forceGeneric = true
				SumMany(got, msgs)
				forceGeneric = false
			case "kernel":
				if !useSIMD {
					continue
				}
				// Straight to the kernel, whatever the batch size.
				sumSIMD(got, source{bytes: msgs, n: len(msgs)})
			}
			for i := range msgs {
				if got[i] != want[i] {
					t.Fatalf("%s: msg %d/%d len %d: got %x want %x", path, i, len(msgs), len(msgs[i]), got[i], want[i])
				}
			}
		}
	})
}
