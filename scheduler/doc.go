// Package scheduler is the composition root a program runs: Config, New and
// Run. A Scheduler makes sure the lease table exists, keeps a lease for
// every shard of the stream (shard sync), takes leases, and runs one shard
// consumer per held lease: a fetcher goroutine that polls GetRecords into a
// bounded queue and a processor goroutine that hands batches to the user's
// consumer.Processor, in order, one call at a time.
//
// Run blocks until its context ends, then shuts down gracefully: fetching
// stops, the batch in hand is finished, each processor gets
// ShutdownRequested (so it can checkpoint), and each lease is handed on to
// another live worker (or released when there is none), which resumes at
// the checkpoints. If that takes longer than Config.ShutdownTimeout, the
// processors still running are cancelled and Run reports it
// (consumer.ErrShutdownTimeout).
//
// For operating it in a service: Stats is a snapshot (leases, lag, rates),
// Ready and Healthy are the readiness and liveness of the worker, and
// HealthHandler serves them as Kubernetes-style probes on the service's
// own mux.
package scheduler
