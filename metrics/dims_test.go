package metrics

import (
	"slices"
	"testing"
)

func TestDimsCanonical(t *testing.T) {
	a := NewDims(Dimension{"ShardId", "s1"}, Dimension{"Operation", "ProcessTask"})
	b := NewDims(Dimension{"Operation", "ProcessTask"}, Dimension{"ShardId", "s1"})
	if a.Key() != b.Key() {
		t.Errorf("order changed identity: %q vs %q", a.Key(), b.Key())
	}
	if got := a.String(); got != "Operation=ProcessTask,ShardId=s1" {
		t.Errorf("String() = %q", got)
	}
	if v, ok := a.Get("ShardId"); !ok || v != "s1" {
		t.Errorf("Get(ShardId) = %q, %v", v, ok)
	}
	if _, ok := a.Get("WorkerIdentifier"); ok {
		t.Error("Get of a missing name succeeded")
	}
	if got := slices.Collect(a.All()); len(got) != 2 || got[0].Name != "Operation" {
		t.Errorf("All() = %v", got)
	}
}

func TestDimsLastValueWins(t *testing.T) {
	d := NewDims(Dimension{"ShardId", "old"}, Dimension{"Operation", "X"}, Dimension{"ShardId", "new"})
	if d.Len() != 2 {
		t.Fatalf("Len() = %d, want 2", d.Len())
	}
	if v, _ := d.Get("ShardId"); v != "new" {
		t.Errorf("ShardId = %q, want the last value", v)
	}
	w := d.with(Dimension{"Operation", "Y"}, Dimension{"WorkerIdentifier", "w"})
	if w.String() != "Operation=Y,ShardId=new,WorkerIdentifier=w" {
		t.Errorf("With() = %v", w)
	}
	if d.String() != "Operation=X,ShardId=new" {
		t.Errorf("With modified its receiver: %v", d)
	}
}

func TestDimsKeysDoNotCollide(t *testing.T) {
	sets := [][]Dimension{
		nil,
		{{"a", "bc"}},
		{{"ab", "c"}},
		{{"a", "b"}, {"c", ""}},
		{{"a", "b\x00c"}},
		{{"a", ""}},
		{{"", "a"}},
	}
	seen := map[string]int{}
	for i, s := range sets {
		k := NewDims(s...).Key()
		if j, ok := seen[k]; ok {
			t.Errorf("sets %v and %v share key %q", sets[j], s, k)
		}
		seen[k] = i
	}
}

func TestDimsCallerSliceNotRetained(t *testing.T) {
	in := []Dimension{{"ShardId", "s1"}}
	d := NewDims(in...)
	in[0].Value = "changed"
	if v, _ := d.Get("ShardId"); v != "s1" {
		t.Errorf("Dims changed with the caller's slice: %q", v)
	}
}
