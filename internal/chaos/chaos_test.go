//go:build linux

package chaos

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardwise/shardwise/internal/emulator"
)

// TestChaosShortSchedule runs the short schedule (one SIGKILL, one SIGSTOP
// longer than the failover time, one SIGTERM and restart under the same
// id, one split) with worker processes against the emulators, and fails
// on any loss, order violation, checkpoint regression, re-processing below
// an acknowledged checkpoint, or two owners of a shard outside the fencing
// window. `make chaos` runs the full schedule.
func TestChaosShortSchedule(t *testing.T) {
	runChaos(t, ShortSchedule(chaosFailover))
}

// TestChaosPauses pauses a worker four times for one and a half failover
// times: a worker that fails to fence on waking (a late heartbeat that
// cancels self-fencing) processes shards that moved on with some, not
// certain, probability at each pause, so one pause alone would let such a
// bug through now and then.
func TestChaosPauses(t *testing.T) {
	runChaos(t, PauseSchedule(chaosFailover))
}

const chaosFailover = 3 * time.Second

func runChaos(t *testing.T, schedule []Step) {
	env := emulator.Require(t)
	dir, err := os.MkdirTemp("", "shardwise-chaos-test-")
	if err != nil {
		t.Fatal(err)
	}
	keep := false
	t.Cleanup(func() {
		if keep {
			t.Logf("journals and worker logs kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	// Progress lines are kept for the end, and streamed with -v.
	progress := &logBuffer{t: t, stream: testing.Verbose()}
	bin, err := BuildWorker(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(t.Context(), Options{
		Env: env, WorkerBin: bin, Dir: dir,
		Schedule: schedule, FailoverTime: chaosFailover,
		Workers: 3, Shards: 4, Seed: time.Now().UnixNano() % 1000,
		Timeout: 4 * time.Minute,
		Log:     progress,
	})
	if err != nil {
		keep = true
		t.Fatalf("%v\n%s", err, progress)
	}
	// The verdict first (the mutants tool quotes a failed test's first
	// message), then how the run went.
	if f := rep.Failures(); len(f) > 0 {
		keep = true
		t.Errorf("the chaos run found: %v", f)
	}
	t.Logf("run:\n%s\nreport:\n%s", progress, rep)
	// The run must have exercised what it claims to.
	if rep.Produced == 0 || rep.Processed < rep.Produced {
		t.Errorf("produced %d, processed %d: the run did not carry records through", rep.Produced, rep.Processed)
	}
	if len(rep.Faults) != len(schedule) {
		t.Errorf("%d faults carried out, want %d", len(rep.Faults), len(schedule))
	}
	for _, f := range rep.Faults {
		if f.Moved == 0 || f.Unresumed > 0 {
			keep = true
			t.Errorf("fault %d (%s on %s): %d shards moved, %d never processed again", f.N, f.Kind, f.Target, f.Moved, f.Unresumed)
		}
	}
}

// logBuffer keeps the progress lines of a run, and passes each to t.Log
// as well when stream is set.
type logBuffer struct {
	t      *testing.T
	stream bool
	mu     sync.Mutex
	b      strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	if l.stream {
		l.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
