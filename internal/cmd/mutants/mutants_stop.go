package main

// The shard consumer's stop rule, the stream its processor is told, and
// the leader's retry of lost moves, in a file of their own so the table in mutants.go is not edited by every
// change.
func init() { table = append(table, stopMutants...) }

var stopMutants = []mutant{
	{
		Name:   "stop-drains-fetched-batches",
		Breaks: "a shard asked to stop (shutdown or graceful hand-off) finishes only the batch in hand; with a slow processor, working through the batches fetched behind it outlasts GracefulHandoffTimeout and the hand-off is forced",
		File:   "scheduler/shardconsumer.go",
		Old:    "\t\tif c.stopCtx.Err() != nil {\n\t\t\treturn false\n\t\t}\n\t\t// A worker past its fencing deadline",
		New:    "\t\t// A worker past its fencing deadline",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestStopFinishesOnlyTheBatchInHand$",
	},
	{
		Name:   "factory-not-told-the-stream",
		Breaks: "a StreamProcessorFactory is asked for a shard's processor with the shard's stream (multi-stream applications), not through NewProcessor",
		File:   "scheduler/shardconsumer.go",
		Old:    "if f, ok := c.s.factory.(consumer.StreamProcessorFactory); ok {",
		New:    "if f, ok := c.s.factory.(consumer.StreamProcessorFactory); ok && false {",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestMultiStreamTakesOverJavaLeases$",
	},
	{
		Name:   "lost-moves-wait-for-the-periodic-run",
		Breaks: "moves a run planned but could not write (lost compare-and-sets under traffic) are planned again at the next scan, not an AssignmentInterval later",
		File:   "internal/coordinator/coordinator.go",
		Old:    "len(c.handoffs) == 0 && !c.movesLeft {",
		New:    "len(c.handoffs) == 0 {",
		Pkgs:   []string{"./internal/coordinator"},
		Run:    "^TestLostMovesAreRetriedAtTheNextScan$",
	},
}
