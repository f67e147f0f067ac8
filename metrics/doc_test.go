package metrics

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestDocTableListsEveryName keeps the table of metric names in doc.go in
// step with the names the scheduler and the balancer record under
// (internal/metricnames): every metric name must start a row of the table,
// and every operation must appear in one.
func TestDocTableListsEveryName(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // metric name -> rest of the row
	for _, line := range strings.Split(string(doc), "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "//"))
		if !strings.HasPrefix(line, "//\t") || len(f) < 4 {
			continue
		}
		rows[strings.TrimSuffix(f[0], "*")] = strings.Join(f[1:], " ")
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "../internal/metricnames/names.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	metricsSeen, opsSeen := 0, 0
	for _, d := range file.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				value, err := strconv.Unquote(vs.Values[i].(*ast.BasicLit).Value)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case strings.HasPrefix(name.Name, "Metric"):
					metricsSeen++
					if _, ok := rows[value]; !ok {
						t.Errorf("%s = %q has no row in doc.go's table", name.Name, value)
					}
				case strings.HasPrefix(name.Name, "Operation"):
					opsSeen++
					found := false
					for _, rest := range rows {
						found = found || strings.HasPrefix(rest, value+" ")
					}
					if !found {
						t.Errorf("%s = %q appears in no row of doc.go's table", name.Name, value)
					}
				}
			}
		}
	}
	if metricsSeen < 15 || opsSeen < 4 {
		t.Fatalf("read %d metric names and %d operations from metricnames: parsing went wrong", metricsSeen, opsSeen)
	}
	if len(rows) != metricsSeen+1 { // +1: the header row
		t.Errorf("doc.go's table has %d rows, metricnames %d metric names", len(rows)-1, metricsSeen)
	}
}
