// Package crashtest holds the mechanism tests and failure drills use to
// stop a scheduler the way a killed process stops. It is internal so that
// no user can reach it: a crash is not part of the public API.
package crashtest

import "errors"

// ErrCrash, as the cause of a scheduler's Run context
// (context.WithCancelCause), makes the worker stop at once, with no
// ShutdownRequested, no checkpoint, no hand-on and no goodbye to the
// leader, as if its process had been killed. Its leases wait for the
// failover time.
var ErrCrash = errors.New("shardwise: simulated crash")
