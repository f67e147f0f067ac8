// Package chaos is Shardwise's multi-process chaos suite: workers run as
// separate OS processes (cmd/chaosworker, built once with go build)
// against the local emulators (kinesis-local, dynalite), a producer writes
// records carrying per-key counters, and a driver applies a bounded
// schedule of faults — SIGKILL, SIGSTOP for longer than the failover time
// then SIGCONT, SIGTERM and a restart under the same worker id, a worker
// joining, a split, a merge — then drains, stops the workers and hands
// everything to Verify.
//
// Each worker process appends what it processes to a journal of its own
// (Journal): every record (shard, sequence number, key, counter) and every
// checkpoint call, stamped with the host's CLOCK_MONOTONIC (Now), which
// every process reads alike, so times from different processes and the
// driver's fault times compare directly. A batch is written with one
// write(2) before it is checkpointed, so a SIGKILL never loses a record a
// checkpoint covers. The driver also reads the lease table every 300 ms.
//
// Verify reports records lost, duplicates (and which fault's window each
// falls in), per-key order violations, concurrent owners of a shard and by
// how much they overlapped, checkpoint regressions, and the longest stall
// per fault; its doc comment defines each precisely. Report.Failures is
// what fails a run.
//
// TestChaosShortSchedule and TestChaosPauses run in `make test` (they skip
// without the emulators); `make chaos` runs FullSchedule through
// cmd/chaos, which prints the report as key=value lines. Every process is
// in a process group of its own with Pdeathsig set, and is killed when
// Run returns, on every path.
package chaos
