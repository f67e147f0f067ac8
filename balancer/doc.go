// Package balancer is the assignment planner: Plan, a pure function from
// the leases and the live workers' loads to the moves that assign orphaned
// leases, shed leases above a cap and even out load, in the Java KCL v3's
// manner (reBalanceThresholdPercentage, dampeningPercentage). Use it to
// simulate assignments; the scheduler's leader runs it on every assignment
// and writes its moves as compare-and-set lease updates.
//
// It reads nothing and writes nothing: leader election, worker liveness
// and applying the moves are the scheduler's.
package balancer
