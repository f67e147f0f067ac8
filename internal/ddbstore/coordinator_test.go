package ddbstore

import (
	"strconv"
	"testing"
	"time"

	"github.com/shardwise/shardwise/internal/emulator"
	"github.com/shardwise/shardwise/internal/storesuite"
)

func TestDynamoCoordinatorStore(t *testing.T) {
	env := emulator.RequireDynamoDB(t)
	st, err := NewDynamoCoordinatorStore(emulator.DynamoDBClient(env.DynamoDB), "coord-"+strconv.FormatInt(time.Now().UnixNano(), 36), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	storesuite.Coordinator(t, st)
}
