//go:build amd64 && !purego

package md5x

import (
	"crypto/md5"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// TestDetection cross-checks the CPUID/XGETBV detection with the flags the
// Linux kernel reports (which are only listed when the OS supports them).
func TestDetection(t *testing.T) {
	t.Logf("useSIMD=%v", useSIMD)
	if runtime.GOOS != "linux" {
		t.Skip("no /proc/cpuinfo")
	}
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skip(err)
	}
	var flags []string
	for _, line := range strings.Split(string(info), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
			flags = strings.Fields(v)
			break
		}
	}
	has := func(f string) bool {
		for _, x := range flags {
			if x == f {
				return true
			}
		}
		return false
	}
	want := has("avx512f") && has("avx512vl")
	if useSIMD != want {
		t.Fatalf("useSIMD=%v but /proc/cpuinfo has avx512f=%v avx512vl=%v", useSIMD, has("avx512f"), has("avx512vl"))
	}
}

// TestDispatch checks that SumMany and SumStrings really use the kernel on
// this machine (when it has AVX-512) and not when forced to the fallback.
func TestDispatch(t *testing.T) {
	calls := 0
	testHookSIMD = func() { calls++ }
	defer func() { testHookSIMD = nil }()
	msgs := make([][]byte, 100)
	strs := make([]string, 100)
	out := make([][16]byte, 100)
	SumMany(out, msgs)
	SumStrings(out, strs)
	if !useSIMD {
		if calls != 0 {
			t.Fatalf("kernel used %d times without AVX-512", calls)
		}
		t.Skip("CPU or OS lacks AVX-512: only the crypto/md5 fallback is tested")
	}
	if calls != 2 {
		t.Fatalf("kernel used %d times for 2 batches of 100 messages, want 2", calls)
	}
	forceGeneric = true
	SumMany(out, msgs)
	forceGeneric = false
	if calls != 2 {
		t.Fatal("kernel used despite forceGeneric")
	}
	// Small batches: never for 1 or 2 messages, always for 8.
	SumMany(out, msgs[:2])
	if calls != 2 {
		t.Fatal("kernel used for 2 messages")
	}
	SumMany(out, msgs[:8])
	if calls != 3 {
		t.Fatal("kernel not used for 8 messages")
	}
}

func TestCtxLayout(t *testing.T) {
	var c ctx
	got := [8]uintptr{unsafe.Offsetof(c.state), unsafe.Offsetof(c.ptr), unsafe.Offsetof(c.stride), unsafe.Offsetof(c.left), unsafe.Offsetof(c.tailp), unsafe.Offsetof(c.cur), unsafe.Offsetof(c.words), unsafe.Offsetof(c.fresh)}
	want := [8]uintptr{offState, offPtr, offStride, offLeft, offTailp, offCur, offWords, offFresh}
	if got != want {
		t.Fatalf("ctx field offsets %v, kernel expects %v (re-run go generate)", got, want)
	}
}

// checkSIMD runs sumSIMD directly, bypassing the small-batch heuristic.
func checkSIMD(t *testing.T, msgs [][]byte) {
	t.Helper()
	out := make([][16]byte, len(msgs))
	sumSIMD(out, source{bytes: msgs, n: len(msgs)})
	for i, m := range msgs {
		if want := md5.Sum(m); out[i] != want {
			t.Errorf("msg %d/%d (len %d): got %x want %x", i, len(msgs), len(m), out[i], want)
		}
	}
}

func TestSIMDSmallBatches(t *testing.T) {
	if !useSIMD {
		t.Skip("CPU or OS lacks AVX-512")
	}
	r := rand.New(rand.NewPCG(21, 22))
	for n := 0; n <= 300; n++ {
		checkSIMD(t, [][]byte{randMsg(r, n)})
		checkSIMD(t, [][]byte{randMsg(r, n), randMsg(r, 300-n)})
		checkSIMD(t, [][]byte{randMsg(r, n), randMsg(r, n/2), randMsg(r, n/3)})
	}
}

// TestHandOff covers lanes finished by crypto/md5 at every block position
// and checks that it happens.
func TestHandOff(t *testing.T) {
	if !useSIMD {
		t.Skip("CPU or OS lacks AVX-512")
	}
	handOffs := 0
	testHookHandOff = func() { handOffs++ }
	defer func() { testHookHandOff = nil }()
	r := rand.New(rand.NewPCG(23, 24))
	for long := 0; long < 1200; long += 1 + long/20 {
		for short := 0; short < 700; short += 37 {
			checkSIMD(t, [][]byte{randMsg(r, long), randMsg(r, short)})
			var msgs [][]byte
			for i := 0; i < 70; i++ {
				msgs = append(msgs, randMsg(r, short/8))
			}
			msgs = append(msgs, randMsg(r, long))
			checkSIMD(t, msgs)
		}
	}
	checkSIMD(t, [][]byte{randMsg(r, 1<<20+5)})
	if handOffs == 0 {
		t.Fatal("no lane was handed off to crypto/md5")
	}
	t.Logf("%d lanes handed off", handOffs)
}
