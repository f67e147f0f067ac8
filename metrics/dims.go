package metrics

import (
	"encoding/binary"
	"iter"
	"slices"
	"strings"
)

// Dimension is one name/value pair that qualifies a metric, such as
// ShardId=shardId-000000000007.
type Dimension struct {
	// Name is the dimension's name, e.g. "ShardId".
	Name string
	// Value is its value, e.g. "shardId-000000000007".
	Value string
}

// Dims is an immutable, canonical set of dimensions: sorted by name, one
// value per name, with an identity key computed once. Build it once and
// record with it many times: a sink aggregates by Key, so
// the hot path never re-encodes or re-sorts dimensions.
//
// The zero value is the empty set. Dims is safe to share between
// goroutines.
type Dims struct {
	list []Dimension // sorted by Name, unique names; never written after construction
	key  string      // canonical, collision-free encoding of list ("" when empty)
}

// NewDims returns the canonical set of d. Order does not matter; when a
// name appears more than once, the last value wins (so a derived scope can
// override a parent's dimension).
func NewDims(d ...Dimension) Dims {
	if len(d) == 0 {
		return Dims{}
	}
	list := slices.Clone(d)
	// Stable sort keeps equal names in argument order, so the last of a run
	// is the one given last.
	slices.SortStableFunc(list, func(a, b Dimension) int { return strings.Compare(a.Name, b.Name) })
	out := list[:0]
	for i, x := range list {
		if i+1 < len(list) && list[i+1].Name == x.Name {
			continue
		}
		out = append(out, x)
	}
	list = slices.Clip(out)

	// Length-prefixed encoding: no separator character can make two
	// different sets collide (a="bc" vs ab="c").
	n := 0
	for _, x := range list {
		n += 2*binary.MaxVarintLen64 + len(x.Name) + len(x.Value)
	}
	buf := make([]byte, 0, n)
	for _, x := range list {
		buf = binary.AppendUvarint(buf, uint64(len(x.Name)))
		buf = append(buf, x.Name...)
		buf = binary.AppendUvarint(buf, uint64(len(x.Value)))
		buf = append(buf, x.Value...)
	}
	return Dims{list: list, key: string(buf)}
}

// with returns d extended by more (a dimension of more replaces one of d
// with the same name).
func (d Dims) with(more ...Dimension) Dims {
	if len(more) == 0 {
		return d
	}
	all := make([]Dimension, 0, len(d.list)+len(more))
	all = append(all, d.list...)
	all = append(all, more...)
	return NewDims(all...)
}

// Len is the number of dimensions.
func (d Dims) Len() int { return len(d.list) }

// Get returns the value of the dimension called name.
func (d Dims) Get(name string) (string, bool) {
	i, ok := slices.BinarySearchFunc(d.list, name, func(x Dimension, n string) int { return strings.Compare(x.Name, n) })
	if !ok {
		return "", false
	}
	return d.list[i].Value, true
}

// All iterates the dimensions in name order.
func (d Dims) All() iter.Seq[Dimension] {
	return func(yield func(Dimension) bool) {
		for _, x := range d.list {
			if !yield(x) {
				return
			}
		}
	}
}

// Key is the canonical identity of the set: two Dims hold the same
// dimensions exactly when their keys are equal, so a sink can aggregate by
// metric name, unit and Key. It is opaque (not meant for display).
func (d Dims) Key() string { return d.key }

// String renders the set as "Name=Value,Name=Value" for logs and test
// messages.
func (d Dims) String() string {
	var b strings.Builder
	for i, x := range d.list {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x.Name)
		b.WriteByte('=')
		b.WriteString(x.Value)
	}
	return b.String()
}
