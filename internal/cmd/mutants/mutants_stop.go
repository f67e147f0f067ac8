package main

// The shard consumer's stop rule, in a file of its own so the table in
// mutants.go is not edited by every change.
func init() { table = append(table, stopMutants...) }

var stopMutants = []mutant{
	{
		Name:   "stop-drains-fetched-batches",
		Breaks: "a shard asked to stop (shutdown or graceful hand-off) finishes only the batch in hand; with a slow processor, working through the batches fetched behind it outlasts GracefulHandoffTimeout and the hand-off is forced",
		File:   "scheduler/shardconsumer.go",
		Old:    "\t\tif c.stopCtx.Err() != nil {\n\t\t\treturn nil\n\t\t}\n\t\tb, err := q.pop(c.stopCtx)",
		New:    "\t\tb, err := q.pop(c.stopCtx)",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestStopFinishesOnlyTheBatchInHand$",
	},
}
