package ddbstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/rs/zerolog"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/leases"
)

// These tests drive EnsureTable through table states no emulator shows on
// demand (slow creation, a concurrent index adder, a refused index), on a
// fake DynamoDB inside a synctest bubble so waiting costs no real time.

// fakeTable is the state of one table as DescribeTable reports it.
type fakeTable struct {
	mu     sync.Mutex
	exists bool              // guarded by mu
	status types.TableStatus // guarded by mu
	index  types.IndexStatus // guarded by mu; "" means no owner index
	keys   []types.KeySchemaElement
	defs   []types.AttributeDefinition
	// onDescribe, if set, runs under mu before each description, to
	// script state changes over time.
	onDescribe func(f *fakeTable)
}

func newFakeTable() *fakeTable {
	return &fakeTable{
		keys: []types.KeySchemaElement{{AttributeName: aws.String(kclschema.AttrLeaseKey), KeyType: types.KeyTypeHash}},
		defs: keyAttributeDefinitions(),
	}
}

func (f *fakeTable) set(exists bool, status types.TableStatus, index types.IndexStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exists, f.status, f.index = exists, status, index
}

func (f *fakeTable) describe(_ context.Context, in *dynamodb.DescribeTableInput) (*dynamodb.DescribeTableOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.onDescribe != nil {
		f.onDescribe(f)
	}
	if !f.exists {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Requested resource not found")}
	}
	desc := &types.TableDescription{
		TableName:            in.TableName,
		TableStatus:          f.status,
		KeySchema:            f.keys,
		AttributeDefinitions: f.defs,
		BillingModeSummary:   &types.BillingModeSummary{BillingMode: types.BillingModePayPerRequest},
	}
	if f.index != "" {
		desc.GlobalSecondaryIndexes = []types.GlobalSecondaryIndexDescription{{
			IndexName:   aws.String(kclschema.OwnerIndexName),
			IndexStatus: f.index,
			KeySchema:   ownerIndexKeySchema(),
			Projection:  &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}}
	}
	return &dynamodb.DescribeTableOutput{Table: desc}, nil
}

func fakeStore(t *testing.T, f *fakeTable, h *hookedDynamo, timeout time.Duration) *DynamoStore {
	t.Helper()
	h.describeTable = f.describe
	s, err := NewDynamoStore(DynamoConfig{
		Client:           h,
		TableName:        "fake-leases",
		BillingMode:      types.BillingModePayPerRequest,
		TableWaitTimeout: timeout,
		Logger:           zerolog.New(zerolog.NewTestWriter(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEnsureTableWaitsUntilActive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeTable()
		creatingPolls := 0
		f.onDescribe = func(f *fakeTable) {
			if f.exists && f.status == types.TableStatusCreating {
				creatingPolls++
				if creatingPolls == 5 {
					f.status, f.index = types.TableStatusActive, types.IndexStatusActive
				}
			}
		}
		h := &hookedDynamo{}
		var created *dynamodb.CreateTableInput
		h.createTable = func(_ context.Context, in *dynamodb.CreateTableInput) (*dynamodb.CreateTableOutput, error) {
			created = in
			f.set(true, types.TableStatusCreating, types.IndexStatusCreating)
			return &dynamodb.CreateTableOutput{}, nil
		}
		s := fakeStore(t, f, h, time.Minute)
		if err := s.EnsureTable(t.Context()); err != nil {
			t.Fatalf("EnsureTable: %v", err)
		}
		if n := h.callCount("CreateTable"); n != 1 {
			t.Fatalf("CreateTable calls = %d", n)
		}
		if n := h.callCount("DescribeTable"); n != 6 {
			t.Fatalf("DescribeTable calls = %d, want 6 (absent, 4 x CREATING, ACTIVE)", n)
		}
		if !s.indexReady.Load() {
			t.Fatal("owner index not marked ready although ACTIVE")
		}

		if created.BillingMode != types.BillingModePayPerRequest || created.ProvisionedThroughput != nil {
			t.Fatalf("CreateTable billing %q throughput %+v", created.BillingMode, created.ProvisionedThroughput)
		}
		if len(created.KeySchema) != 1 || aws.ToString(created.KeySchema[0].AttributeName) != kclschema.AttrLeaseKey || created.KeySchema[0].KeyType != types.KeyTypeHash {
			t.Fatalf("CreateTable key schema %+v", created.KeySchema)
		}
		if len(created.GlobalSecondaryIndexes) != 1 {
			t.Fatalf("CreateTable indexes %+v", created.GlobalSecondaryIndexes)
		}
		gsi := created.GlobalSecondaryIndexes[0]
		if aws.ToString(gsi.IndexName) != kclschema.OwnerIndexName || gsi.Projection.ProjectionType != types.ProjectionTypeKeysOnly || gsi.ProvisionedThroughput != nil {
			t.Fatalf("CreateTable index %+v", gsi)
		}
	})
}

func TestEnsureTableTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeTable()
		f.set(true, types.TableStatusCreating, types.IndexStatusCreating)
		h := &hookedDynamo{}
		s := fakeStore(t, f, h, 2*time.Minute) // the scheduler's
		start := time.Now()
		err := s.EnsureTable(t.Context())
		elapsed := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("EnsureTable: %v, want a deadline error", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "fake-leases") || !strings.Contains(msg, "CREATING") {
			t.Fatalf("error %q names neither the table nor its status", msg)
		}
		if elapsed < 2*time.Minute || elapsed > 2*time.Minute+time.Second {
			t.Fatalf("gave up after %v, want %v", elapsed, 2*time.Minute)
		}
		if n := h.callCount("DescribeTable"); n < 5 || n > 200 {
			t.Fatalf("%d DescribeTable polls in 2 minutes", n)
		}
	})
}

func TestEnsureTableConcurrentCreator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeTable()
		h := &hookedDynamo{}
		h.createTable = func(context.Context, *dynamodb.CreateTableInput) (*dynamodb.CreateTableOutput, error) {
			// Another worker's CreateTable got there first.
			f.set(true, types.TableStatusCreating, types.IndexStatusCreating)
			f.mu.Lock()
			f.onDescribe = func(f *fakeTable) { f.status, f.index = types.TableStatusActive, types.IndexStatusActive }
			f.mu.Unlock()
			return nil, &types.ResourceInUseException{Message: aws.String("Table already exists")}
		}
		s := fakeStore(t, f, h, time.Minute)
		if err := s.EnsureTable(t.Context()); err != nil {
			t.Fatalf("EnsureTable: %v", err)
		}
	})
}

func TestEnsureTableRecreatesDeletedTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeTable()
		f.set(true, types.TableStatusDeleting, types.IndexStatusActive)
		polls := 0
		f.onDescribe = func(f *fakeTable) {
			if polls++; polls == 3 && f.status == types.TableStatusDeleting {
				f.exists = false
			}
		}
		h := &hookedDynamo{}
		h.createTable = func(context.Context, *dynamodb.CreateTableInput) (*dynamodb.CreateTableOutput, error) {
			f.set(true, types.TableStatusActive, types.IndexStatusActive)
			return &dynamodb.CreateTableOutput{}, nil
		}
		s := fakeStore(t, f, h, time.Minute)
		if err := s.EnsureTable(t.Context()); err != nil {
			t.Fatalf("EnsureTable: %v", err)
		}
		if n := h.callCount("CreateTable"); n != 1 {
			t.Fatalf("CreateTable calls = %d, want 1", n)
		}
	})
}

func TestEnsureTableUnusableStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeTable()
		f.set(true, types.TableStatusArchived, types.IndexStatusActive)
		h := &hookedDynamo{}
		err := fakeStore(t, f, h, time.Minute).EnsureTable(t.Context())
		if err == nil || !strings.Contains(err.Error(), "ARCHIVED") {
			t.Fatalf("EnsureTable of an archived table: %v", err)
		}
	})
}

func TestEnsureTableAddsOwnerIndex(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeTable()
		f.set(true, types.TableStatusActive, "")
		h := &hookedDynamo{}
		h.updateTable = func(context.Context, *dynamodb.UpdateTableInput) (*dynamodb.UpdateTableOutput, error) {
			f.set(true, types.TableStatusUpdating, types.IndexStatusCreating)
			return &dynamodb.UpdateTableOutput{}, nil
		}
		s := fakeStore(t, f, h, time.Minute)
		s.indexRecheck = time.Hour
		if err := s.EnsureTable(t.Context()); err != nil {
			t.Fatalf("EnsureTable: %v", err)
		}
		if n := h.callCount("UpdateTable"); n != 1 {
			t.Fatalf("UpdateTable calls = %d, want 1", n)
		}
		if s.indexReady.Load() {
			t.Fatal("index marked ready while it is being built")
		}

		// A second EnsureTable sees the index being built and leaves it.
		if err := s.EnsureTable(t.Context()); err != nil || h.callCount("UpdateTable") != 1 {
			t.Fatalf("second EnsureTable: %v, UpdateTable calls %d", err, h.callCount("UpdateTable"))
		}

		f.set(true, types.TableStatusActive, types.IndexStatusActive)
		describes := h.callCount("DescribeTable")
		if s.ownerIndexReady(t.Context()) {
			t.Fatal("index ready before the recheck interval passed")
		}
		if h.callCount("DescribeTable") != describes {
			t.Fatal("ownerIndexReady described the table before the recheck interval passed")
		}
		time.Sleep(time.Hour) // synctest: advances the bubble's clock only
		if !s.ownerIndexReady(t.Context()) {
			t.Fatal("index not ready after it became ACTIVE")
		}
	})
}

func TestEnsureTableConcurrentIndexAdder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeTable()
		f.set(true, types.TableStatusActive, "")
		h := &hookedDynamo{}
		h.updateTable = func(context.Context, *dynamodb.UpdateTableInput) (*dynamodb.UpdateTableOutput, error) {
			f.set(true, types.TableStatusUpdating, types.IndexStatusCreating) // the other worker's
			return nil, &types.ResourceInUseException{Message: aws.String("table is being updated")}
		}
		s := fakeStore(t, f, h, time.Minute)
		if err := s.EnsureTable(t.Context()); err != nil {
			t.Fatalf("EnsureTable: %v", err)
		}
		if n := h.callCount("UpdateTable"); n != 1 {
			t.Fatalf("UpdateTable calls = %d, want 1", n)
		}
	})
}

func TestEnsureTableIndexLimitExceeded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeTable()
		f.set(true, types.TableStatusUpdating, "")
		h := &hookedDynamo{}
		calls := 0
		h.updateTable = func(context.Context, *dynamodb.UpdateTableInput) (*dynamodb.UpdateTableOutput, error) {
			if calls++; calls < 3 {
				// Another index is being built on the table.
				return nil, &types.LimitExceededException{Message: aws.String("Only 1 online index can be created or deleted simultaneously per table")}
			}
			f.set(true, types.TableStatusUpdating, types.IndexStatusCreating)
			return &dynamodb.UpdateTableOutput{}, nil
		}
		s := fakeStore(t, f, h, time.Minute)
		if err := s.EnsureTable(t.Context()); err != nil {
			t.Fatalf("EnsureTable: %v", err)
		}
		if calls != 3 {
			t.Fatalf("UpdateTable calls = %d, want 3", calls)
		}
	})
}

func TestEnsureTableIndexRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeTable()
		f.set(true, types.TableStatusActive, "")
		h := &hookedDynamo{}
		h.updateTable = func(context.Context, *dynamodb.UpdateTableInput) (*dynamodb.UpdateTableOutput, error) {
			return nil, &smithy.GenericAPIError{Code: "ValidationException", Message: "refused"}
		}
		s := fakeStore(t, f, h, time.Minute)
		if err := s.EnsureTable(t.Context()); err != nil {
			t.Fatalf("EnsureTable: %v (a refused index leaves the scan fall-back, not a failure)", err)
		}
		if n := h.callCount("UpdateTable"); n != 2 {
			t.Fatalf("UpdateTable calls = %d, want 2 (one retry in case a concurrent adder won)", n)
		}
		if s.indexReady.Load() {
			t.Fatal("missing index marked ready")
		}
	})
}

func TestConditionFailureUsesReturnedItem(t *testing.T) {
	stored := leaseItem(leases.Lease{Key: "k", Owner: "other", Counter: 9})
	cases := []struct {
		name     string
		failItem map[string]types.AttributeValue
		getItem  func(context.Context, *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error)
		want     error
		wantGets int
	}{
		{name: "item returned", failItem: stored, want: leases.ErrConditionFailed},
		{name: "gone", want: leases.ErrNotFound, wantGets: 1,
			getItem: func(context.Context, *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
				return &dynamodb.GetItemOutput{}, nil
			}},
		{name: "still there", want: leases.ErrConditionFailed, wantGets: 1,
			getItem: func(context.Context, *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
				return &dynamodb.GetItemOutput{Item: stored}, nil
			}},
		{name: "read-back fails", want: leases.ErrConditionFailed, wantGets: 1,
			getItem: func(context.Context, *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
				return nil, &smithy.GenericAPIError{Code: "InternalServerError"}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &hookedDynamo{getItem: tc.getItem}
			h.updateItem = func(context.Context, *dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
				return nil, &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed"), Item: tc.failItem}
			}
			s := fakeStore(t, newFakeTable(), h, time.Minute)
			_, err := s.Take(t.Context(), leases.Lease{Key: "k", Owner: "me", Counter: 3}, "me")
			if !errors.Is(err, tc.want) {
				t.Fatalf("Take: %v, want %v", err, tc.want)
			}
			if n := h.callCount("GetItem"); n != tc.wantGets {
				t.Fatalf("GetItem calls = %d, want %d", n, tc.wantGets)
			}
		})
	}
}

func TestDynamoConfigValidate(t *testing.T) {
	client := &hookedDynamo{}
	cases := []struct {
		cfg    DynamoConfig
		fields []string
	}{
		{DynamoConfig{}, []string{"Client", "TableName", "BillingMode", "TableWaitTimeout"}},
		{DynamoConfig{Client: client, TableName: "ab"}, []string{"TableName"}},
		{DynamoConfig{Client: client, TableName: "has space"}, []string{"TableName"}},
		{DynamoConfig{Client: client, TableName: "leases", BillingMode: "ON_DEMAND"}, []string{"BillingMode"}},
		{DynamoConfig{Client: client, TableName: "leases", BillingMode: types.BillingModeProvisioned}, []string{"ReadCapacity", "WriteCapacity"}},
		{DynamoConfig{Client: client, TableName: "leases", BillingMode: types.BillingModePayPerRequest, ReadCapacity: 5}, []string{"ReadCapacity"}},
		{DynamoConfig{Client: client, TableName: "leases", ScanPageSize: -1, TableWaitTimeout: -time.Second}, []string{"ScanPageSize", "TableWaitTimeout"}},
	}
	for _, tc := range cases {
		s, err := NewDynamoStore(tc.cfg)
		if err == nil || s != nil {
			t.Errorf("NewDynamoStore(%+v) = %v, %v; want an error", tc.cfg, s, err)
			continue
		}
		for _, f := range tc.fields {
			if !strings.Contains(err.Error(), "DynamoConfig."+f) {
				t.Errorf("error %q does not name field %s", err, f)
			}
		}
	}

	s, err := NewDynamoStore(DynamoConfig{Client: client, TableName: "my-app", BillingMode: types.BillingModePayPerRequest, TableWaitTimeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if s.billing != types.BillingModePayPerRequest || s.waitTimeout != 2*time.Minute || s.pageSize != 0 || s.TableName() != "my-app" {
		t.Fatalf("values: billing %q wait %v page %d", s.billing, s.waitTimeout, s.pageSize)
	}
	if n := len(client.calls); n != 0 {
		t.Fatalf("NewDynamoStore made %d requests", n)
	}
}
