// Package balancer decides who processes what: leader election in the
// coordinator-state table (the leader's liveness is its worker session's
// heartbeat, observed on each candidate's own monotonic clock), the
// assignment planner (a pure function from leases and worker loads to
// moves), the leader's loop that writes those moves as compare-and-set
// lease updates (graceful hand-offs for live owners), and CPU sampling for
// the load figures workers heartbeat.
//
// It does not fetch records or run processors; the scheduler does.
package balancer
