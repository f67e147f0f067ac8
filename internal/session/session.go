package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/lograte"
	"github.com/shardwise/shardwise/leases"
)

// ErrFenced is the cause given to processors when their worker fenced
// itself: it could not prove it was alive in time, so another worker may
// take its leases. It wraps consumer.ErrLeaseLost.
var ErrFenced = fmt.Errorf("%w: worker session fenced (no successful heartbeat in time)", consumer.ErrLeaseLost)

// SessionConfig configures a worker session. It takes final values: the
// scheduler computes every default (scheduler.Config), and StartSession
// only checks them.
type SessionConfig struct {
	// Store keeps the worker record. Required.
	Store leases.WorkerStore
	// WorkerID is this worker's id. Required.
	WorkerID string
	// FailoverTime is how long the leader waits, on its own clock, after a
	// heartbeat counter stopped changing before it declares the worker
	// dead.
	FailoverTime time.Duration
	// HeartbeatInterval is the time between heartbeats. Required, below
	// FailoverTime - FenceMargin.
	HeartbeatInterval time.Duration
	// FenceMargin is how long before FailoverTime (counted from the send
	// time of the last successful heartbeat) the worker fences itself.
	// Required (the scheduler's default is FailoverTime/5; see Session for
	// why it must be positive).
	FenceMargin time.Duration
	// Load fills in the load figures of each heartbeat (may be nil).
	Load func(r *leases.WorkerRecord)
	// OnFenced is called (from the session's goroutine) when the session
	// passes its fencing deadline; OnAlive when a heartbeat succeeds again
	// after that.
	OnFenced func()
	OnAlive  func()
	Logger   zerolog.Logger
}

// Session is a worker's liveness: one record in the worker-metrics table,
// heartbeated with a compare-and-set on a counter. Leases are held by a
// worker while its session lives; no per-lease write happens at steady
// state.
//
// # Why self-fencing makes takeover safe
//
// The leader declares a worker dead when the worker's heartbeat counter has
// not changed for FailoverTime, measured on the leader's own monotonic
// clock from the moment the leader first observed the counter's current
// value. No wall clocks are compared across hosts.
//
// Let T be the instant this worker sent its last successful heartbeat
// (the request's start, read from this worker's monotonic clock). The write
// lands after T, so the leader observes the new counter value at some
// instant >= T, and declares the worker dead no earlier than T +
// FailoverTime of leader time. This worker stops every processor and
// refuses every checkpoint at T + FailoverTime - FenceMargin of its own
// time (Fence checks the deadline itself, so a process that was paused —
// GC, SIGSTOP, a frozen VM — fences the instant it runs again, before it
// hands out a batch or writes a checkpoint).
//
// The two clocks only measure intervals, so only their rates matter. If
// each runs within a relative error r of true time, the worker fences at
// most (FailoverTime - FenceMargin)(1 + r) after T and the leader acts at
// least FailoverTime(1 - r) after T; the worker is first as long as
// FenceMargin > 2r·FailoverTime/(1 + r). Quartz clocks drift by about
// 1e-4; the default margin of FailoverTime/5 (the scheduler's) covers a rate error of 10%,
// which leaves room for the leader's own delay between deciding and
// writing a reassignment to be zero and still be safe. Even if the
// ordering were broken, a late worker could only process records twice:
// every lease write is a compare-and-set, so it can never move a
// checkpoint of a lease that was reassigned.
type Session struct {
	cfg  SessionConfig
	log  zerolog.Logger
	warn *lograte.Limiter // repeated heartbeat failures
	stop context.CancelFunc
	done chan struct{}
	// writing (capacity 1) serializes the writes of the record (the
	// loop's heartbeats, SetDraining's, a re-registration): each is a
	// compare-and-set on the counter the previous one wrote, so two at
	// once would refuse one and fence a healthy worker (seen at shutdown:
	// SetDraining's beat racing the loop's, the worker fenced and its
	// leases not released). A channel rather than a mutex, so a wait for
	// it is one testing/synctest sees as blocked.
	writing chan struct{}

	mu       sync.Mutex          // guards the fields below
	rec      leases.WorkerRecord // as last written
	lastSent time.Time           // send time of the last successful heartbeat (monotonic)
	fenced   bool                // OnFenced was called and OnAlive not since
	draining bool
}

// StartSession registers a new session (replacing any earlier incarnation
// of the same worker id, whose next heartbeat then fails) and starts
// heartbeating. The first write must succeed.
func StartSession(ctx context.Context, cfg SessionConfig) (*Session, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Session{cfg: cfg, log: cfg.Logger, warn: lograte.New(lograte.Interval), done: make(chan struct{}), writing: make(chan struct{}, 1)}
	r := leases.WorkerRecord{ID: cfg.WorkerID, SessionID: newSessionID()}
	if cfg.Load != nil {
		cfg.Load(&r)
	}
	sent := time.Now()
	rec, err := cfg.Store.Register(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("shardwise: registering worker %s: %w", cfg.WorkerID, err)
	}
	s.rec, s.lastSent = rec, sent
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	go s.loop(loopCtx)
	return s, nil
}

func (c SessionConfig) validate() error {
	bad := func(field, format string, args ...any) error {
		return &consumer.ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.Store == nil:
		return bad("Store", "is required")
	case c.WorkerID == "":
		return bad("WorkerID", "is required")
	case c.FailoverTime <= 0:
		return bad("FailoverTime", "%v is not positive", c.FailoverTime)
	case c.HeartbeatInterval <= 0:
		return bad("HeartbeatInterval", "%v is not positive", c.HeartbeatInterval)
	case c.FenceMargin <= 0:
		return bad("FenceMargin", "%v is not positive", c.FenceMargin)
	case c.HeartbeatInterval >= c.FailoverTime-c.FenceMargin:
		return bad("HeartbeatInterval", "%v leaves no time before the fencing deadline (%v - %v)", c.HeartbeatInterval, c.FailoverTime, c.FenceMargin)
	}
	return nil
}

func newSessionID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ID is the session id (new for every start of the worker).
func (s *Session) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.SessionID
}

// Heartbeats is the counter value last written.
func (s *Session) Heartbeats() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.Heartbeat
}

// deadline is when this worker must have stopped processing unless a
// heartbeat succeeds first. Called with s.mu held.
func (s *Session) deadline() time.Time {
	return s.lastSent.Add(s.cfg.FailoverTime - s.cfg.FenceMargin)
}

// Fence returns ErrFenced when the worker is past its fencing deadline (or
// its session was replaced), nil while it may process and checkpoint. It
// reads the monotonic clock itself, so it is right even when the
// heartbeat goroutine has not run for a while.
func (s *Session) Fence() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fenced || time.Now().After(s.deadline()) {
		return ErrFenced
	}
	return nil
}

// LastHeartbeat is the send time of the last successful heartbeat (or of
// the registration), on this worker's monotonic clock: the worker fences
// itself at LastHeartbeat + FailoverTime - FenceMargin.
func (s *Session) LastHeartbeat() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSent
}

// SetDraining marks the worker as shutting down, with a heartbeat written
// at once, so the leader assigns it nothing more.
func (s *Session) SetDraining(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	return s.beat(ctx)
}

// Close stops heartbeating and deletes the worker's record, so the leader
// knows at once that the worker is gone. Call it after every lease was
// handed on or released.
func (s *Session) Close(ctx context.Context) error {
	s.stop()
	<-s.done
	s.mu.Lock()
	id, sid := s.rec.ID, s.rec.SessionID
	s.mu.Unlock()
	return s.cfg.Store.Deregister(ctx, id, sid)
}

// Abandon stops heartbeating without deleting the record, as a process
// that died would: the leader finds the worker dead after the failover
// time. For failure drills and tests.
func (s *Session) Abandon() {
	s.stop()
	<-s.done
}

func (s *Session) loop(ctx context.Context) {
	defer close(s.done)
	next := time.NewTimer(s.cfg.HeartbeatInterval)
	defer next.Stop()
	for {
		s.mu.Lock()
		untilFence := time.Until(s.deadline())
		fenced := s.fenced
		s.mu.Unlock()
		// The fencing timer is armed only while not fenced: once fenced,
		// the deadline is in the past and only heartbeat retries remain.
		var fenceC <-chan time.Time
		var fence *time.Timer
		if !fenced {
			fence = time.NewTimer(max(untilFence, 0))
			fenceC = fence.C
		}
		select {
		case <-ctx.Done():
			if fence != nil {
				fence.Stop()
			}
			return
		case <-fenceC:
			s.setFenced()
			// Keep trying to get alive again, at the retry pace.
			next.Reset(s.retryDelay())
			continue
		case <-next.C:
		}
		if fence != nil {
			fence.Stop()
		}
		err := s.beat(ctx)
		switch {
		case err == nil:
			// The next heartbeat is due an interval after this one was
			// sent, not after it returned: the fencing deadline counts
			// from the send, so a slow call must not eat into the time
			// left for the next one (or its retries).
			s.mu.Lock()
			due := time.Until(s.lastSent.Add(s.cfg.HeartbeatInterval))
			s.mu.Unlock()
			next.Reset(max(due, 0))
		case errors.Is(err, leases.ErrConditionFailed):
			// The record is not as this session last wrote it: a later
			// incarnation took over the worker id, the record was
			// deleted, or this session's own previous heartbeat landed
			// and only its response was lost (the counter moved without
			// us). Which of these cannot be told from here, and all end
			// the session the same way: fence at once, then start a new
			// session so the worker can work again; its leases are
			// re-taken with a compare-and-set, which fences whatever else
			// runs under this id.
			s.log.Error().Err(err).Msg("heartbeat refused: the worker record changed (another process with the same worker id, a deleted record, or a lost response to this worker's previous heartbeat); fencing and re-registering")
			s.setFenced()
			if err := s.reregister(ctx); err != nil && ctx.Err() == nil {
				s.warn.Warn(&s.log, "reregister").Err(err).Msg("re-registering the worker failed")
			}
			next.Reset(s.retryDelay())
		default:
			if ctx.Err() != nil {
				return
			}
			s.warn.Warn(&s.log, "heartbeat").Err(err).Msg("heartbeat failed; retrying")
			next.Reset(s.retryDelay())
		}
	}
}

// retryDelay spaces retries after a failed heartbeat: several chances
// before the fencing deadline, without hammering a struggling table.
func (s *Session) retryDelay() time.Duration {
	return max(s.cfg.HeartbeatInterval/4, 50*time.Millisecond)
}

// beat writes one heartbeat and moves the fencing deadline on success.
//
// A worker that is past its fencing deadline fences before it records a
// success, whatever the order in which its timers fired: a process paused
// (SIGSTOP, a long GC, a frozen VM) for longer than the failover time
// resumes with both its heartbeat and its fencing timer due, and a
// heartbeat call can itself outlast the deadline. In both cases the leader
// may already have declared this worker dead and given its leases to
// others, and the heartbeat's compare-and-set still succeeds (nobody else
// writes this worker's record). Were the success recorded first, Fence
// would report alive again and the shard consumers, never stopped, would
// hand out one more batch of shards that now belong to other workers. So
// the deadline is checked before the call (fence at once, do not wait for
// a slow call) and again before the success is recorded; once fenced, the
// success is a rejoin: OnAlive makes the scheduler re-take, with a
// compare-and-set, only the leases this worker still owns.
func (s *Session) beat(ctx context.Context) error {
	s.writing <- struct{}{}
	defer func() { <-s.writing }()
	s.mu.Lock()
	r := s.rec.Clone()
	r.Draining = s.draining
	s.mu.Unlock()
	if s.cfg.Load != nil {
		s.cfg.Load(&r)
	}
	s.fenceIfLate()
	sent := time.Now()
	// A heartbeat that lands after the deadline is worthless to the
	// fencing argument's T; bound the call so it cannot hang.
	callCtx, cancel := context.WithTimeout(ctx, s.cfg.FailoverTime)
	defer cancel()
	// The loop's fencing timer does not run while this call is in flight,
	// and a stalled call (a DynamoDB partition, a hung connection) may
	// return only at its timeout, long after the leader gave the leases
	// away: fence at the deadline itself, from a timer of the call's own.
	s.mu.Lock()
	untilFence := time.Until(s.deadline())
	s.mu.Unlock()
	fenced := make(chan struct{})
	fenceDuring := time.AfterFunc(max(untilFence, 0), func() {
		defer close(fenced)
		s.setFenced()
	})
	rec, err := s.cfg.Store.Heartbeat(callCtx, r)
	if !fenceDuring.Stop() {
		<-fenced // fencing completes (processors stopped) before anything below
	}
	if err != nil {
		return err
	}
	s.fenceIfLate() // the call may have outlasted the deadline
	s.mu.Lock()
	s.rec = rec
	s.lastSent = sent
	wasFenced := s.fenced
	s.fenced = false
	s.mu.Unlock()
	if wasFenced {
		s.log.Info().Msg("heartbeat succeeded again; worker session alive")
		if s.cfg.OnAlive != nil {
			s.cfg.OnAlive()
		}
	}
	return nil
}

func (s *Session) reregister(ctx context.Context) error {
	s.writing <- struct{}{}
	defer func() { <-s.writing }()
	s.mu.Lock()
	r := leases.WorkerRecord{ID: s.rec.ID, SessionID: newSessionID(), Draining: s.draining}
	s.mu.Unlock()
	if s.cfg.Load != nil {
		s.cfg.Load(&r)
	}
	sent := time.Now()
	rec, err := s.cfg.Store.Register(ctx, r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.rec, s.lastSent = rec, sent
	s.fenced = false
	s.mu.Unlock()
	if s.cfg.OnAlive != nil {
		s.cfg.OnAlive()
	}
	return nil
}

// fenceIfLate fences the worker if its deadline has passed and it has not
// fenced yet.
func (s *Session) fenceIfLate() {
	s.mu.Lock()
	late := !s.fenced && time.Now().After(s.deadline())
	s.mu.Unlock()
	if late {
		s.setFenced()
	}
}

func (s *Session) setFenced() {
	s.mu.Lock()
	already := s.fenced
	s.fenced = true
	s.mu.Unlock()
	if already {
		return
	}
	s.log.Error().Dur("failover_time", s.cfg.FailoverTime).Msg("no successful heartbeat in time: fencing this worker (all processors stop, checkpoints refused)")
	if s.cfg.OnFenced != nil {
		s.cfg.OnFenced()
	}
}
