package leases

import (
	"context"
	"sort"
	"sync"
	"time"
)

// memoryWorkerStore is an in-memory WorkerStore with the same
// compare-and-set semantics as the DynamoDB one.
type memoryWorkerStore struct {
	mu     sync.Mutex // guards the fields below
	items  map[string]WorkerRecord
	writes int64
}

var _ WorkerStore = (*memoryWorkerStore)(nil)

// newMemoryWorkerStore returns an empty store.
func newMemoryWorkerStore() *memoryWorkerStore {
	return &memoryWorkerStore{items: map[string]WorkerRecord{}}
}

// Writes counts the writes the store accepted or refused (each would cost
// a write unit on DynamoDB).
func (s *memoryWorkerStore) Writes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// EnsureTable implements WorkerStore.
func (s *memoryWorkerStore) EnsureTable(context.Context) error { return nil }

// Register implements WorkerStore.
func (s *memoryWorkerStore) Register(ctx context.Context, r WorkerRecord) (WorkerRecord, error) {
	if err := ctx.Err(); err != nil {
		return WorkerRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	r = r.Clone()
	r.Heartbeat = 1
	r.LastUpdate = time.Now().Truncate(time.Second)
	s.items[r.ID] = r
	return r.Clone(), nil
}

// Heartbeat implements WorkerStore.
func (s *memoryWorkerStore) Heartbeat(ctx context.Context, r WorkerRecord) (WorkerRecord, error) {
	if err := ctx.Err(); err != nil {
		return WorkerRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	cur, ok := s.items[r.ID]
	if !ok || cur.SessionID != r.SessionID || cur.Heartbeat != r.Heartbeat {
		return WorkerRecord{}, ErrConditionFailed
	}
	r = r.Clone()
	r.Heartbeat = cur.Heartbeat + 1
	r.LastUpdate = time.Now().Truncate(time.Second)
	s.items[r.ID] = r
	return r.Clone(), nil
}

// List implements WorkerStore.
func (s *memoryWorkerStore) List(ctx context.Context) ([]WorkerRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]WorkerRecord, 0, len(s.items))
	for _, r := range s.items {
		out = append(out, r.Clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Deregister implements WorkerStore.
func (s *memoryWorkerStore) Deregister(ctx context.Context, id, session string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if cur, ok := s.items[id]; ok && cur.SessionID == session {
		delete(s.items, id)
	}
	return nil
}

// Get implements WorkerStore.
func (s *memoryWorkerStore) Get(ctx context.Context, id string) (WorkerRecord, error) {
	if err := ctx.Err(); err != nil {
		return WorkerRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.items[id]
	if !ok {
		return WorkerRecord{}, ErrNotFound
	}
	return r.Clone(), nil
}

// Remove implements WorkerStore.
func (s *memoryWorkerStore) Remove(ctx context.Context, r WorkerRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if cur, ok := s.items[r.ID]; ok && cur.SessionID == r.SessionID && cur.Heartbeat == r.Heartbeat {
		delete(s.items, r.ID)
	}
	return nil
}
