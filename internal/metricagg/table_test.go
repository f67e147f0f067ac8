package metricagg

import (
	"sync"
	"testing"
)

func TestTableAggregatesPerSeries(t *testing.T) {
	tab := New[string](0)
	a := Key{Name: "RecordsProcessed", Unit: "Count", Dims: "a"}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for v := range 100 {
				tab.Add(a, "dims-a", float64(v))
			}
		})
	}
	wg.Wait()
	tab.Add(Key{Name: "RecordsProcessed", Unit: "None", Dims: "a"}, "dims-a", 1000)
	tab.Add(Key{Name: "RecordsProcessed", Unit: "Count", Dims: "b"}, "dims-b", 7)

	got, ok := tab.Lookup("RecordsProcessed", "a") // merged across units
	want := Stats{SampleCount: 401, Sum: 4*4950 + 1000, Minimum: 0, Maximum: 1000}
	if !ok || got != want {
		t.Errorf("Lookup = %+v, %v; want %+v", got, ok, want)
	}
	if got.Average() != want.Sum/401 {
		t.Errorf("Average = %v", got.Average())
	}
	if _, ok := tab.Lookup("RecordsProcessed", "c"); ok {
		t.Error("Lookup found a series never recorded")
	}

	drained := map[Key]string{}
	tab.Drain(func(k Key, dims string, s Stats) { drained[k] = dims })
	if len(drained) != 3 || drained[a] != "dims-a" {
		t.Errorf("Drain handed %v", drained)
	}
	if _, ok := tab.Lookup("RecordsProcessed", "a"); ok {
		t.Error("series still there after Drain")
	}
}

func TestTableLimit(t *testing.T) {
	tab := New[struct{}](2)
	k := func(n string) Key { return Key{Name: n} }
	if !tab.Add(k("a"), struct{}{}, 1) || !tab.Add(k("b"), struct{}{}, 1) {
		t.Fatal("Add under the limit failed")
	}
	if tab.Add(k("c"), struct{}{}, 1) {
		t.Error("a third series was kept over the limit of 2")
	}
	if !tab.Add(k("a"), struct{}{}, 2) {
		t.Error("an existing series refused an observation at the limit")
	}
	// Drained series keep their slots until released.
	tab.Drain(func(Key, struct{}, Stats) {})
	if tab.Add(k("c"), struct{}{}, 1) {
		t.Error("slots of drained series were free before Release")
	}
	tab.Release(2)
	if !tab.Add(k("c"), struct{}{}, 1) {
		t.Error("Add failed after Release")
	}
	tab.Reset()
	if !tab.Reserve(2) || tab.Reserve(1) {
		t.Error("Reset did not free the slots of the series it forgot")
	}
}

func TestStatsMerge(t *testing.T) {
	var s Stats
	s.Merge(Stats{})
	if s != (Stats{}) {
		t.Errorf("merging an empty set changed %+v", s)
	}
	s.Observe(-2)
	s.Merge(Stats{SampleCount: 2, Sum: 10, Minimum: 4, Maximum: 6})
	if want := (Stats{SampleCount: 3, Sum: 8, Minimum: -2, Maximum: 6}); s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
}
