package leases

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/leaseargs"
)

// memoryStore is a Store kept in memory, with the same compare-and-set
// semantics as DynamoStore (the shared store suite runs against both). It
// is meant for tests: it can inject errors into chosen operations and
// counts the writes each operation makes, which is how the cost of the
// lease protocol in DynamoDB writes is measured without DynamoDB.
//
// Leases go in and come out as deep copies, so a caller mutating a lease
// it got (or gave) cannot change what is stored.
type memoryStore struct {
	mu     sync.Mutex
	leases map[string]Lease  // guarded by mu; normalized copies
	faults map[string]*fault // guarded by mu; keyed by operation name
	writes map[string]int    // guarded by mu; keyed by operation name
	reads  map[string]int    // guarded by mu; keyed by operation name
}

type fault struct {
	err  error
	left int // calls still to fail; negative means every call
}

var _ Store = (*memoryStore)(nil)

// newMemoryStore returns an empty memoryStore.
func newMemoryStore() *memoryStore {
	return &memoryStore{
		leases: make(map[string]Lease),
		faults: make(map[string]*fault),
		writes: make(map[string]int),
		reads:  make(map[string]int),
	}
}

// InjectError makes the next times calls of op (a Store method name, see
// the Op constants) fail with err, without any effect on the stored
// leases, as a request that never reached DynamoDB would. times < 0 fails
// every call until InjectError(op, nil, 0) clears the fault; times == 0 or
// a nil err clears it.
//
// It panics on an unknown op: a misspelt name would otherwise leave the
// fault silently unused and the test that relies on it passing for the
// wrong reason.
func (m *memoryStore) InjectError(op string, err error, times int) {
	if !slices.Contains(leaseargs.Ops, op) {
		panic(fmt.Sprintf("leases: memoryStore.InjectError: unknown operation %q", op))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil || times == 0 {
		delete(m.faults, op)
		return
	}
	m.faults[op] = &fault{err: err, left: times}
}

// Writes returns, per operation, how many write requests reached the store
// (successful or refused by their condition, since DynamoDB charges write
// capacity for a failed conditional write too). Injected errors and
// invalid arguments are not counted: they never reach DynamoDB.
func (m *memoryStore) Writes() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.writes)
}

// TotalWrites is the sum of Writes.
func (m *memoryStore) TotalWrites() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, c := range m.writes {
		n += c
	}
	return n
}

// Reads returns, per operation, how many read calls (Get, List,
// ListKeysByOwner) reached the store.
func (m *memoryStore) Reads() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.reads)
}

// ResetCounts zeroes the read and write counters.
func (m *memoryStore) ResetCounts() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.writes)
	clear(m.reads)
}

// begin starts an operation: it honours a cancelled context and an
// injected fault, as a request that fails before reaching DynamoDB.
// Callers hold m.mu.
func (m *memoryStore) begin(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f := m.faults[op]
	if f == nil {
		return nil
	}
	if f.left > 0 {
		f.left--
		if f.left == 0 {
			delete(m.faults, op)
		}
	}
	return f.err
}

// EnsureTable has nothing to create; it only honours faults.
func (m *memoryStore) EnsureTable(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.begin(ctx, leaseargs.OpEnsureTable)
}

// Create implements Store.
func (m *memoryStore) Create(ctx context.Context, l Lease) (bool, error) {
	if err := validateNewLease(l); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, leaseargs.OpCreate); err != nil {
		return false, err
	}
	m.writes[leaseargs.OpCreate]++
	if _, ok := m.leases[l.Key]; ok {
		return false, nil
	}
	m.leases[l.Key] = normalizeLease(l)
	return true, nil
}

// Get implements Store.
func (m *memoryStore) Get(ctx context.Context, key string) (Lease, error) {
	if key == "" {
		return Lease{}, leaseargs.Error(leaseargs.OpGet, "", "lease key is empty")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, leaseargs.OpGet); err != nil {
		return Lease{}, err
	}
	m.reads[leaseargs.OpGet]++
	l, ok := m.leases[key]
	if !ok {
		return Lease{}, notFound(leaseargs.OpGet, key)
	}
	return l.Clone(), nil
}

// List implements Store; leases come sorted by key.
func (m *memoryStore) List(ctx context.Context) ([]Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, leaseargs.OpList); err != nil {
		return nil, err
	}
	m.reads[leaseargs.OpList]++
	out := make([]Lease, 0, len(m.leases))
	for _, k := range slices.Sorted(maps.Keys(m.leases)) {
		out = append(out, m.leases[k].Clone())
	}
	return out, nil
}

// ListKeysByOwner implements Store; keys come sorted.
func (m *memoryStore) ListKeysByOwner(ctx context.Context, owner string) ([]string, error) {
	if owner == "" {
		return nil, leaseargs.Error(leaseargs.OpListKeysByOwner, "", "owner is empty")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, leaseargs.OpListKeysByOwner); err != nil {
		return nil, err
	}
	m.reads[leaseargs.OpListKeysByOwner]++
	var keys []string
	for k, l := range m.leases {
		if l.Owner == owner {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// Take implements Store.
func (m *memoryStore) Take(ctx context.Context, l Lease, newOwner string) (Lease, error) {
	if err := leaseargs.Transfer(leaseargs.OpTake, l.Key, l.Owner, newOwner); err != nil {
		return Lease{}, err
	}
	return m.transfer(ctx, leaseargs.OpTake, l, func(s *Lease) {
		if s.Owner != newOwner {
			s.OwnerSwitchesSinceCheckpoint++
		}
		s.Owner = newOwner
		s.CheckpointOwner = ""
	})
}

// Release implements Store.
func (m *memoryStore) Release(ctx context.Context, l Lease) (Lease, error) {
	if l.Key == "" {
		return Lease{}, leaseargs.Error(leaseargs.OpRelease, "", "lease key is empty")
	}
	return m.transfer(ctx, leaseargs.OpRelease, l, func(s *Lease) { s.Owner = "" })
}

// StartHandoff implements Store.
func (m *memoryStore) StartHandoff(ctx context.Context, l Lease, newOwner string) (Lease, error) {
	if err := leaseargs.Transfer(leaseargs.OpStartHandoff, l.Key, l.Owner, newOwner); err != nil {
		return Lease{}, err
	}
	return m.transfer(ctx, leaseargs.OpStartHandoff, l, func(s *Lease) {
		s.CheckpointOwner = s.Owner
		s.Owner = newOwner
	})
}

// transfer applies change to the stored lease on condition that it still
// has l's owner and counter (and, for StartHandoff, no hand-off pending),
// then increments the counter.
func (m *memoryStore) transfer(ctx context.Context, op string, l Lease, change func(*Lease)) (Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, op); err != nil {
		return Lease{}, err
	}
	m.writes[op]++
	s, ok := m.leases[l.Key]
	if !ok {
		return Lease{}, notFound(op, l.Key)
	}
	if s.Owner != l.Owner || s.Counter != l.Counter || (op == leaseargs.OpStartHandoff && s.CheckpointOwner != "") {
		return Lease{}, conditionFailed(op, l.Key)
	}
	change(&s)
	s.Counter++
	m.leases[l.Key] = s
	return s.Clone(), nil
}

// CompleteHandoff implements Store.
func (m *memoryStore) CompleteHandoff(ctx context.Context, key, oldOwner string) (Lease, error) {
	if err := leaseargs.Fenced(leaseargs.OpCompleteHandoff, key, oldOwner); err != nil {
		return Lease{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, leaseargs.OpCompleteHandoff); err != nil {
		return Lease{}, err
	}
	m.writes[leaseargs.OpCompleteHandoff]++
	s, ok := m.leases[key]
	if !ok {
		return Lease{}, notFound(leaseargs.OpCompleteHandoff, key)
	}
	if s.CheckpointOwner != oldOwner {
		return Lease{}, conditionFailed(leaseargs.OpCompleteHandoff, key)
	}
	s.CheckpointOwner = ""
	s.Counter++
	m.leases[key] = s
	return s.Clone(), nil
}

// Checkpoint implements Store.
func (m *memoryStore) Checkpoint(ctx context.Context, key, owner string, counter int64, pos consumer.ExtendedSequenceNumber) (int64, error) {
	if err := leaseargs.Fenced(leaseargs.OpCheckpoint, key, owner); err != nil {
		return 0, err
	}
	if err := leaseargs.Position(pos); err != nil {
		return 0, err
	}
	return m.fenced(ctx, leaseargs.OpCheckpoint, key, owner, counter, func(s *Lease) {
		s.Checkpoint = pos
		s.OwnerSwitchesSinceCheckpoint = 0
		s.PendingCheckpoint = consumer.ExtendedSequenceNumber{}
		s.PendingCheckpointState = nil
	})
}

// PrepareCheckpoint implements Store.
func (m *memoryStore) PrepareCheckpoint(ctx context.Context, key, owner string, counter int64, pos consumer.ExtendedSequenceNumber, state []byte) (int64, error) {
	if err := leaseargs.Fenced(leaseargs.OpPrepareCheckpoint, key, owner); err != nil {
		return 0, err
	}
	if err := leaseargs.Position(pos); err != nil {
		return 0, err
	}
	state = slices.Clone(state)
	if len(state) == 0 {
		state = nil
	}
	return m.fenced(ctx, leaseargs.OpPrepareCheckpoint, key, owner, counter, func(s *Lease) {
		s.PendingCheckpoint = pos
		s.PendingCheckpointState = state
	})
}

// SetChildShards implements Store.
func (m *memoryStore) SetChildShards(ctx context.Context, key, owner string, counter int64, children []string) (int64, error) {
	if err := leaseargs.Fenced(leaseargs.OpSetChildShards, key, owner); err != nil {
		return 0, err
	}
	children = leaseargs.ShardIDs(children)
	return m.fenced(ctx, leaseargs.OpSetChildShards, key, owner, counter, func(s *Lease) {
		s.ChildShardIDs = children
	})
}

// fenced applies change under the checkpoint fence: the writer owns the
// lease at the counter it knows with no hand-off pending, or it is the old
// owner of a pending hand-off (which may checkpoint at any counter, since
// the hand-off itself moved the counter on).
func (m *memoryStore) fenced(ctx context.Context, op, key, owner string, counter int64, change func(*Lease)) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, op); err != nil {
		return 0, err
	}
	m.writes[op]++
	s, ok := m.leases[key]
	if !ok {
		return 0, leaseLost(op, key)
	}
	holds := (s.Owner == owner && s.Counter == counter && s.CheckpointOwner == "") || s.CheckpointOwner == owner
	if !holds {
		return 0, leaseLost(op, key)
	}
	change(&s)
	s.Counter++
	m.leases[key] = s
	return s.Counter, nil
}

// Delete implements Store.
func (m *memoryStore) Delete(ctx context.Context, key string, counter int64) error {
	if key == "" {
		return leaseargs.Error(leaseargs.OpDelete, "", "lease key is empty")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, leaseargs.OpDelete); err != nil {
		return err
	}
	m.writes[leaseargs.OpDelete]++
	s, ok := m.leases[key]
	if !ok {
		return nil
	}
	if s.Counter != counter {
		return conditionFailed(leaseargs.OpDelete, key)
	}
	delete(m.leases, key)
	return nil
}

// Stores are the three tables a scheduler keeps: leases, worker sessions
// and load, and the leader item. Set all three (scheduler.Config.Stores) to
// run a scheduler on tables other than DynamoDB: in tests with
// NewMemoryStores, or on stores of your own.
type Stores struct {
	// Leases is the lease table.
	Leases Store
	// Workers is the worker-metrics table.
	Workers WorkerStore
	// Coordinator is the coordinator-state table (the leader item).
	Coordinator CoordinatorStore
}

// NewMemoryStores returns three empty in-memory tables with the same
// compare-and-set semantics as the DynamoDB ones (the same contract suite
// runs against both). Schedulers given the same Stores share them, as
// workers of one application share DynamoDB tables, so a test can run a
// fleet in one process.
//
// Each store also counts the writes it takes (a method Writes() int64 on
// the worker and coordinator stores, TotalWrites() int on the lease store)
// and the lease store can fail chosen calls (InjectError(op string, err
// error, times int), op being a Store method name); reach them with a type
// assertion to an interface that has the method.
func NewMemoryStores() Stores {
	return Stores{Leases: newMemoryStore(), Workers: newMemoryWorkerStore(), Coordinator: newMemoryCoordinatorStore()}
}
