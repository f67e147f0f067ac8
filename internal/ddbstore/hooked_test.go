package ddbstore

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shardwise/shardwise/internal/awsapi"
)

// hookedDynamo counts the calls made through it, records some inputs, and
// lets a test replace any call. Calls without a hook go to next; with next
// nil it is a pure fake, and an unhooked call panics, which shows a test
// that relies on a call it did not expect.
type hookedDynamo struct {
	next awsapi.DynamoDB

	describeTable func(context.Context, *dynamodb.DescribeTableInput) (*dynamodb.DescribeTableOutput, error)
	createTable   func(context.Context, *dynamodb.CreateTableInput) (*dynamodb.CreateTableOutput, error)
	updateTable   func(context.Context, *dynamodb.UpdateTableInput) (*dynamodb.UpdateTableOutput, error)
	updateItem    func(context.Context, *dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error)
	getItem       func(context.Context, *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error)

	mu           sync.Mutex
	calls        map[string]int               // guarded by mu
	updateTables []*dynamodb.UpdateTableInput // guarded by mu
	scans        []*dynamodb.ScanInput        // guarded by mu
	creates      []*dynamodb.CreateTableInput // guarded by mu
	updates      []*dynamodb.UpdateItemInput  // guarded by mu
	queries      []*dynamodb.QueryInput       // guarded by mu
}

var _ awsapi.DynamoDB = (*hookedDynamo)(nil)

func (h *hookedDynamo) count(op string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.calls == nil {
		h.calls = map[string]int{}
	}
	h.calls[op]++
}

func (h *hookedDynamo) callCount(op string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[op]
}

func (h *hookedDynamo) CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opt ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	h.count("CreateTable")
	h.mu.Lock()
	cp := *in // the store reuses its input across pages
	h.creates = append(h.creates, &cp)
	h.mu.Unlock()
	if h.createTable != nil {
		return h.createTable(ctx, in)
	}
	return h.next.CreateTable(ctx, in, opt...)
}

func (h *hookedDynamo) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opt ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	h.count("DescribeTable")
	if h.describeTable != nil {
		return h.describeTable(ctx, in)
	}
	return h.next.DescribeTable(ctx, in, opt...)
}

func (h *hookedDynamo) UpdateTable(ctx context.Context, in *dynamodb.UpdateTableInput, opt ...func(*dynamodb.Options)) (*dynamodb.UpdateTableOutput, error) {
	h.count("UpdateTable")
	h.mu.Lock()
	cp := *in // the store reuses its input across pages
	h.updateTables = append(h.updateTables, &cp)
	h.mu.Unlock()
	if h.updateTable != nil {
		return h.updateTable(ctx, in)
	}
	return h.next.UpdateTable(ctx, in, opt...)
}

func (h *hookedDynamo) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opt ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	h.count("PutItem")
	return h.next.PutItem(ctx, in, opt...)
}

func (h *hookedDynamo) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opt ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	h.count("GetItem")
	if h.getItem != nil {
		return h.getItem(ctx, in)
	}
	return h.next.GetItem(ctx, in, opt...)
}

func (h *hookedDynamo) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opt ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	h.count("UpdateItem")
	h.mu.Lock()
	cp := *in // the store reuses its input across pages
	h.updates = append(h.updates, &cp)
	h.mu.Unlock()
	if h.updateItem != nil {
		return h.updateItem(ctx, in)
	}
	return h.next.UpdateItem(ctx, in, opt...)
}

func (h *hookedDynamo) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opt ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	h.count("DeleteItem")
	return h.next.DeleteItem(ctx, in, opt...)
}

func (h *hookedDynamo) Query(ctx context.Context, in *dynamodb.QueryInput, opt ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	h.count("Query")
	h.mu.Lock()
	cp := *in // the store reuses its input across pages
	h.queries = append(h.queries, &cp)
	h.mu.Unlock()
	return h.next.Query(ctx, in, opt...)
}

func (h *hookedDynamo) Scan(ctx context.Context, in *dynamodb.ScanInput, opt ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	h.count("Scan")
	h.mu.Lock()
	cp := *in // the store reuses its input across pages
	h.scans = append(h.scans, &cp)
	h.mu.Unlock()
	return h.next.Scan(ctx, in, opt...)
}
