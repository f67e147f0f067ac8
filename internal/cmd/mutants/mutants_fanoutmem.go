package main

// Fan-out's memory bound: what the gate of a subscription admits into the
// worker's byte budget before a message is read, and what it gives back
// once the message is decoded, in a file of their own so the table in
// mutants.go is not edited by every change.
func init() { table = append(table, fanOutMemoryMutants...) }

var fanOutMemoryMutants = []mutant{
	{
		Name:   "fanout-gate-admits-message-length",
		Breaks: "the gate of a fan-out subscription admits what reading and decoding a message holds (its pooled buffer and the decoded records), not just the message's length, so the decode's memory is within the byte budget",
		File:   "internal/fastdecode/gate.go",
		Old:    "func messageCost(n int) int { return bufferCap(n) + n + n/2 }",
		New:    "func messageCost(n int) int { return n }",
		Pkgs:   []string{"./internal/fastdecode"},
		Run:    "^TestGatedReadAllocatesWithinTheAdmittedCost$",
	},
	{
		Name:   "fanout-decoded-releases-all",
		Breaks: "once a message is decoded its event keeps its records' bytes in the byte budget until its batch is processed, so events decoded ahead (in the SDK event stream's goroutines) stay within MaxTotalPendingBytes",
		File:   "scheduler/fanout.go",
		Old:    "if keep := min(int64(n), pp.s.cfg.MaxTotalPendingBytes); keep < *last {",
		New:    "if keep := int64(0); keep < *last {",
		Pkgs:   []string{"./scheduler"},
		Run:    "^(TestFanOutGateSettlesTheBudget|TestFanOutWireReadsWithinTheByteBudget)$",
	},
	{
		Name:   "fanout-batch-drops-its-hold",
		Breaks: "a fan-out batch holds its records' bytes in the byte budget until it is processed (settled from what the gate held for its event), so what is queued stays within MaxTotalPendingBytes",
		File:   "scheduler/fanout.go",
		Old:    "\t\tcase b.held < paid:\n\t\t\ts.releaseBytes(paid - b.held)",
		New:    "\t\tcase b.held < paid:\n\t\t\ts.releaseBytes(paid)",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestFanOutGateSettlesTheBudget$",
	},
}
