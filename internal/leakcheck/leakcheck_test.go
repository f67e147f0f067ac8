package leakcheck

import (
	"testing"
	"time"
)

func TestLeakedSeesAndForgetsAGoroutine(t *testing.T) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-stop
	}()
	if Leaked() == "" {
		t.Fatal("a running goroutine of this package's test was not reported")
	}
	close(stop)
	<-done
	if left := Wait(2 * time.Second); left != "" {
		t.Fatalf("goroutine reported after it ended:\n%s", left)
	}
}
