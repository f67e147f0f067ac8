package scheduler

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"
)

// probeCheck is one named check of a probe, with its error (nil: passed).
type probeCheck struct {
	name string
	err  error
}

// Ready reports whether the worker is ready, for a readiness probe: nil
// once Run has started the worker — the stream was found, the tables
// exist, the initial shard sync ran and the worker session is registered —
// the first lease discovery has completed, the worker is not fenced, and
// every lease it holds has started (its processor's Initialize returned;
// a child lease waiting for its parents counts as started). It returns an
// error naming the reason before that, while the worker shuts down and
// after Run returned. Safe to call at any time from any goroutine.
func (s *Scheduler) Ready() error { return firstFailed(s.readiness()) }

// Healthy reports whether the worker is alive, for a liveness probe: nil
// unless Run has returned, the worker is fenced (its last successful
// heartbeat was sent more than FailoverTime - FenceMargin ago, so it has
// stopped processing until a heartbeat succeeds), or a shard is stalled (a
// processor has held a batch for longer than Config.StallTimeout). The
// error names the reason. A worker that has not finished starting is
// healthy (guard start-up with a startup or readiness probe). Safe to call
// at any time from any goroutine.
func (s *Scheduler) Healthy() error { return firstFailed(s.liveness()) }

// HealthHandler serves the worker's probes in the Kubernetes style, for a
// service to mount on its own mux (Shardwise runs no server):
//
//	h := sched.HealthHandler()
//	mux.Handle("/readyz", h) // Ready
//	mux.Handle("/livez", h)  // Healthy
//
// It answers a path whose last element is "readyz" or "livez" (so it can
// also be mounted under a prefix, e.g. mux.Handle("/shardwise/", h)) with
// 200 and "ok", or 503 and the reason, as plain text, and 404 for any
// other path. With the query parameter "verbose" it lists every check,
// passed ("[+]name ok") or failed ("[-]name failed: reason").
func (s *Scheduler) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var checks []probeCheck
		switch path.Base(r.URL.Path) {
		case "readyz":
			checks = s.readiness()
		case "livez":
			checks = s.liveness()
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		failed := firstFailed(checks)
		var b strings.Builder
		if r.URL.Query().Has("verbose") {
			for _, c := range checks {
				if c.err == nil {
					fmt.Fprintf(&b, "[+]%s ok\n", c.name)
				} else {
					fmt.Fprintf(&b, "[-]%s failed: %v\n", c.name, c.err)
				}
			}
		}
		if failed != nil {
			if b.Len() == 0 {
				fmt.Fprintln(&b, failed)
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		} else {
			b.WriteString("ok\n")
		}
		_, _ = w.Write([]byte(b.String()))
	})
}

func firstFailed(cs []probeCheck) error {
	for _, c := range cs {
		if c.err != nil {
			return c.err
		}
	}
	return nil
}

// runCheck fails before Run, while shutting down and after Run returned.
func (s *Scheduler) runCheck() error {
	switch {
	case s.stopped.Load():
		return errors.New("shardwise: the worker has stopped (Run returned)")
	case s.stopping.Load():
		return errors.New("shardwise: the worker is shutting down")
	case !s.running.Load():
		return errors.New("shardwise: Run has not been called")
	}
	return nil
}

// readiness lists the readiness checks; a check that gates the others
// (Run running, start-up finished) ends the list when it fails.
func (s *Scheduler) readiness() []probeCheck {
	cs := []probeCheck{{"run", s.runCheck()}}
	if cs[0].err != nil {
		return cs
	}
	if s.session.Load() == nil || s.coordinator.Load() == nil {
		return append(cs, probeCheck{"started", errors.New("shardwise: starting: checking the stream and the tables, syncing shards, registering the worker")})
	}
	var discovered error
	if !s.discovered.Load() {
		discovered = errors.New("shardwise: the first lease discovery has not completed")
	}
	return append(cs, probeCheck{"started", nil}, probeCheck{"discovery", discovered},
		probeCheck{"heartbeat", s.fenceCheck()}, probeCheck{"leases", s.leasesStartedCheck()})
}

func (s *Scheduler) liveness() []probeCheck {
	var run error
	if s.stopped.Load() {
		run = errors.New("shardwise: the worker has stopped (Run returned)")
	}
	return []probeCheck{{"run", run}, {"heartbeat", s.fenceCheck()}, {"stall", s.stallCheck()}}
}

// fenceCheck fails while the worker is fenced (nil before the session
// starts).
func (s *Scheduler) fenceCheck() error {
	sess := s.session.Load()
	if sess == nil || sess.Fence() == nil {
		return nil
	}
	return fmt.Errorf("shardwise: fenced: the last successful heartbeat was sent %v ago (the bound is FailoverTime - FenceMargin = %v); processing is stopped until a heartbeat succeeds",
		time.Since(sess.LastHeartbeat()).Round(time.Millisecond), s.cfg.FailoverTime-s.cfg.FenceMargin)
}

// leasesStartedCheck fails while a held lease's processor is not yet
// initialized.
func (s *Scheduler) leasesStartedCheck() error {
	var pending []string
	s.mu.Lock()
	for key, c := range s.consumers {
		select {
		case <-c.done:
			continue
		default:
		}
		if st := c.state(); st == "initializing" || st == "starting" {
			pending = append(pending, key)
		}
	}
	s.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	sort.Strings(pending)
	return fmt.Errorf("shardwise: %d leases not started yet (Initialize has not returned): %s", len(pending), strings.Join(pending, ", "))
}

// stallCheck fails when a processor has held a batch for longer than
// StallTimeout.
func (s *Scheduler) stallCheck() error {
	if s.cfg.StallTimeout < 0 {
		return nil
	}
	type stall struct {
		key     string
		held    time.Duration
		records int
	}
	var stalls []stall
	now := time.Now()
	s.mu.Lock()
	for key, c := range s.consumers {
		if held, n := c.lag.heldFor(now); held > s.cfg.StallTimeout {
			stalls = append(stalls, stall{key, held, n})
		}
	}
	s.mu.Unlock()
	if len(stalls) == 0 {
		return nil
	}
	sort.Slice(stalls, func(i, j int) bool { return stalls[i].key < stalls[j].key })
	first := stalls[0]
	more := ""
	if len(stalls) > 1 {
		more = fmt.Sprintf(" (and %d more shards)", len(stalls)-1)
	}
	return fmt.Errorf("shardwise: shard %s stalled: its processor has held a batch of %d records for %v without handling it (StallTimeout %v)%s",
		first.key, first.records, first.held.Round(time.Millisecond), s.cfg.StallTimeout, more)
}
