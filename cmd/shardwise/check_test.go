package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/internal/javafleet"
	"github.com/shardwise/shardwise/internal/kclschema"
)

// javaTables writes a lease table and coordination tables as the Java
// KCL 3.x leaves them (attribute names and types of KCL-REFERENCE.md):
// single-stream leases owned by Java workers, a multi-stream lease,
// worker-metrics rows without Shardwise's session, the DynamoDB lock
// client's Leader item, the migration item, a KCL 3.5 entity, and a lease
// whose pendingCheckpointState is a number.
func javaTables(t *testing.T, f *fixture) {
	t.Helper()
	lease := func(key, owner, counter, cp string, extra map[string]types.AttributeValue) {
		item := map[string]types.AttributeValue{
			kclschema.AttrLeaseKey: s(key), kclschema.AttrLeaseCounter: n(counter),
			kclschema.AttrCheckpoint: s(cp), kclschema.AttrCheckpointSubSequenceNumber: n("0"),
			kclschema.AttrOwnerSwitchesSinceCheckpoint: n("0"),
			kclschema.AttrStartingHashKey:              s("0"), kclschema.AttrEndingHashKey: s("340282366920938463463374607431768211455"),
		}
		if owner != "" {
			item[kclschema.AttrLeaseOwner] = s(owner)
		}
		for k, v := range extra {
			item[k] = v
		}
		putItem(t, f.client, f.app, item)
	}
	lease("shardId-000000000000", "java-host-1", "812", "49650000000000000000000000000000000000000000000000000011", nil)
	lease("shardId-000000000001", "java-host-2", "790", "TRIM_HORIZON", map[string]types.AttributeValue{kclschema.AttrEntityType: s("LEASE")})
	lease("shardId-000000000002", "", "3", "49650000000000000000000000000000000000000000000000000012", map[string]types.AttributeValue{
		kclschema.AttrPendingCheckpoint: s("49650000000000000000000000000000000000000000000000000013"), kclschema.AttrPendingCheckpointSubSequenceNumber: n("0"),
		kclschema.AttrPendingCheckpointState: n("0"),
	})
	lease("123456789012:orders:1700000000:shardId-000000000000", "java-host-1", "5", "LATEST", map[string]types.AttributeValue{
		"streamName": s("123456789012:orders:1700000000"), "shardId": s("shardId-000000000000"),
	})
	putItem(t, f.client, f.app, map[string]types.AttributeValue{kclschema.AttrLeaseKey: s("Migration3.0"), kclschema.AttrEntityType: s("CLIENT_VERSION_MIGRATION")})
	putItem(t, f.client, f.tables.workersTable, map[string]types.AttributeValue{
		kclschema.AttrWorkerID: s("java-host-1"), kclschema.AttrLastUpdate: n("1796486000"),
		kclschema.AttrStats: &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"C": &types.AttributeValueMemberL{Value: []types.AttributeValue{n("31.5")}}}},
	})
	putItem(t, f.client, f.tables.coordTable, map[string]types.AttributeValue{
		kclschema.AttrCoordKey: s("Leader"), kclschema.AttrLockOwnerName: s("java-host-2"), kclschema.AttrLockLeaseDuration: s("120000"), kclschema.AttrLockRecordVersion: s("0a1b2c3d"),
	})
	putItem(t, f.client, f.tables.coordTable, map[string]types.AttributeValue{kclschema.AttrCoordKey: s(kclschema.CoordJavaMigrationKey), "cv": s("CLIENT_VERSION_3x")})
}

func TestCheckVerbOnJavaTables(t *testing.T) {
	f := newFixture(t, "check")
	javaTables(t, f)
	if _, err := f.tables.workers.Register(context.Background(), workerRec("sw-1")); err != nil {
		t.Fatal(err)
	}
	// The Java workers are stopped: their leases' counters stand still
	// while check watches, and their worker row is hours old.
	out, stderr, code := cli(t, "check", "-table", f.app, "-observe", "300ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	t.Logf("\n%s", out)
	for _, want := range []string{
		"Lease table " + f.app + ": written by Shardwise and Java KCL",
		"leases: 4 (single-stream 3, multi-stream 1), owned 3, finished 0, hand-offs pending 0",
		"stream: 123456789012:orders:1700000000",
		"owner java-host-1: 2 lease(s), no Shardwise worker row (Java worker?)",
		"other KCL entities: 1",
		"Migration3.0: CLIENT_VERSION_MIGRATION",
		"odd items: 1",
		// Read or not depending on how lenient the lease decoder is.
		"pendingCheckpointState is N, want B (the Java KCL writes both)",
		"Worker-metrics table " + f.app + "-WorkerMetricStats: 2 item(s): Shardwise 1, Java KCL 1, other 0",
		"java-host-1: Java KCL worker metrics (lut 2026-12-05T15:53:20Z)",
		"sw-1: Shardwise worker (session s-sw-1)",
		"Coordinator-state table " + f.app + "-CoordinatorState: 2 item(s): Shardwise 0, Java KCL 2, other 0",
		"Leader: Java KCL leader lock (ownerName java-host-2, recordVersionNumber 0a1b2c3d, leaseDuration 120000)",
		"Migration3.0: Java KCL 2.x-to-3.x migration state",
		"Live Java fleet: none (watched the tables for ",
		"2 lease owner(s) have no Shardwise worker row",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "LIVE") {
		t.Errorf("a stopped Java fleet reported live")
	}
	out, _, _ = cli(t, "check", "-table", f.app, "-json", "-observe", "0s")
	var rep checkReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Leases.MultiStream != 1 || len(rep.OddItems) != 1 || rep.OddItems[0].Key != "shardId-000000000002" ||
		rep.JavaFleet == nil || rep.JavaFleet.Live || rep.JavaFleet.Evidence == nil || rep.JavaFleet.LeaderLock != "java-host-2" {
		t.Errorf("json %v: %+v", err, rep)
	}
}

func TestCheckVerbOnShardwiseTables(t *testing.T) {
	f := newFixture(t, "checksw")
	seedLeases(t, f)
	out, stderr, code := cli(t, "check", "-table", f.app, "-observe", "200ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"written by Shardwise and Java KCL", // java-host-1 owns a lease and has no Shardwise row
		"Coordinator-state table " + f.app + "-CoordinatorState: 1 item(s): Shardwise 1, Java KCL 0, other 0",
		"owner w1: 2 lease(s), Shardwise worker",
		"odd items: 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestCheckVerbReportsALiveJavaFleet: while a Java fleet heartbeats its
// lock and renews its leases, check says LIVE, lists the evidence (in
// the table and in -json) and exits 1; once it stops, check exits 0.
func TestCheckVerbReportsALiveJavaFleet(t *testing.T) {
	f := newFixture(t, "checklive")
	javaTables(t, f)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 1; i <= 1200; i++ { // bounded: two minutes at most
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			updateItem(t, f.client, f.tables.coordTable, kclschema.AttrCoordKey, kclschema.CoordLegacyLeaderKey,
				"SET #a = :v", kclschema.AttrLockRecordVersion, s(fmt.Sprintf("0a1b2c3d-%d", i)))
			updateItem(t, f.client, f.app, kclschema.AttrLeaseKey, "shardId-000000000001", "ADD #a :v", kclschema.AttrLeaseCounter, n("1"))
		}
	})
	stopFleet := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopFleet()

	out, stderr, code := cli(t, "check", "-table", f.app, "-observe", "1s")
	if code != exitError || !strings.Contains(stderr, "live Java KCL fleet") {
		t.Errorf("exit %d, stderr %q; want exit 1 and the reason", code, stderr)
	}
	for _, want := range []string{
		"Live Java fleet: LIVE (watched the tables for ",
		`Java leader lock "Leader" in table ` + f.tables.coordTable + `, held by java-host-2, changed its recordVersionNumber`,
		"lease shardId-000000000001 in table " + f.app + ", owned by java-host-2 (no Shardwise worker record), had its leaseCounter move",
		"LIVE Java KCL workers: stop them before starting Shardwise.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = cli(t, "check", "-table", f.app, "-observe", "1s", "-json")
	var rep checkReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitError || !rep.JavaFleet.Live || len(rep.JavaFleet.Evidence) == 0 || rep.JavaFleet.Advice == "" {
		t.Errorf("json: exit %d, %v: %s", code, err, out)
	}
	kinds := map[string]bool{}
	for _, e := range rep.JavaFleet.Evidence {
		kinds[e.Kind] = true
	}
	if !kinds[javafleet.KindLeaderLock] || !kinds[javafleet.KindLeaseRenewal] {
		t.Errorf("evidence kinds %v", kinds)
	}

	stopFleet()
	out, stderr, code = cli(t, "check", "-table", f.app, "-observe", "500ms")
	if code != 0 || !strings.Contains(out, "Live Java fleet: none (watched the tables for ") {
		t.Errorf("after the fleet stopped: exit %d, %s\n%s", code, stderr, out)
	}
}
