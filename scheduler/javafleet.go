package scheduler

import (
	"context"
	"fmt"
	"strings"

	"github.com/shardwise/shardwise/internal/javafleet"
)

// checkJavaFleet refuses to start while a Java KCL fleet runs on the
// tables (unless Config.AllowLiveJavaFleet): before this worker creates,
// takes or is given any lease, it watches the tables for a Java worker's
// heartbeats. Taking the leases of a running Java fleet would have two
// workers process each shard, and its checkpoints move under the other.
func (s *Scheduler) checkJavaFleet(ctx context.Context) error {
	if s.ddb == nil {
		return nil // Stores of the user's own: nothing to read
	}
	if s.cfg.AllowLiveJavaFleet {
		s.log.Info().Msg("Java KCL fleet check skipped (AllowLiveJavaFleet)")
		return nil
	}
	rep, err := javafleet.Detect(ctx, s.ddb, javafleet.Tables{
		Leases:        s.cfg.LeaseTableName,
		WorkerMetrics: s.cfg.WorkerMetricsTableName,
		Coordinator:   s.cfg.CoordinatorTableName,
	}, s.cfg.JavaFleetCheckWindow)
	if err != nil {
		return fmt.Errorf("shardwise: checking the tables for a running Java KCL fleet: %w", err)
	}
	if !rep.Live {
		if rep.Found.JavaWorkerRows > 0 || rep.Found.LeaderLock != "" || rep.Found.ForeignOwnedLeases > 0 {
			s.log.Info().Int("java_worker_rows", rep.Found.JavaWorkerRows).Str("java_leader_lock", rep.Found.LeaderLock).
				Int("foreign_owned_leases", rep.Found.ForeignOwnedLeases).Float64("watched_seconds", rep.WindowSeconds).
				Msg("Java KCL items found, none alive: taking over the tables (Java's own items are left as they are)")
		}
		return nil
	}
	var what []string
	for _, e := range rep.Evidence {
		what = append(what, e.Detail)
	}
	return fmt.Errorf("shardwise: a Java KCL fleet is still running on these tables; refusing to start so that no shard is processed by both: %s. "+
		"Stop every Java KCL worker of application %q, wait a minute (a stopped Java worker's metrics row stays fresh for %v), and start again; "+
		"set Config.AllowLiveJavaFleet only if you are sure no Java worker runs",
		strings.Join(what, "; "), s.cfg.ApplicationName, javafleet.FreshRowAge)
}
