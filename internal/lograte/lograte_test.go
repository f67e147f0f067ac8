package lograte

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestBurstIsBoundedAndCounted(t *testing.T) {
	l := New(10 * time.Second)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	// 1,000 failures in 25 s (one every 25 ms) of one key, and one of
	// another key.
	for i := range 1000 {
		now = time.Unix(1000, 0).Add(time.Duration(i) * 25 * time.Millisecond)
		l.Warn(&log, "getrecords").Err(errors.New("boom")).Msg("GetRecords failed")
	}
	l.Warn(&log, "heartbeat").Msg("heartbeat failed")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// Written at 0 s, 10 s and 20 s, then the other key.
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), buf.String())
	}
	if strings.Contains(lines[0], "suppressed") || !strings.Contains(lines[1], `"suppressed":399`) || !strings.Contains(lines[2], `"suppressed":399`) {
		t.Errorf("suppressed counts wrong:\n%s", buf.String())
	}
	if !strings.Contains(lines[3], "heartbeat failed") || strings.Contains(lines[3], "suppressed") {
		t.Errorf("another key is limited on its own: %s", lines[3])
	}
}

func TestKeysAreForgotten(t *testing.T) {
	l := New(time.Second)
	now := time.Unix(0, 0)
	l.now = func() time.Time { return now }
	for i := range maxKeys {
		l.Allow(string(rune('a'+i%26)) + time.Duration(i).String())
	}
	now = now.Add(2 * time.Second)
	if ok, _ := l.Allow("new"); !ok {
		t.Fatal("a new key was suppressed")
	}
	if len(l.keys) != 1 {
		t.Errorf("%d keys remembered, want the stale ones forgotten", len(l.keys))
	}
}
