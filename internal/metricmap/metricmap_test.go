package metricmap

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/metrics"
)

// TestTableCoversEveryName: every metric name in internal/metricnames has
// a row, so a metric the scheduler records gets its deliberate mapping
// rather than the generic one.
func TestTableCoversEveryName(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../metricnames/names.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, id := range vs.Names {
			if !strings.HasPrefix(id.Name, "Metric") {
				continue
			}
			v, err := strconv.Unquote(vs.Values[i].(*ast.BasicLit).Value)
			if err != nil {
				t.Fatal(err)
			}
			n++
			if _, ok := Known(v); !ok {
				t.Errorf("%s = %q has no row in the mapping table", id.Name, v)
			}
		}
		return true
	})
	if n < 15 {
		t.Fatalf("read %d names: parsing went wrong", n)
	}
}

var (
	otelName = regexp.MustCompile(`^shardwise(\.[a-z][a-z0-9_]*)+$`)
	promRe   = regexp.MustCompile(`^shardwise_[a-z][a-z0-9_]*$`)
)

// TestTableFollowsNamingRules checks each row against both ecosystems'
// rules: lowercase dotted OTel names under shardwise., Prometheus names
// with "_total" exactly on counters and base-unit suffixes.
func TestTableFollowsNamingRules(t *testing.T) {
	otelSeen, promSeen := map[string]string{}, map[string]string{}
	for _, name := range Names() {
		m, _ := Known(name)
		if !otelName.MatchString(m.OTel) || !promRe.MatchString(m.Prom) {
			t.Errorf("%s: names %q / %q break the naming rules", name, m.OTel, m.Prom)
		}
		if o, dup := otelSeen[m.OTel]; dup {
			t.Errorf("%s and %s share %q", name, o, m.OTel)
		}
		if o, dup := promSeen[m.Prom]; dup {
			t.Errorf("%s and %s share %q", name, o, m.Prom)
		}
		otelSeen[m.OTel], promSeen[m.Prom] = name, name
		counter := m.Kind == Counter || m.Kind == Outcome
		if counter != strings.HasSuffix(m.Prom, "_total") {
			t.Errorf("%s: %s is a %s", name, m.Prom, m.Kind)
		}
		if (m.OTelUnit == "s") != strings.Contains(m.Prom, "_seconds") || (m.OTelUnit == "By") != strings.Contains(m.Prom, "_bytes") {
			t.Errorf("%s: unit %q and name %q disagree", name, m.OTelUnit, m.Prom)
		}
		if m.OTelUnit == "s" && m.Scale != 0.001 {
			t.Errorf("%s: recorded in ms, exported in s, scale %v", name, m.Scale)
		}
		if m.Kind == Histogram && len(m.Buckets) == 0 {
			t.Errorf("%s: histogram without buckets", name)
		}
		if m.Help == "" {
			t.Errorf("%s: no help text", name)
		}
	}
}

func TestLookupGeneric(t *testing.T) {
	for _, c := range []struct {
		name       string
		unit       metrics.Unit
		otel, prom string
		otelUnit   string
		scale      float64
	}{
		{"Foo.barCount", metrics.UnitCount, "shardwise.foo.bar_count", "shardwise_foo_bar_count", "{count}", 1},
		{"Lag.fetchTime", metrics.UnitMilliseconds, "shardwise.lag.fetch_duration", "shardwise_lag_fetch_duration_seconds", "s", 0.001},
		{"Handoff.Time", metrics.UnitMilliseconds, "shardwise.handoff.duration", "shardwise_handoff_duration_seconds", "s", 0.001},
		{"Queue:Bytes", metrics.UnitBytes, "shardwise.queue.bytes", "shardwise_queue_bytes", "By", 1},
		{"GetRecordsHTTPCalls", metrics.UnitNone, "shardwise.get_records_http_calls", "shardwise_get_records_http_calls", "", 1},
		{"weird name-é", "Percent", "shardwise.weird_name__", "shardwise_weird_name___percent", "%", 1},
		{"", metrics.UnitCount, "shardwise.unnamed", "shardwise_unnamed", "{count}", 1},
	} {
		m := Lookup(c.name, c.unit)
		if m.Kind != Histogram || m.OTel != c.otel || m.Prom != c.prom || m.OTelUnit != c.otelUnit || m.Scale != c.scale {
			t.Errorf("Lookup(%q, %q) = %s %q %q %q scale %v, want histogram %q %q %q scale %v",
				c.name, c.unit, m.Kind, m.OTel, m.Prom, m.OTelUnit, m.Scale, c.otel, c.prom, c.otelUnit, c.scale)
		}
		if !promRe.MatchString(m.Prom) {
			t.Errorf("Lookup(%q): invalid Prometheus name %q", c.name, m.Prom)
		}
	}
	if m := Lookup(metricnames.MetricRecordsProcessed, metrics.UnitCount); m.Kind != Counter {
		t.Errorf("a known name took the generic mapping: %+v", m)
	}
}

func TestLabels(t *testing.T) {
	d := metrics.NewDims(
		metrics.Dimension{Name: metricnames.DimensionOperation, Value: "ProcessTask"},
		metrics.Dimension{Name: metricnames.DimensionShardID, Value: "s1"},
		metrics.Dimension{Name: metricnames.DimensionWorkerIdentifier, Value: "w1"},
		metrics.Dimension{Name: "StreamName", Value: "orders"},
		metrics.Dimension{Name: "__Reserved", Value: "x"},
	)
	got := Labels(d, true)
	want := []Label{{"operation", "operation", "ProcessTask"}, {"shard.id", "shard_id", "s1"}, {"stream_name", "stream_name", "orders"},
		{"worker.id", "worker_id", "w1"}, {"__reserved", "dim__reserved", "x"}}
	if len(got) != len(want) {
		t.Fatalf("Labels = %v, want %v", got, want)
	}
	byProm := map[string]Label{}
	for _, l := range got {
		byProm[l.Prom] = l
	}
	for _, w := range want {
		if byProm[w.Prom] != w {
			t.Errorf("label %s = %v, want %v", w.Prom, byProm[w.Prom], w)
		}
	}
	for _, l := range Labels(d, false) {
		if l.Prom == "shard_id" {
			t.Error("shard label kept below DETAILED")
		}
	}
	if len(Labels(d, false)) != 4 {
		t.Errorf("Labels(summary) = %v", Labels(d, false))
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{
		"RecordsProcessed": "records_processed", "processRecords": "process_records", "IsLeader": "is_leader",
		"GetRecordsHTTPTime": "get_records_http_time", "ID": "id", "shard2Time": "shard2_time", "a-b": "a_b",
	} {
		if got := Snake(in); got != want {
			t.Errorf("Snake(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGaugeGroupMax(t *testing.T) {
	var g GaugeGroup
	a, b := g.Join(), g.Join()
	var got float64
	set := func(v float64) { got = v }
	g.Set(a, 5, set)
	if got != 5 {
		t.Errorf("one member: %v", got)
	}
	g.Set(b, 3, set)
	if got != 5 {
		t.Errorf("max of 5 and 3 = %v", got)
	}
	g.Set(a, 1, set)
	if got != 3 {
		t.Errorf("max of 1 and 3 = %v", got)
	}
}

func TestCache(t *testing.T) {
	var c Cache[int]
	k := SeriesKey{"a", "b"}
	if _, ok := c.Get(k); ok {
		t.Fatal("empty cache found a key")
	}
	builds := 0
	for range 3 {
		if v := c.Add(k, func() int { builds++; return 7 }); v != 7 {
			t.Fatalf("Add = %d", v)
		}
	}
	if v, ok := c.Get(k); !ok || v != 7 || builds != 1 || c.Len() != 1 {
		t.Errorf("Get = %d %v, builds %d, len %d", v, ok, builds, c.Len())
	}
}
