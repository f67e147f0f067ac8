package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shardwise/shardwise/internal/seqnum"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

// testHookObserving, if set, is called when a watch for writes begins
// (import and set-checkpoint), after the first reading.
var testHookObserving func()

// testHookBeforeWrite, if set, is called by import just before it writes.
var testHookBeforeWrite func()

// peerCheckpoint is one shard's position in a peer library's table.
type peerCheckpoint struct {
	ShardID    string
	Checkpoint string // a sequence number, SHARD_END, or "" for none yet
	Parents    []string
	Owner      string // the peer's lease owner, if it has any
	// Live says the peer's own lease on the shard is current; why says
	// what was seen.
	Live bool
	Why  string
	// fingerprint changes whenever the peer writes the item.
	fingerprint string
}

// peer is a library whose checkpoints can be imported.
type peer interface {
	// read returns the checkpoints found, sorted by shard, and the items
	// that could not be read.
	read(ctx context.Context, client *dynamodb.Client, now time.Time) ([]peerCheckpoint, []oddItem, error)
	// liveness says what read's Live is based on, for the report.
	liveness() string
	// defaultObserve is how long to watch the table for writes: long
	// enough that a live peer writes something.
	defaultObserve() time.Duration
}

// importRow is one shard in the import's plan and outcome.
type importRow struct {
	ShardID    string   `json:"shard_id"`
	LeaseKey   string   `json:"lease_key"`
	Source     string   `json:"source_checkpoint,omitempty"`
	Checkpoint string   `json:"checkpoint"`
	Parents    []string `json:"parents,omitempty"`
	// Action: "create" (dry run), "created", "exists" (left unchanged).
	Action string `json:"action"`
}

// importReport is `shardwise import -json`.
type importReport struct {
	From        string      `json:"from"`
	SourceTable string      `json:"source_table"`
	LeaseTable  string      `json:"lease_table"`
	Write       bool        `json:"write"`
	Liveness    string      `json:"liveness_checked"`
	ObservedMs  int64       `json:"observed_ms"`
	Live        []string    `json:"live_shards"`
	Rows        []importRow `json:"leases"`
	OddItems    []oddItem   `json:"odd_items"`
	Refused     string      `json:"refused,omitempty"`
	// CreatesTable: the lease table does not exist; -write creates it.
	CreatesTable bool `json:"creates_table,omitempty"`
}

// runImport is `shardwise import`: reads a peer library's checkpoint
// table and writes a Shardwise lease per shard at the same position,
// unowned. Dry run unless -write; every lease is created with a
// conditional put that never overwrites a lease; refused while the peer
// looks live or when a lease exists already (unless -skip-existing).
func runImport(ctx context.Context, env *cmdEnv, args []string) error {
	var t target
	fs := newFlags(env, "import", "-from vmware|harlow -source-table TABLE [-namespace APP-STREAM] -table LEASE_TABLE [-write] [-skip-existing] [-observe D] [-initial-position TRIM_HORIZON|LATEST] [-json]")
	t.register(fs)
	from := fs.String("from", "", "the peer library: vmware (vmware-go-kcl-v2's checkpoint table) or harlow (harlow/kinesis-consumer's DynamoDB store)")
	source := fs.String("source-table", "", "the peer's DynamoDB table")
	namespace := fs.String("namespace", "", "harlow: the namespace to import, APPNAME-STREAMNAME (the store's hash key)")
	write := fs.Bool("write", false, "write the leases (default: print what would be written)")
	skipExisting := fs.Bool("skip-existing", false, "import the other shards when a lease exists already (default: refuse)")
	observe := fs.Duration("observe", 0, "watch the peer's table this long for writes before importing (default: 10s for vmware, 70s for harlow, whose store flushes once a minute)")
	initial := fs.String("initial-position", "TRIM_HORIZON", "checkpoint for a shard the peer has no checkpoint for yet: TRIM_HORIZON or LATEST")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := t.resolve(); err != nil {
		return err
	}
	if *source == "" {
		return usagef("-source-table is required")
	}
	if *source == t.table {
		return usagef("-source-table and -table are the same table %q", t.table)
	}
	var initPos consumer.ExtendedSequenceNumber
	switch *initial {
	case consumer.TrimHorizon.SequenceNumber:
		initPos = consumer.TrimHorizon
	case consumer.Latest.SequenceNumber:
		initPos = consumer.Latest
	default:
		return usagef("-initial-position %q: want TRIM_HORIZON or LATEST", *initial)
	}
	var p peer
	switch *from {
	case "vmware":
		if *namespace != "" {
			return usagef("-namespace is for -from harlow")
		}
		p = vmwarePeer{table: *source}
	case "harlow":
		p = harlowPeer{table: *source, namespace: *namespace}
	case "":
		return usagef("-from is required: vmware or harlow")
	default:
		return usagef("-from %q: want vmware or harlow", *from)
	}
	if *observe < 0 {
		return usagef("-observe must not be negative")
	}
	if *observe == 0 {
		*observe = p.defaultObserve()
	}
	client, err := t.client(ctx)
	if err != nil {
		return err
	}
	rep := importReport{From: *from, SourceTable: *source, LeaseTable: t.table, Write: *write, Liveness: p.liveness(), Live: []string{}, Rows: []importRow{}}
	err = doImport(ctx, client, p, &rep, importOptions{write: *write, skipExisting: *skipExisting, observe: *observe, initial: initPos})
	var ref *refusal
	if err != nil && !errors.As(err, &ref) {
		return err
	}
	if err != nil {
		rep.Refused = ref.msg
	}
	if rep.OddItems == nil {
		rep.OddItems = []oddItem{}
	}
	if t.json {
		if werr := writeJSON(env.stdout, rep); werr != nil {
			return werr
		}
	} else if perr := printImport(env.stdout, rep); perr != nil {
		return perr
	}
	return err
}

type importOptions struct {
	write, skipExisting bool
	observe             time.Duration
	initial             consumer.ExtendedSequenceNumber
}

func doImport(ctx context.Context, client *dynamodb.Client, p peer, rep *importReport, o importOptions) error {
	first, odd, err := p.read(ctx, client, time.Now())
	if err != nil {
		return err
	}
	rep.OddItems = odd
	for _, c := range first {
		if c.Live {
			rep.Live = append(rep.Live, c.ShardID+": "+c.Why)
		}
	}
	// Watch for writes: a live peer renews or checkpoints within the
	// window, whatever the clocks say.
	if len(rep.Live) == 0 && o.observe > 0 {
		start := time.Now()
		if testHookObserving != nil {
			testHookObserving()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.observe):
		}
		rep.ObservedMs = time.Since(start).Milliseconds()
		second, _, err := p.read(ctx, client, time.Now())
		if err != nil {
			return err
		}
		before := map[string]string{}
		for _, c := range first {
			before[c.ShardID] = c.fingerprint
		}
		for _, c := range second {
			if fp, ok := before[c.ShardID]; !ok || fp != c.fingerprint {
				rep.Live = append(rep.Live, fmt.Sprintf("%s: written during the %s watched", c.ShardID, o.observe))
			} else if c.Live {
				rep.Live = append(rep.Live, c.ShardID+": "+c.Why)
			}
			delete(before, c.ShardID)
		}
		for shard := range before {
			rep.Live = append(rep.Live, fmt.Sprintf("%s: deleted during the %s watched", shard, o.observe))
		}
		first = second
	}
	sort.Strings(rep.Live)

	// Leases to write, and which exist already.
	st, err := leaseStore(client, rep.LeaseTable)
	if err != nil {
		return err
	}
	existing := map[string]bool{}
	tableExists := true
	items, err := scanAll(ctx, client, rep.LeaseTable)
	switch {
	case errors.Is(err, errNoTable):
		tableExists = false
		rep.CreatesTable = true
	case err != nil:
		return err
	}
	scan := classifyLeaseItems(items)
	for _, l := range scan.leases {
		existing[l.Key] = true
	}
	for _, o := range scan.odd {
		existing[o.Key] = true
	}
	plan := map[string]leases.Lease{}
	var exists []string
	for _, c := range first {
		l := leases.Lease{Key: c.ShardID, ParentShardIDs: c.Parents, Checkpoint: o.initial}
		if c.Checkpoint != "" {
			l.Checkpoint = consumer.ExtendedSequenceNumber{SequenceNumber: c.Checkpoint}
		}
		row := importRow{ShardID: c.ShardID, LeaseKey: l.Key, Source: c.Checkpoint, Checkpoint: l.Checkpoint.String(), Parents: c.Parents, Action: "create"}
		if existing[l.Key] {
			row.Action = "exists"
			exists = append(exists, l.Key)
		} else {
			plan[l.Key] = l
		}
		rep.Rows = append(rep.Rows, row)
	}
	switch {
	case len(rep.Live) > 0:
		return refusef("the %s workers look live (%d shard(s)); stop them, then import", rep.From, len(rep.Live))
	case len(rep.OddItems) > 0:
		return refusef("%d item(s) of the source table could not be read; fix or delete them first", len(rep.OddItems))
	case len(exists) > 0 && !o.skipExisting:
		return refusef("%d lease(s) exist already in %s (%s); nothing written (-skip-existing imports the others)", len(exists), rep.LeaseTable, strings.Join(exists, ", "))
	case !o.write:
		return nil
	}
	if !tableExists {
		if err := st.EnsureTable(ctx); err != nil {
			return err
		}
	}
	if testHookBeforeWrite != nil {
		testHookBeforeWrite()
	}
	raced := 0
	for i := range rep.Rows {
		r := &rep.Rows[i]
		if r.Action != "create" {
			continue
		}
		ok, err := st.Create(ctx, plan[r.LeaseKey])
		if err != nil {
			return err
		}
		if ok {
			r.Action = "created"
		} else {
			r.Action = "exists"
			raced++
		}
	}
	if raced > 0 {
		return refusef("%d lease(s) appeared while importing and were left unchanged", raced)
	}
	return nil
}

func printImport(w io.Writer, rep importReport) error {
	mode := "dry run (nothing written; -write writes)"
	if rep.Write {
		mode = "write"
	}
	fmt.Fprintf(w, "Import from %s table %s into lease table %s: %s\n", rep.From, rep.SourceTable, rep.LeaseTable, mode)
	fmt.Fprintf(w, "Liveness: %s", rep.Liveness)
	if rep.ObservedMs > 0 {
		fmt.Fprintf(w, "; watched for writes for %s", (time.Duration(rep.ObservedMs) * time.Millisecond).Round(time.Millisecond))
	}
	fmt.Fprintln(w)
	if len(rep.Live) > 0 {
		fmt.Fprintf(w, "Live: %d\n", len(rep.Live))
		for _, l := range rep.Live {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	if rep.CreatesTable {
		fmt.Fprintf(w, "The lease table %s does not exist: -write creates it.\n", rep.LeaseTable)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tLEASE KEY\tSOURCE CHECKPOINT\tCHECKPOINT\tPARENTS\tACTION")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ShardID, r.LeaseKey, dash(r.Source), r.Checkpoint, dash(strings.Join(r.Parents, ",")), r.Action)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, o := range rep.OddItems {
		fmt.Fprintf(w, "unreadable source item %s: %s\n", dash(o.Key), o.Reason)
	}
	if rep.Refused != "" {
		fmt.Fprintf(w, "\nRefused: %s\n", rep.Refused)
	}
	return nil
}

// attrS reads an attribute that must be a string if present.
func attrS(item map[string]types.AttributeValue, name string) (string, error) {
	av, ok := item[name]
	if !ok {
		return "", nil
	}
	s, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		return "", fmt.Errorf("%s is %s, want S", name, avType(av))
	}
	return s.Value, nil
}

// validCheckpoint checks a peer's checkpoint: a sequence number or
// SHARD_END.
func validCheckpoint(cp string) error {
	if cp == "" || cp == consumer.ShardEnd.SequenceNumber {
		return nil
	}
	if !seqnum.Valid(cp) {
		return fmt.Errorf("checkpoint %q is neither a sequence number nor SHARD_END", cp)
	}
	return nil
}
