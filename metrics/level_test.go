package metrics

import (
	"encoding/json"
	"testing"
)

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]Level{"NONE": LevelNone, "summary": LevelSummary, " Detailed ": LevelDetailed} {
		got, err := ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
		if again, err := ParseLevel(got.String()); err != nil || again != got {
			t.Errorf("ParseLevel(%v.String()) = %v, %v", got, again, err)
		}
	}
	for _, in := range []string{"", "ALL", "detail"} {
		if _, err := ParseLevel(in); err == nil {
			t.Errorf("ParseLevel(%q) succeeded", in)
		}
	}
	var zero Level
	if zero != LevelDetailed {
		t.Errorf("zero Level is %v, want DETAILED (KCL's default)", zero)
	}
}

func TestLevelPublishes(t *testing.T) {
	for _, tc := range []struct {
		sink, metric Level
		want         bool
	}{
		{LevelDetailed, LevelDetailed, true},
		{LevelDetailed, LevelSummary, true},
		{LevelSummary, LevelSummary, true},
		{LevelSummary, LevelDetailed, false},
		{LevelNone, LevelSummary, false},
		{LevelNone, LevelDetailed, false},
		{LevelDetailed, LevelNone, false}, // recording at NONE is never published
		{LevelNone, LevelNone, false},
	} {
		if got := tc.sink.Publishes(tc.metric); got != tc.want {
			t.Errorf("%v.Publishes(%v) = %v, want %v", tc.sink, tc.metric, got, tc.want)
		}
	}
}

func TestLevelText(t *testing.T) {
	var cfg struct{ Level Level }
	if err := json.Unmarshal([]byte(`{"Level":"SUMMARY"}`), &cfg); err != nil || cfg.Level != LevelSummary {
		t.Fatalf("unmarshal: %v, %v", cfg.Level, err)
	}
	b, err := json.Marshal(cfg)
	if err != nil || string(b) != `{"Level":"SUMMARY"}` {
		t.Errorf("marshal: %s, %v", b, err)
	}
	if err := json.Unmarshal([]byte(`{"Level":"LOUD"}`), &cfg); err == nil {
		t.Error("unmarshal of an unknown level succeeded")
	}
}
