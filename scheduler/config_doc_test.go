package scheduler

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardwise/shardwise/consumer"
)

// configFieldDocs reads config.go and returns each Config field's doc
// comment, in declaration order.
func configFieldDocs(t *testing.T) (names []string, docs map[string]string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs = map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Config" {
			return true
		}
		for _, fld := range ts.Type.(*ast.StructType).Fields.List {
			for _, name := range fld.Names {
				names = append(names, name.Name)
				if fld.Doc != nil {
					docs[name.Name] = strings.Join(strings.Fields(fld.Doc.Text()), " ")
				}
			}
		}
		return false
	})
	return names, docs
}

// documentedDefault returns the text after "Default: " up to the sentence's
// end, without a trailing parenthetical remark.
func documentedDefault(doc string) (string, bool) {
	i := strings.LastIndex(doc, "Default: ")
	if i < 0 {
		return "", false
	}
	rest := doc[i+len("Default: "):]
	depth := 0
	end := len(rest)
	for j := 0; j < len(rest); j++ {
		switch rest[j] {
		case '(':
			depth++
		case ')':
			depth--
		case '.':
			if depth == 0 && (j+1 == len(rest) || rest[j+1] == ' ') {
				end = j
				j = len(rest)
			}
		}
	}
	d := strings.TrimSpace(rest[:end])
	if k := strings.Index(d, " ("); k > 0 && strings.HasSuffix(d, ")") {
		d = d[:k]
	}
	return d, true
}

// special lists the defaults that are not an expression of the small
// language evalDefault reads. Each entry checks the applied value; if a
// field's documented default changes, its entry must change with it.
var specialDefaults = map[string]func(given, applied Config) bool{
	"the name in StreamARN": func(given, applied Config) bool {
		return given.StreamName != "" || applied.StreamName == strings.TrimPrefix(given.StreamARN[strings.LastIndex(given.StreamARN, ":")+1:], "stream/")
	},
	"LATEST": func(_, applied Config) bool { return applied.InitialPosition == consumer.InitialPositionLatest },
	"keep":   func(_, applied Config) bool { return applied.FormerStreamLeases == formerKeep },
	"the host name, a dash and 12 random hex digits": func(_, applied Config) bool {
		return regexp.MustCompile(`^.+-[0-9a-f]{12}$`).MatchString(applied.WorkerID)
	},
}

var (
	reFieldDiv  = regexp.MustCompile(`^([A-Z][A-Za-z]*)/([0-9]+)$`)
	reFieldPlus = regexp.MustCompile(`^([A-Z][A-Za-z]*) \+ "([^"]*)"$`)
	reMin       = regexp.MustCompile(`^min\((.+), (.+)\)$`)
	reMiB       = regexp.MustCompile(`^([0-9]+) MiB$`)
	reProcs     = regexp.MustCompile(`^([0-9]+)\*GOMAXPROCS$`)
)

// evalDefault evaluates a documented default against the applied config,
// as a value of the field's type.
func evalDefault(t *testing.T, expr string, typ reflect.Type, applied reflect.Value) (reflect.Value, bool) {
	t.Helper()
	field := func(name string) (reflect.Value, bool) {
		v := applied.FieldByName(name)
		return v, v.IsValid()
	}
	switch {
	case expr == "none":
		return reflect.Zero(typ), true
	case reMin.MatchString(expr):
		m := reMin.FindStringSubmatch(expr)
		a, ok1 := evalDefault(t, m[1], typ, applied)
		b, ok2 := evalDefault(t, m[2], typ, applied)
		if !ok1 || !ok2 || typ != reflect.TypeOf(time.Duration(0)) {
			return reflect.Value{}, false
		}
		return reflect.ValueOf(min(a.Interface().(time.Duration), b.Interface().(time.Duration))), true
	case reFieldDiv.MatchString(expr):
		m := reFieldDiv.FindStringSubmatch(expr)
		v, ok := field(m[1])
		k, _ := strconv.Atoi(m[2])
		if !ok || v.Type() != reflect.TypeOf(time.Duration(0)) {
			return reflect.Value{}, false
		}
		return reflect.ValueOf(v.Interface().(time.Duration) / time.Duration(k)), true
	case reFieldPlus.MatchString(expr):
		m := reFieldPlus.FindStringSubmatch(expr)
		v, ok := field(m[1])
		if !ok || v.Kind() != reflect.String {
			return reflect.Value{}, false
		}
		return reflect.ValueOf(v.String() + m[2]), true
	case reMiB.MatchString(expr):
		n, _ := strconv.ParseInt(reMiB.FindStringSubmatch(expr)[1], 10, 64)
		return reflect.ValueOf(n << 20).Convert(typ), true
	case reProcs.MatchString(expr):
		n, _ := strconv.Atoi(reProcs.FindStringSubmatch(expr)[1])
		return reflect.ValueOf(n * runtime.GOMAXPROCS(0)).Convert(typ), true
	}
	if v, ok := field(expr); ok && v.Type() == typ {
		return v, true
	}
	switch typ.Kind() {
	case reflect.Int64:
		if typ == reflect.TypeOf(time.Duration(0)) {
			d, err := time.ParseDuration(expr)
			if err != nil {
				return reflect.Value{}, false
			}
			return reflect.ValueOf(d), true
		}
		fallthrough
	case reflect.Int:
		n, err := strconv.ParseInt(expr, 10, 64)
		if err != nil {
			return reflect.Value{}, false
		}
		return reflect.ValueOf(n).Convert(typ), true
	case reflect.Float64:
		x, err := strconv.ParseFloat(expr, 64)
		if err != nil {
			return reflect.Value{}, false
		}
		return reflect.ValueOf(x), true
	case reflect.Bool:
		b, err := strconv.ParseBool(expr)
		if err != nil {
			return reflect.Value{}, false
		}
		return reflect.ValueOf(b), true
	}
	return reflect.Value{}, false
}

// TestConfigDocumentedDefaults walks every Config field: its doc must state
// a default ("Default: X.") or say it is required, and the value
// withDefaults applies to a zero field must be the documented one. It runs
// on configs whose base fields differ (FailoverTime, HeartbeatInterval,
// StreamARN) so that a default documented as derived from another field is
// checked as derived.
func TestConfigDocumentedDefaults(t *testing.T) {
	names, docs := configFieldDocs(t)
	if len(names) != reflect.TypeOf(Config{}).NumField() {
		t.Fatalf("read %d fields from config.go, Config has %d", len(names), reflect.TypeOf(Config{}).NumField())
	}
	bases := map[string]Config{
		"plain": validConfig(),
		"failover 25s": func() Config {
			c := validConfig()
			c.FailoverTime = 25 * time.Second
			return c
		}(),
		"short heartbeat": func() Config {
			c := validConfig()
			c.HeartbeatInterval = 300 * time.Millisecond
			return c
		}(),
		"by ARN": func() Config {
			c := validConfig()
			c.StreamName = ""
			c.StreamARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/payments"
			return c
		}(),
	}
	for baseName, given := range bases {
		applied := given.withDefaults()
		if err := applied.validate(); err != nil {
			t.Fatalf("%s: defaults do not validate: %v", baseName, err)
		}
		av := reflect.ValueOf(applied)
		gv := reflect.ValueOf(given)
		for i, name := range names {
			doc, ok := docs[name]
			if !ok {
				t.Errorf("Config.%s has no doc comment", name)
				continue
			}
			expr, ok := documentedDefault(doc)
			if !ok {
				if !strings.Contains(doc, "Required.") {
					t.Errorf("Config.%s: doc states neither a default (\"Default: X.\") nor \"Required.\": %q", name, doc)
				}
				continue
			}
			if !gv.Field(i).IsZero() {
				if !reflect.DeepEqual(av.Field(i).Interface(), gv.Field(i).Interface()) {
					t.Errorf("%s: Config.%s was set to %v but withDefaults changed it to %v", baseName, name, gv.Field(i), av.Field(i))
				}
				continue
			}
			if check, ok := specialDefaults[expr]; ok {
				if !check(given, applied) {
					t.Errorf("%s: Config.%s: documented default %q, applied %v", baseName, name, expr, av.Field(i))
				}
				continue
			}
			want, ok := evalDefault(t, expr, av.Field(i).Type(), av)
			if !ok {
				t.Errorf("Config.%s: cannot read the documented default %q (write it as a literal, a field, Field/N, min(a, b), N MiB, N*GOMAXPROCS, or add it to specialDefaults)", name, expr)
				continue
			}
			if got := av.Field(i); !reflect.DeepEqual(got.Interface(), want.Interface()) {
				t.Errorf("%s: Config.%s: documented default %q = %v, but withDefaults applies %v", baseName, name, expr, want, got)
			}
		}
	}
}
