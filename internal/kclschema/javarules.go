package kclschema

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// JavaLease is a lease item as the Java KCL 3.5's lease serializer reads it.
type JavaLease struct {
	LeaseKey                           string
	LeaseOwner                         string
	LeaseCounter                       int64
	Checkpoint                         string
	CheckpointSubSequenceNumber        int64
	PendingCheckpoint                  string
	PendingCheckpointSubSequenceNumber int64
	PendingCheckpointState             []byte
	OwnerSwitchesSinceCheckpoint       int64
	ParentShardIDs                     []string
	ChildShardIDs                      []string
	StartingHashKey, EndingHashKey     string
	ThroughputKBps                     *float64
	CheckpointOwner                    string
	EntityType                         string
}

// JavaReadLease reads a lease-table item by the Java KCL 3.5 serializer's
// rules: each attribute it reads must have the one DynamoDB type its
// reader takes (a string attribute as S, a counter as an N that Java's
// Long parses, throughputKBps as an N that Java's Double parses,
// parentShardId and childShardIds as SS, pendingCheckpointState as B).
// Where Java would fail on an item (a null pointer or a number format
// error), it returns an error naming the attribute. Items whose
// entityType is another entity's are not leases: ok is false.
//
// It is the reference a rollback to the Java KCL depends on: every item
// Shardwise writes must pass it (tests hold the store to it).
func JavaReadLease(item map[string]types.AttributeValue) (l JavaLease, ok bool, err error) {
	r := javaReader{item: item}
	l.EntityType = r.s(AttrEntityType)
	if l.EntityType != "" && l.EntityType != EntityTypeLease {
		return JavaLease{}, false, r.err
	}
	l.LeaseKey = r.s(AttrLeaseKey)
	l.LeaseOwner = r.s(AttrLeaseOwner)
	l.LeaseCounter = r.long(AttrLeaseCounter)
	l.OwnerSwitchesSinceCheckpoint = r.long(AttrOwnerSwitchesSinceCheckpoint)
	l.Checkpoint = r.s(AttrCheckpoint)
	l.CheckpointSubSequenceNumber = r.long(AttrCheckpointSubSequenceNumber)
	l.ParentShardIDs = r.ss(AttrParentShardID)
	l.ChildShardIDs = r.ss(AttrChildShardIDs)
	if l.PendingCheckpoint = r.s(AttrPendingCheckpoint); l.PendingCheckpoint != "" {
		l.PendingCheckpointSubSequenceNumber = r.long(AttrPendingCheckpointSubSequenceNumber)
	}
	l.PendingCheckpointState = r.b(AttrPendingCheckpointState)
	l.StartingHashKey = r.s(AttrStartingHashKey)
	l.EndingHashKey = r.s(AttrEndingHashKey)
	l.ThroughputKBps = r.double(AttrThroughputKBps)
	l.CheckpointOwner = r.s(AttrCheckpointOwner)
	if r.err == nil && l.LeaseKey == "" {
		r.err = fmt.Errorf("shardwise: Java rules: item without %s", AttrLeaseKey)
	}
	if r.err != nil {
		return JavaLease{}, true, r.err
	}
	return l, true, nil
}

type javaReader struct {
	item map[string]types.AttributeValue
	err  error
}

func (r *javaReader) bad(name string, av types.AttributeValue, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("shardwise: Java rules: attribute %s is %T, the Java KCL reads it as %s", name, av, want)
	}
}

func (r *javaReader) s(name string) string {
	av, ok := r.item[name]
	if !ok {
		return ""
	}
	v, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		r.bad(name, av, "S")
		return ""
	}
	return v.Value
}

// long is Java's new Long(av.n()): an integer in decimal digits.
func (r *javaReader) long(name string) int64 {
	av, ok := r.item[name]
	if !ok {
		return 0
	}
	v, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		r.bad(name, av, "N")
		return 0
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("shardwise: Java rules: attribute %s = %q is not a Java long", name, v.Value)
	}
	return n
}

// double is Java's new Double(av.n()).
func (r *javaReader) double(name string) *float64 {
	av, ok := r.item[name]
	if !ok {
		return nil
	}
	v, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		r.bad(name, av, "N")
		return nil
	}
	f, err := strconv.ParseFloat(v.Value, 64)
	if err != nil {
		if r.err == nil {
			r.err = fmt.Errorf("shardwise: Java rules: attribute %s = %q is not a Java double", name, v.Value)
		}
		return nil
	}
	return &f
}

func (r *javaReader) ss(name string) []string {
	av, ok := r.item[name]
	if !ok {
		return nil
	}
	v, ok := av.(*types.AttributeValueMemberSS)
	if !ok {
		r.bad(name, av, "SS")
		return nil
	}
	return v.Value
}

func (r *javaReader) b(name string) []byte {
	av, ok := r.item[name]
	if !ok {
		return nil
	}
	v, ok := av.(*types.AttributeValueMemberB)
	if !ok {
		r.bad(name, av, "B")
		return nil
	}
	return v.Value
}
