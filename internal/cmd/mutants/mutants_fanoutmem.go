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
	{
		Name:   "fanout-sdk-decoder-ungated",
		Breaks: "with the SDK's decoder (Config.SDKDecoder) a fan-out subscription also reads a message only once the byte budget has room for decoding it, so the SDK's event-stream goroutines do not decode events ahead of the budget",
		File:   "scheduler/scheduler.go",
		Old:    "s.subOpt = fastdecode.SDKGatedSubscribeToShardOption",
		New:    "s.subOpt = func(fastdecode.Gate) func(*kinesis.Options) { return fastdecode.SDKSubscribeToShardOption }",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestFanOutWireReadsWithinTheByteBudget$/^sdk$",
	},
	{
		Name:   "fanout-sdk-gate-admits-message-length",
		Breaks: "the gate in front of the SDK's event-stream decoder admits what the SDK's decoding of a message allocates (5 times its length), not just its length",
		File:   "internal/fastdecode/sdkgate.go",
		Old:    "func sdkMessageCost(n int) int { return 5 * n }",
		New:    "func sdkMessageCost(n int) int { return n }",
		Pkgs:   []string{"./internal/fastdecode"},
		Run:    "^TestSDKGatedReadAllocatesWithinTheAdmittedCost$",
	},
	{
		Name:   "fanout-client-default-window",
		Breaks: "a fan-out worker that builds its Kinesis client from AWSConfig gives each subscription a 256 KB HTTP/2 receive window, so what the transport reads ahead of the byte budget is 16 MB over 64 shards, not Go's default 256 MB",
		File:   "scheduler/scheduler.go",
		Old:    "opts = append(opts, func(o *kinesis.Options) { o.HTTPClient = fanOutHTTPClient(o.HTTPClient) })",
		New:    "_ = fanOutHTTPClient",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestFanOutClientHasSmallStreamBuffer$",
	},
}
