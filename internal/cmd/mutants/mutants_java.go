package main

// The Java KCL migration's safety rules (issue 15), in a file of their
// own so the table in mutants.go is not edited by every change.
func init() { table = append(table, javaMigrationMutants...) }

var javaMigrationMutants = []mutant{
	// --- Moving from the Java KCL: Java's items never misread, a live
	// Java fleet never raced, a rollback finds the table as Java leaves it.
	{
		Name:   "foreign-worker-row-counted-live",
		Breaks: "a worker-metrics row Shardwise did not write (a Java KCL worker's: no session, no heartbeat) is never a live worker the leader assigns leases to or hands them to on shutdown",
		File:   "internal/ddbstore/workers.go",
		Old: `	if s, ok := item[kclschema.AttrSessionID].(*types.AttributeValueMemberS); ok && s.Value != "" {
		r.SessionID = s.Value
	} else {
		return r, fmt.Errorf("shardwise: worker item %q: %w", r.ID, errForeignWorker)
	}
	if f, ok := num(item[kclschema.AttrHeartbeat]); ok {
		r.Heartbeat = int64(f)
	} else {
		return r, fmt.Errorf("shardwise: worker item %q: %w", r.ID, errForeignWorker)
	}`,
		New: `	if s, ok := item[kclschema.AttrSessionID].(*types.AttributeValueMemberS); ok {
		r.SessionID = s.Value
	}
	if f, ok := num(item[kclschema.AttrHeartbeat]); ok {
		r.Heartbeat = int64(f)
	}`,
		Pkgs: []string{"./internal/ddbstore"},
		Run:  "^TestJavaWorkerRowIsNotAWorker$",
	},
	{
		Name:   "live-java-fleet-not-refused",
		Breaks: "a worker takes no lease (creates, takes or registers nothing) while a Java KCL fleet is live on its tables, unless AllowLiveJavaFleet",
		File:   "scheduler/javafleet.go",
		Old:    "\tif !rep.Live {\n",
		New:    "\tif true {\n",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestRunRefusesALiveJavaFleetBeforeAnyWrite$",
	},
	{
		Name:   "java-fleet-check-after-leases",
		Breaks: "the Java-fleet check runs before the worker's first lease write (shard sync creates leases, the session registers)",
		File:   "scheduler/scheduler.go",
		Old:    "\tif err := s.checkJavaFleet(ctx); err != nil {\n\t\treturn err\n\t}\n",
		New:    "\tdefer func() { _ = s.checkJavaFleet(ctx) }()\n",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestRunRefusesALiveJavaFleetBeforeAnyWrite$",
	},
	{
		Name:   "java-fresh-row-not-live",
		Breaks: "a Java worker-metrics row updated within the Java leader's 60 s is evidence of a live Java worker",
		File:   "internal/javafleet/javafleet.go",
		Old:    "if row.lut > 0 && age <= FreshRowAge {",
		New:    "if row.lut > 0 && age <= 0 {",
		Pkgs:   []string{"./internal/javafleet"},
		Run:    "^TestFreshJavaRowIsLiveWithoutChange$",
	},
	{
		Name:   "java-lease-renewal-ignored",
		Breaks: "a lease owned by a non-Shardwise worker whose counter moves is evidence of a live Java worker",
		File:   "internal/javafleet/javafleet.go",
		Old:    "if b.counter == \"\" || a.counter == b.counter || b.owner == \"\" || cur.sw[b.owner] {",
		New:    "if true {",
		Pkgs:   []string{"./internal/javafleet"},
		Run:    "^TestLiveJavaFleetDetected$",
	},
	{
		Name:   "parent-deleted-before-children-past-trim-horizon",
		Breaks: "a SHARD_END parent lease is kept until every child has a checkpoint past TRIM_HORIZON/AT_TIMESTAMP (the Java KCL's rule, so a rollback does not re-create and re-read it)",
		File:   "internal/coordinator/finished.go",
		Old:    "if !ok || cl.Checkpoint.IsZero() || cl.Checkpoint.SequenceNumber == consumer.TrimHorizon.SequenceNumber || cl.Checkpoint.SequenceNumber == consumer.AtTimestamp.SequenceNumber {",
		New:    "if !ok || (cl.Owner == \"\" && cl.Checkpoint.SequenceNumber != consumer.ShardEnd.SequenceNumber) {",
		Pkgs:   []string{"./internal/coordinator"},
		Run:    "^TestFinishedParentKeptUntilChildrenPastTrimHorizon$",
	},
	{
		Name:   "legacy-leader-cleanup-touches-java-lock",
		Breaks: "only a leader item in Shardwise's earlier format is ever deleted from under the Java KCL's key, never Java's lock item",
		File:   "internal/ddbstore/coordinator.go",
		Old:    "\t\tdefault:\n\t\t\treturn \"\", \"\", \"\", false\n\t\t}\n\t}\n\treturn epoch, leader, session, epoch != \"\"",
		New:    "\t\tdefault:\n\t\t}\n\t}\n\treturn epoch, leader, session, epoch != \"\"",
		Pkgs:   []string{"./internal/ddbstore"},
		Run:    "^TestLegacyLeaderShape$",
	},
	{
		Name:   "odd-lease-item-wedges-listing",
		Breaks: "one lease item with an attribute of an unexpected type is skipped (logged, counted); the other leases are listed, so shard sync and assignment go on",
		File:   "internal/ddbstore/leases.go",
		Old:    "\t\t\t\tunreadable++\n\t\t\t\ts.skipUnreadable(item, err)\n\t\t\t\tcontinue\n",
		New:    "\t\t\t\treturn nil, err\n",
		Pkgs:   []string{"./internal/ddbstore"},
		Run:    "^TestListSkipsAnOddItem$",
	},
	{
		Name:   "drain-heartbeat-races-loop",
		Breaks: "the worker record's writes are serialized, so the shutdown's draining heartbeat never races the loop's and fences a healthy worker",
		File:   "internal/session/session.go",
		Old:    "func (s *Session) beat(ctx context.Context) error {\n\ts.writing <- struct{}{}\n\tdefer func() { <-s.writing }()\n",
		New:    "func (s *Session) beat(ctx context.Context) error {\n",
		Pkgs:   []string{"./internal/session"},
		Run:    "^TestSetDrainingDuringAHeartbeatDoesNotFence$",
	},
	{
		Name:   "empty-kpl-aggregate-dropped",
		Breaks: "a record of exactly the KPL magic and an empty message's MD5 is delivered as one plain record (as the Java KCL does), not as nothing",
		File:   "internal/kpl/deaggregate.go",
		Old:    "return len(data) > len(magic)+md5.Size && [4]byte(data) == magic",
		New:    "return len(data) >= len(magic)+md5.Size && [4]byte(data) == magic",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestEmptyAggregateIsOnePlainRecord$",
	},
	{
		Name:      "cli-check-misses-live-java-fleet",
		Breaks:    "shardwise check reports a live Java KCL fleet (LIVE, with the evidence) and exits 1, so a migration script stops before starting Shardwise",
		File:      "cmd/shardwise/check_cmd.go",
		Old:       "j := &javaFleetCheck{Live: rep.Live,",
		New:       "j := &javaFleetCheck{Live: false,",
		Pkgs:      []string{"./cmd/shardwise"},
		Run:       "^TestCheckVerbReportsALiveJavaFleet$",
		Emulators: true,
	},
}
