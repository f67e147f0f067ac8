package checkpointer

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shardwise/shardwise/consumer"
)

func TestNewReportsConfigErrors(t *testing.T) {
	_, err := New(Config{})
	var ce *consumer.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Store" {
		t.Fatalf("New(Config{}) = %v, want a ConfigError for Store", err)
	}
}

// A failed write names the lease after the prefix. (The prefix appears
// once when the store's own error follows the rule.)
func TestWriteErrorPrefixOnce(t *testing.T) {
	ctx := context.Background()
	st, cp, _ := setup(t)
	cp.Delivered(seq("10", 0))
	l := stored(t, st)
	if _, err := st.Take(ctx, l, "w2"); err != nil {
		t.Fatal(err)
	}
	err := cp.Checkpoint(ctx)
	if !errors.Is(err, consumer.ErrLeaseLost) {
		t.Fatalf("Checkpoint: %v", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "shardwise: checkpoint shard-1: ") {
		t.Fatalf("error text %q", msg)
	}
}
