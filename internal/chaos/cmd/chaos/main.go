// Command chaos runs the multi-process chaos suite (internal/chaos)
// against the emulators and prints its figures as key=value lines:
//
//	go run ./internal/emulator/cmd/withemulators -- go run ./internal/chaos/cmd/chaos [-schedule full|short] [-seed N]
//
// `make chaos` runs the full schedule (about five minutes). It builds the
// worker binary, starts the workers as processes of their own, applies the
// schedule's faults, and exits non-zero when the verifier finds a loss, an
// order violation, a checkpoint regression, a record re-processed below an
// acknowledged checkpoint, or two owners of a shard outside the fencing
// window. The journals and worker logs stay in -dir (default: a new
// temporary directory, removed after a run that found nothing).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/shardwise/shardwise/internal/chaos"
	"github.com/shardwise/shardwise/internal/emulator"
)

func main() { os.Exit(run()) }

func run() int {
	var (
		schedule = flag.String("schedule", "full", "full (about five minutes), short (about a minute) or pauses (four SIGSTOPs, about 40s)")
		failover = flag.Duration("failover", 3*time.Second, "the workers' FailoverTime")
		workers  = flag.Int("workers", 0, "workers at the start (default 4 for full, 3 for short)")
		shards   = flag.Int("shards", 0, "shards at the start (default 6 for full, 4 for short)")
		rate     = flag.Int("rate", 100, "records produced per second")
		seed     = flag.Int64("seed", time.Now().UnixNano()%1000, "seed for the choice of fault targets")
		dir      = flag.String("dir", "", "directory for journals and worker logs (default: a temporary one)")
		timeout  = flag.Duration("timeout", 10*time.Minute, "bound on the whole run")
	)
	flag.Parse()
	env := emulator.FromEnviron()
	if env.Kinesis == "" || env.DynamoDB == "" {
		fmt.Fprintln(os.Stderr, "chaos: no emulators; run `make chaos`, which starts them")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := chaos.Options{Env: env, FailoverTime: *failover, Rate: *rate, Seed: *seed, Timeout: *timeout, Log: os.Stderr}
	switch *schedule {
	case "full":
		opts.Schedule, opts.Workers, opts.Shards = chaos.FullSchedule(*failover), 4, 6
	case "short":
		opts.Schedule, opts.Workers, opts.Shards = chaos.ShortSchedule(*failover), 3, 4
	case "pauses":
		opts.Schedule, opts.Workers, opts.Shards = chaos.PauseSchedule(*failover), 3, 4
	default:
		fmt.Fprintf(os.Stderr, "chaos: -schedule %q is not full, short or pauses\n", *schedule)
		return 2
	}
	if *workers > 0 {
		opts.Workers = *workers
	}
	if *shards > 0 {
		opts.Shards = *shards
	}
	keep := *dir != ""
	if !keep {
		d, err := os.MkdirTemp("", "shardwise-chaos-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 1
		}
		*dir = d
	} else if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	opts.Dir = *dir
	bin, err := chaos.BuildWorker(ctx, *dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	opts.WorkerBin = bin

	began := time.Now()
	rep, err := chaos.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err, "(journals and logs in", *dir+")")
		return 1
	}
	fmt.Printf("schedule=%s\nseed=%d\nfailover_ms=%d\nelapsed_s=%.1f\n", *schedule, *seed, failover.Milliseconds(), time.Since(began).Seconds())
	for _, l := range rep.Lines() {
		fmt.Println(l)
	}
	if f := rep.Failures(); len(f) > 0 {
		fmt.Fprintf(os.Stderr, "chaos: FAILED: %v (journals and logs in %s)\n", f, *dir)
		return 1
	}
	if !keep {
		os.RemoveAll(*dir)
	}
	return 0
}
