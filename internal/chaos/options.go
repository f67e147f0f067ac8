package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/shardwise/shardwise/internal/emulator"
)

// Step is one fault of a schedule.
type Step struct {
	// Kind is one of the Kind constants.
	Kind string
	// Hold is, for KindStop, how long the process stays stopped; for
	// KindKill, how long the worker id stays down before it starts again
	// (0: at once).
	Hold time.Duration
}

// Options configures Run.
type Options struct {
	Env       emulator.Env // the emulators; Kinesis and DynamoDB required
	WorkerBin string       // the chaosworker binary (BuildWorker); required
	Dir       string       // journals and worker logs; required
	Schedule  []Step

	Workers      int           // workers at the start (default 3)
	Shards       int           // shards at the start (default 4)
	Keys         int           // partition keys (default 64)
	Rate         int           // records per second (default 100)
	FailoverTime time.Duration // the workers' FailoverTime (default 3s)
	Seed         int64         // chooses fault targets and merge pairs

	SettleTimeout  time.Duration // the longest wait for every shard to process again after a step (default 30s)
	DrainTimeout   time.Duration // the longest wait for the last records (default 60s)
	Timeout        time.Duration // the whole run (default 10m)
	WorkerLogLevel string        // the workers' zerolog level (default "info")

	Log io.Writer // progress lines (default: none)
}

func (o Options) validate() error {
	switch {
	case o.Env.Kinesis == "" || o.Env.DynamoDB == "":
		return errors.New("chaos: Options.Env needs the Kinesis and DynamoDB emulators")
	case o.WorkerBin == "":
		return errors.New("chaos: Options.WorkerBin is required (BuildWorker)")
	case o.Dir == "":
		return errors.New("chaos: Options.Dir is required")
	}
	for _, s := range o.Schedule {
		switch s.Kind {
		case KindKill, KindStop, KindTermRestart, KindJoin, KindSplit, KindMerge:
		default:
			return fmt.Errorf("chaos: unknown step kind %q", s.Kind)
		}
	}
	return nil
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Workers, 3)
	def(&o.Shards, 4)
	def(&o.Keys, 64)
	def(&o.Rate, 100)
	defD(&o.FailoverTime, 3*time.Second)
	defD(&o.SettleTimeout, 30*time.Second)
	defD(&o.DrainTimeout, 60*time.Second)
	defD(&o.Timeout, 10*time.Minute)
	if o.WorkerLogLevel == "" {
		o.WorkerLogLevel = "info"
	}
	return o
}

// ShortSchedule is the schedule `make test` runs (about 60-90 s with
// FailoverTime 3s): one SIGKILL (restarted after the failover time), one
// SIGSTOP longer than the failover time but shorter than twice it (where
// a late heartbeat once cancelled self-fencing), one SIGTERM and restart
// under the same id, and one split.
func ShortSchedule(failover time.Duration) []Step {
	return []Step{
		{Kind: KindKill, Hold: failover + time.Second},
		{Kind: KindStop, Hold: failover + failover/2},
		{Kind: KindTermRestart},
		{Kind: KindSplit},
	}
}

// PauseSchedule is four SIGSTOPs of one and a half failover times, on
// workers chosen at random: the pause after which a late heartbeat once
// cancelled self-fencing (about 40 s with FailoverTime 3s).
func PauseSchedule(failover time.Duration) []Step {
	s := make([]Step, 4)
	for i := range s {
		s[i] = Step{Kind: KindStop, Hold: failover + failover/2}
	}
	return s
}

// FullSchedule is the schedule `make chaos` runs (about five minutes with
// FailoverTime 3s): three rounds of 14 steps, every kind of fault, most
// of them twice a round, with pauses from 1.3 to 3 failover times and
// kills restarted after 4 s, at once, and after 2 failover times.
func FullSchedule(failover time.Duration) []Step {
	var s []Step
	for range 3 {
		s = append(s, fullRound(failover)...)
	}
	return s
}

func fullRound(failover time.Duration) []Step {
	return []Step{
		{Kind: KindKill, Hold: failover + time.Second},
		{Kind: KindStop, Hold: failover + failover/2},
		{Kind: KindTermRestart},
		{Kind: KindJoin},
		{Kind: KindSplit},
		{Kind: KindKill}, // restarted at once: the new incarnation re-takes its own leases
		{Kind: KindStop, Hold: 3 * failover},
		{Kind: KindSplit},
		{Kind: KindMerge},
		{Kind: KindStop, Hold: 2*failover - failover/6},
		{Kind: KindKill, Hold: 2 * failover},
		{Kind: KindMerge},
		{Kind: KindTermRestart},
		{Kind: KindStop, Hold: failover + failover/3},
	}
}

// BuildWorker builds the chaosworker binary into dir with `go build` and
// returns its path.
func BuildWorker(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "chaosworker")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/shardwise/shardwise/internal/chaos/cmd/chaosworker")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("chaos: building the worker: %v\n%s", err, out)
	}
	return bin, nil
}
