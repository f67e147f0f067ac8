// Command shardwise-inspect prints, read-only, the lease table of a Shardwise (or
// Java KCL v3) application — shard, owner, checkpoint, parents, state —
// and its workers with their load and liveness, against AWS or the local
// emulators.
//
//	go run ./cmd/shardwise-inspect -app orders-consumer            # default AWS config
//	go run ./cmd/shardwise-inspect -app demo-app -local            # emulator endpoints from the environment
//	go run ./cmd/shardwise-inspect -app orders-consumer -watch     # a live view, refreshed every second
//
// With -watch it reads the tables every second, until interrupted or for
// -watch-for, and draws the fleet: each worker with its state (live once
// its heartbeat counter has been seen to change, stale once it has stood
// still for -failover, draining), how long ago the counter changed (by
// this command's clock: worker clocks are never compared), CPU, leases
// held and total lag; each lease with its owner, checkpoint and lag (from
// the owner's worker record); and the hand-offs in progress (a lease whose
// checkpoint owner is not yet its owner), with how long each has been
// pending. On a terminal each frame replaces the last; otherwise frames
// follow one another, separated by a line.
//
// It never writes to any table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/internal/ddbstore"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/internal/leasekey"
	"github.com/shardwise/shardwise/leases"
)

func main() {
	app := flag.String("app", "", "application name (the lease table's name unless -lease-table is given)")
	leaseTable := flag.String("lease-table", "", "lease table (default: the application name)")
	local := flag.Bool("local", false, "use the emulator endpoint in SHARDWISE_DYNAMODB_ENDPOINT")
	watchMode := flag.Bool("watch", false, "refresh a live view every second until interrupted")
	watchFor := flag.Duration("watch-for", 0, "with -watch, stop after this long (default: until interrupted)")
	failover := flag.Duration("failover", 10*time.Second, "with -watch, mark a worker stale once its heartbeat has stood still this long (the application's FailoverTime)")
	flag.Parse()
	if *app == "" {
		fmt.Fprintln(os.Stderr, "inspect: -app is required")
		os.Exit(2)
	}
	if *leaseTable == "" {
		*leaseTable = *app
	}
	var err error
	if *watchMode {
		err = runWatch(*local, watchConfig{app: *app, leaseTable: *leaseTable, every: time.Second, failover: *failover, tty: isTerminal(os.Stdout), readTimeout: 10 * time.Second}, *watchFor)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var client *dynamodb.Client
		client, err = dynamoClient(ctx, *local)
		if err == nil {
			err = inspect(ctx, os.Stdout, client, *app, *leaseTable)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "inspect:", err)
		os.Exit(1)
	}
}

func runWatch(local bool, cfg watchConfig, watchFor time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if watchFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, watchFor)
		defer cancel()
	}
	client, err := dynamoClient(ctx, local)
	if err != nil {
		return err
	}
	t, err := openTables(client, cfg.app, cfg.leaseTable)
	if err != nil {
		return err
	}
	return watch(ctx, os.Stdout, t.read, cfg)
}

func dynamoClient(ctx context.Context, local bool) (*dynamodb.Client, error) {
	if !local {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, err
		}
		return dynamodb.NewFromConfig(cfg), nil
	}
	ep := os.Getenv("SHARDWISE_DYNAMODB_ENDPOINT")
	if ep == "" {
		return nil, errors.New("-local needs SHARDWISE_DYNAMODB_ENDPOINT (run it under `go run ./internal/emulator/cmd/withemulators --`)")
	}
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDSHARDWISELOCAL", "local", "")}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(ep) }), nil
}

// inspect reads the three tables and prints them. Only reads are issued
// (Scan, GetItem); the stores' EnsureTable is never called.
func inspect(ctx context.Context, w io.Writer, client *dynamodb.Client, app, leaseTable string) error {
	st, err := ddbstore.NewDynamoStore(ddbstore.DynamoConfig{Client: client, TableName: leaseTable, BillingMode: types.BillingModePayPerRequest, TableWaitTimeout: time.Minute})
	if err != nil {
		return err
	}
	all, err := st.List(ctx)
	if err != nil {
		return fmt.Errorf("reading lease table %q: %w", leaseTable, err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Key < all[j].Key })
	fmt.Fprintf(w, "Lease table %s: %d leases\n\n", leaseTable, len(all))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tSHARD\tOWNER\tCHECKPOINT\tCOUNTER\tPARENTS\tCHILDREN\tSTATE")
	for _, l := range all {
		stream, shard := leaseStream(l.Key)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", stream, shard, dash(l.Owner), l.Checkpoint, l.Counter,
			dash(strings.Join(l.ParentShardIDs, ",")), dash(strings.Join(l.ChildShardIDs, ",")), leaseState(l))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	ws, err := ddbstore.NewDynamoWorkerStore(client, app+"-WorkerMetricStats", time.Minute)
	if err != nil {
		return err
	}
	workers, err := ws.List(ctx)
	if err != nil {
		fmt.Fprintf(w, "\nWorkers: not readable (%v)\n", err)
		return nil
	}
	leader := ""
	if cs, err := ddbstore.NewDynamoCoordinatorStore(client, app+"-CoordinatorState", time.Minute); err == nil {
		if rec, err := cs.GetLeader(ctx); err == nil {
			leader = rec.Leader
		}
	}
	held := map[string]int{}
	for _, l := range all {
		if !l.IsFinished() {
			held[l.Owner]++
		}
	}
	fmt.Fprintf(w, "\nWorkers: %d (leader: %s)\n\n", len(workers), dash(leader))
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tLEASES\tCPU%\tKB/S\tHEARTBEAT\tLAST UPDATE (its clock)\tSTATE")
	for _, r := range workers {
		kbps := 0.0
		for _, v := range r.LeaseThroughput {
			kbps += v
		}
		cpu := "-"
		if c := kclschema.LatestCPU(r.Stats); c >= 0 {
			cpu = fmt.Sprintf("%.0f", c)
		}
		state := "alive?"
		if r.Draining {
			state = "draining"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f\t%d\t%s\t%s\n", r.ID, held[r.ID], cpu, kbps, r.Heartbeat,
			r.LastUpdate.UTC().Format(time.RFC3339), state)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "Liveness is decided by watching the heartbeat counter change, not by comparing clocks: run inspect twice to see who is moving.")
	return tw.Flush()
}

// leaseStream splits a lease key into the stream it belongs to ("-" in a
// single-stream table, the serialized identifier in a multi-stream one,
// "?" for a key that is neither) and the shard id.
func leaseStream(key string) (stream, shard string) {
	k, err := leasekey.Parse(key)
	switch {
	case err != nil:
		return "?", key
	case k.Multi:
		return k.Stream.String(), k.ShardID
	}
	return "-", k.ShardID
}

func leaseState(l leases.Lease) string {
	switch {
	case l.IsFinished():
		return "finished"
	case l.HandoffPending():
		return "hand-off from " + l.CheckpointOwner
	case l.Owner == "":
		return "unassigned"
	}
	return "assigned"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
