package ddbstore

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/internal/leaseargs"
	"github.com/shardwise/shardwise/internal/leasekey"
	"github.com/shardwise/shardwise/leases"
)

// leaseItem encodes a normalized lease as a complete lease-table item, in
// the attribute names and types the Java KCL writes. Optional attributes
// are left out rather than written empty: KCL reads a missing attribute as
// unset, and a string set cannot be empty.
func leaseItem(l leases.Lease) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		kclschema.AttrLeaseKey:                     avS(l.Key),
		kclschema.AttrLeaseCounter:                 avN(l.Counter),
		kclschema.AttrOwnerSwitchesSinceCheckpoint: avN(l.OwnerSwitchesSinceCheckpoint),
		// Java KCL 3.5 writes it on every lease it creates; Java's own
		// readers take an item without it as a lease too, but a table
		// that also holds other entities is clearer with it.
		kclschema.AttrEntityType: avS(kclschema.EntityTypeLease),
	}
	putS := func(name, v string) {
		if v != "" {
			item[name] = avS(v)
		}
	}
	putS(kclschema.AttrLeaseOwner, l.Owner)
	putS(kclschema.AttrCheckpointOwner, l.CheckpointOwner)
	putS(kclschema.AttrStartingHashKey, l.StartingHashKey)
	putS(kclschema.AttrEndingHashKey, l.EndingHashKey)
	// A multi-stream lease carries its stream identifier and bare shard id
	// as attributes of their own, as the Java KCL's multi-stream
	// serializer writes (and reads) them.
	if k, err := leasekey.Parse(l.Key); err == nil && k.Multi {
		item[kclschema.AttrStreamName] = avS(k.Stream.String())
		item[kclschema.AttrShardID] = avS(k.ShardID)
	}
	if !l.Checkpoint.IsZero() {
		item[kclschema.AttrCheckpoint] = avS(l.Checkpoint.SequenceNumber)
		item[kclschema.AttrCheckpointSubSequenceNumber] = avN(l.Checkpoint.SubSequenceNumber)
	}
	if !l.PendingCheckpoint.IsZero() {
		item[kclschema.AttrPendingCheckpoint] = avS(l.PendingCheckpoint.SequenceNumber)
		item[kclschema.AttrPendingCheckpointSubSequenceNumber] = avN(l.PendingCheckpoint.SubSequenceNumber)
		if len(l.PendingCheckpointState) > 0 {
			item[kclschema.AttrPendingCheckpointState] = &types.AttributeValueMemberB{Value: slices.Clone(l.PendingCheckpointState)}
		}
	}
	if len(l.ParentShardIDs) > 0 {
		item[kclschema.AttrParentShardID] = avSS(l.ParentShardIDs)
	}
	if len(l.ChildShardIDs) > 0 {
		item[kclschema.AttrChildShardIDs] = avSS(l.ChildShardIDs)
	}
	if l.ThroughputKBps != 0 {
		item[kclschema.AttrThroughputKBps] = &types.AttributeValueMemberN{Value: strconv.FormatFloat(l.ThroughputKBps, 'f', -1, 64)}
	}
	return item
}

// isLeaseItem reports whether item is a lease rather than another KCL
// entity sharing the table (KCL 3.5's single-table mode). Items written
// before entity types existed have none and are leases.
func isLeaseItem(item map[string]types.AttributeValue) bool {
	av, ok := item[kclschema.AttrEntityType]
	if !ok {
		return true
	}
	s, ok := av.(*types.AttributeValueMemberS)
	return ok && s.Value == kclschema.EntityTypeLease
}

// entityTypeOf describes a non-lease item for error messages.
func entityTypeOf(item map[string]types.AttributeValue) string {
	if s, ok := item[kclschema.AttrEntityType].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return fmt.Sprintf("%T", item[kclschema.AttrEntityType])
}

// decodeLease reads a lease item. It is tolerant of what older writers or
// the Java KCL may leave out (a missing number reads as 0, a missing string
// as empty) and ignores attributes it does not model; an attribute of the
// wrong DynamoDB type is an error, since guessing would risk moving a
// checkpoint.
func decodeLease(item map[string]types.AttributeValue) (leases.Lease, error) {
	d := itemDecoder{item: item}
	var l leases.Lease
	l.Key = d.str(kclschema.AttrLeaseKey)
	if d.err == nil && l.Key == "" {
		return leases.Lease{}, fmt.Errorf("shardwise: lease item without %s", kclschema.AttrLeaseKey)
	}
	l.Owner = d.str(kclschema.AttrLeaseOwner)
	l.Counter = d.int(kclschema.AttrLeaseCounter)
	if cp := d.str(kclschema.AttrCheckpoint); cp != "" {
		l.Checkpoint.SequenceNumber = cp
		l.Checkpoint.SubSequenceNumber = d.int(kclschema.AttrCheckpointSubSequenceNumber)
	}
	if p := d.str(kclschema.AttrPendingCheckpoint); p != "" {
		l.PendingCheckpoint.SequenceNumber = p
		l.PendingCheckpoint.SubSequenceNumber = d.int(kclschema.AttrPendingCheckpointSubSequenceNumber)
		l.PendingCheckpointState = d.pendingState()
	}
	l.OwnerSwitchesSinceCheckpoint = d.int(kclschema.AttrOwnerSwitchesSinceCheckpoint)
	l.ParentShardIDs = leaseargs.ShardIDs(d.strSet(kclschema.AttrParentShardID))
	l.ChildShardIDs = leaseargs.ShardIDs(d.strSet(kclschema.AttrChildShardIDs))
	l.StartingHashKey = d.str(kclschema.AttrStartingHashKey)
	l.EndingHashKey = d.str(kclschema.AttrEndingHashKey)
	l.ThroughputKBps = d.float(kclschema.AttrThroughputKBps)
	l.CheckpointOwner = d.str(kclschema.AttrCheckpointOwner)
	if d.err != nil {
		return leases.Lease{}, fmt.Errorf("shardwise: lease %q: %w", l.Key, d.err)
	}
	return l, nil
}

// itemDecoder keeps the first decoding error so decodeLease reads
// straight through.
type itemDecoder struct {
	item map[string]types.AttributeValue
	err  error
}

func (d *itemDecoder) fail(name string, av types.AttributeValue, want string) {
	if d.err == nil {
		d.err = fmt.Errorf("shardwise: attribute %s is %T, want %s", name, av, want)
	}
}

func (d *itemDecoder) str(name string) string {
	av, ok := d.item[name]
	if !ok {
		return ""
	}
	if _, null := av.(*types.AttributeValueMemberNULL); null {
		return ""
	}
	s, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		d.fail(name, av, "S")
		return ""
	}
	return s.Value
}

func (d *itemDecoder) number(name string) (string, bool) {
	av, ok := d.item[name]
	if !ok {
		return "", false
	}
	if _, null := av.(*types.AttributeValueMemberNULL); null {
		return "", false
	}
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		d.fail(name, av, "N")
		return "", false
	}
	return n.Value, true
}

func (d *itemDecoder) int(name string) int64 {
	s, ok := d.number(name)
	if !ok {
		return 0
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v
	}
	// DynamoDB numbers are decimals; another writer may have stored an
	// integral value as "3.0" or "3E0".
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
		if d.err == nil {
			d.err = fmt.Errorf("shardwise: attribute %s = %q is not an integer", name, s)
		}
		return 0
	}
	return int64(f)
}

func (d *itemDecoder) float(name string) float64 {
	s, ok := d.number(name)
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		if d.err == nil {
			d.err = fmt.Errorf("shardwise: attribute %s = %q is not a number", name, s)
		}
		return 0
	}
	return f
}

func (d *itemDecoder) bytes(name string) []byte {
	av, ok := d.item[name]
	if !ok {
		return nil
	}
	if _, null := av.(*types.AttributeValueMemberNULL); null {
		return nil
	}
	b, ok := av.(*types.AttributeValueMemberB)
	if !ok {
		d.fail(name, av, "B")
		return nil
	}
	if len(b.Value) == 0 {
		return nil
	}
	return slices.Clone(b.Value)
}

// pendingState reads pendingCheckpointState. The Java KCL writes it as B
// when it updates a lease, but its create path writes a number (the
// checkpoint's sub-sequence number, not the state) in its place: that N
// carries no application state, so it reads as none rather than failing
// the whole lease.
func (d *itemDecoder) pendingState() []byte {
	if _, ok := d.item[kclschema.AttrPendingCheckpointState].(*types.AttributeValueMemberN); ok {
		return nil
	}
	return d.bytes(kclschema.AttrPendingCheckpointState)
}

func (d *itemDecoder) strSet(name string) []string {
	av, ok := d.item[name]
	if !ok {
		return nil
	}
	switch v := av.(type) {
	case *types.AttributeValueMemberNULL:
		return nil
	case *types.AttributeValueMemberSS:
		return v.Value
	}
	d.fail(name, av, "SS")
	return nil
}

func avS(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func avN(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func avSS(ss []string) types.AttributeValue {
	return &types.AttributeValueMemberSS{Value: slices.Clone(ss)}
}

// expr collects the placeholders of one request's expressions. Every
// attribute name goes through a placeholder, so no KCL attribute name can
// ever collide with a DynamoDB reserved word.
type expr struct {
	names  map[string]string // placeholder -> attribute name
	byAttr map[string]string // attribute name -> placeholder
	values map[string]types.AttributeValue
}

func newExpr() *expr {
	return &expr{names: map[string]string{}, byAttr: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// n returns the placeholder for an attribute name.
func (e *expr) n(attr string) string {
	if p, ok := e.byAttr[attr]; ok {
		return p
	}
	p := "#a" + strconv.Itoa(len(e.byAttr))
	e.byAttr[attr] = p
	e.names[p] = attr
	return p
}

// v returns a placeholder for a value.
func (e *expr) v(av types.AttributeValue) string {
	p := ":v" + strconv.Itoa(len(e.values))
	e.values[p] = av
	return p
}

// isLease is the condition that the item exists and is a lease. Every
// conditional update includes it, so an update can neither create an item
// (UpdateItem upserts) nor touch an item of another KCL entity type.
func (e *expr) isLease() string {
	return fmt.Sprintf("attribute_exists(%s) AND (attribute_not_exists(%s) OR %s = %s)",
		e.n(kclschema.AttrLeaseKey), e.n(kclschema.AttrEntityType), e.n(kclschema.AttrEntityType), e.v(avS(kclschema.EntityTypeLease)))
}

// counterIs compares leaseCounter. An item without the attribute reads as
// counter 0, so it must also match 0, or such a lease could never be taken.
func (e *expr) counterIs(c int64) string {
	if c == 0 {
		return fmt.Sprintf("(attribute_not_exists(%s) OR %s = %s)", e.n(kclschema.AttrLeaseCounter), e.n(kclschema.AttrLeaseCounter), e.v(avN(0)))
	}
	return fmt.Sprintf("%s = %s", e.n(kclschema.AttrLeaseCounter), e.v(avN(c)))
}

// ownerIs compares leaseOwner; an unowned lease has no owner attribute
// (or, written by some other tool, an empty one).
func (e *expr) ownerIs(owner string) string {
	if owner == "" {
		return fmt.Sprintf("(attribute_not_exists(%s) OR %s = %s)", e.n(kclschema.AttrLeaseOwner), e.n(kclschema.AttrLeaseOwner), e.v(avS("")))
	}
	return fmt.Sprintf("%s = %s", e.n(kclschema.AttrLeaseOwner), e.v(avS(owner)))
}

// fence is Checkpoint's condition: the writer owns the lease at the
// counter it knows and no hand-off is pending, or it is the old owner of a
// pending hand-off.
func (e *expr) fence(owner string, counter int64) string {
	return fmt.Sprintf("((%s = %s AND %s AND attribute_not_exists(%s)) OR %s = %s)",
		e.n(kclschema.AttrLeaseOwner), e.v(avS(owner)), e.counterIs(counter), e.n(kclschema.AttrCheckpointOwner),
		e.n(kclschema.AttrCheckpointOwner), e.v(avS(owner)))
}

// incrementCounter is the SET clause that moves leaseCounter on. It adds
// rather than writes a known value because the fence's hand-off branch
// does not pin the counter.
func (e *expr) incrementCounter() string {
	c := e.n(kclschema.AttrLeaseCounter)
	return fmt.Sprintf("%s = if_not_exists(%s, %s) + %s", c, c, e.v(avN(0)), e.v(avN(1)))
}

// update renders an update expression from SET and REMOVE clauses.
func update(set, remove []string) string {
	var b strings.Builder
	if len(set) > 0 {
		b.WriteString("SET ")
		b.WriteString(strings.Join(set, ", "))
	}
	if len(remove) > 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("REMOVE ")
		b.WriteString(strings.Join(remove, ", "))
	}
	return b.String()
}

// CheckLeaseItem reports whether a lease-table item is a lease Shardwise
// can read: nil for a readable lease, an error naming the attribute for
// one List would skip. Items of other KCL entity types are not leases and
// return nil. For checks and tools (the Java-fleet report).
func CheckLeaseItem(item map[string]types.AttributeValue) error {
	if !isLeaseItem(item) {
		return nil
	}
	_, err := decodeLease(item)
	return err
}
