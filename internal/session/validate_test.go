package session

import (
	"errors"
	"testing"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

// TestSessionConfigValidate: every required field and bound is checked,
// and a heartbeat interval that leaves no time to retry before the
// fencing deadline (HeartbeatInterval >= FailoverTime - FenceMargin) is
// refused. Survivors of make mutants-auto.
func TestSessionConfigValidate(t *testing.T) {
	good := SessionConfig{Store: leases.NewMemoryStores().Workers, WorkerID: "w1", FailoverTime: 10 * time.Second, HeartbeatInterval: 5 * time.Second, FenceMargin: 2 * time.Second}
	if err := good.validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	edge := good
	edge.HeartbeatInterval = edge.FailoverTime - edge.FenceMargin - time.Millisecond
	if err := edge.validate(); err != nil {
		t.Fatalf("heartbeat just inside the fencing deadline refused: %v", err)
	}
	for _, tc := range []struct {
		field string
		edit  func(*SessionConfig)
	}{
		{"Store", func(c *SessionConfig) { c.Store = nil }},
		{"WorkerID", func(c *SessionConfig) { c.WorkerID = "" }},
		{"FailoverTime", func(c *SessionConfig) { c.FailoverTime = 0 }},
		{"HeartbeatInterval", func(c *SessionConfig) { c.HeartbeatInterval = 0 }},
		{"FenceMargin", func(c *SessionConfig) { c.FenceMargin = 0 }},
		{"HeartbeatInterval", func(c *SessionConfig) { c.HeartbeatInterval = c.FailoverTime - c.FenceMargin }},
	} {
		c := good
		tc.edit(&c)
		var ce *consumer.ConfigError
		if err := c.validate(); !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%+v: validate() = %v, want a ConfigError for %s", c, err, tc.field)
		}
	}
}
