package balancer

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The worker heap keeps its order and its positions through any sequence
// of pushes, removals (of members and of non-members) and key changes
// settled in place or out: after every step each member is at the
// position it records, no member sorts before its parent, and the top is
// the least member. Two heaps share the workers through their slots, as
// the planner's donor and receiver heaps do.
func TestWorkerHeapKeepsOrderAndPositions(t *testing.T) {
	for seed := range 200 {
		rng := rand.New(rand.NewPCG(uint64(seed), 11))
		ws := make([]*pWorker, 2+rng.IntN(14))
		for i := range ws {
			ws[i] = &pWorker{id: fmt.Sprintf("w%02d", i), count: rng.IntN(6), pos: [2]int{-1, -1}}
		}
		less := func(a, b *pWorker) bool {
			if a.count != b.count {
				return a.count < b.count
			}
			return a.id < b.id
		}
		heaps := []*workerHeap{newWorkerHeap(slotDonor, len(ws), less), newWorkerHeap(slotReceiver, len(ws), less)}
		member := []map[*pWorker]bool{{}, {}}
		for step := range 120 {
			hi := rng.IntN(2)
			h, in := heaps[hi], member[hi]
			w := ws[rng.IntN(len(ws))]
			var op string
			switch k := rng.IntN(4); {
			case k == 0 && !in[w]:
				op = "push"
				h.push(w)
				in[w] = true
			case k == 1:
				op = "remove"
				h.remove(w)
				delete(in, w)
			default:
				op = "settle"
				w.count = rng.IntN(6)
				keep := rng.IntN(4) > 0
				// The key changed for both heaps; settle each.
				for j, hj := range heaps {
					kj := keep || j != hi
					hj.settle(w, kj)
					if !kj {
						delete(member[j], w)
					}
				}
			}
			for j, hj := range heaps {
				if err := checkHeap(hj, member[j], less); err != "" {
					t.Fatalf("seed %d step %d (%s %s on heap %d): heap %d: %s", seed, step, op, w.id, hi, j, err)
				}
			}
		}
	}
}

func checkHeap(h *workerHeap, in map[*pWorker]bool, less func(a, b *pWorker) bool) string {
	if h.len() != len(in) {
		return fmt.Sprintf("%d members, want %d", h.len(), len(in))
	}
	var least *pWorker
	for i, w := range h.ws {
		if !in[w] {
			return fmt.Sprintf("%s is in the heap but was removed", w.id)
		}
		if w.pos[h.slot] != i || !h.contains(w) {
			return fmt.Sprintf("%s at %d records position %d", w.id, i, w.pos[h.slot])
		}
		if i > 0 && less(w, h.ws[(i-1)/2]) {
			return fmt.Sprintf("%s at %d sorts before its parent %s", w.id, i, h.ws[(i-1)/2].id)
		}
		if least == nil || less(w, least) {
			least = w
		}
	}
	for w := range in {
		if !h.contains(w) {
			return fmt.Sprintf("%s is a member but not found", w.id)
		}
	}
	if least != nil && h.top() != least {
		return fmt.Sprintf("top %s, least %s", h.top().id, least.id)
	}
	return ""
}

// A position left over from an earlier heap of the same slot (the planner
// builds a new one per step) does not make a worker a member, whatever
// the new heap's length.
func TestWorkerHeapIgnoresStalePositions(t *testing.T) {
	less := func(a, b *pWorker) bool { return a.id < b.id }
	ws := make([]*pWorker, 4)
	for i := range ws {
		ws[i] = &pWorker{id: fmt.Sprintf("w%d", i), pos: [2]int{-1, -1}}
	}
	old := newWorkerHeap(slotReceiver, 4, less)
	for _, w := range ws {
		old.push(w)
	}
	h := newWorkerHeap(slotReceiver, 4, less)
	for _, w := range ws[:2] {
		h.push(w)
	}
	// ws[2] and ws[3] keep positions 2 and 3 from the old heap: one equal
	// to the new heap's length, one past it.
	for _, w := range ws[2:] {
		if h.contains(w) {
			t.Errorf("%s (stale position %d) counts as a member of a heap of %d", w.id, w.pos[slotReceiver], h.len())
		}
		h.remove(w)
		h.settle(w, true)
	}
	if h.len() != 2 || h.top() != ws[0] {
		t.Errorf("heap after operations on non-members: len %d top %s", h.len(), h.top().id)
	}
}
