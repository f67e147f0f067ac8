package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestApplyPatchExactlyOnce(t *testing.T) {
	for _, tc := range []struct {
		name, src, old, new string
		want                string
		err                 string // substring of the error, "" for none
	}{
		{name: "once", src: "a := 1\nb := 2\n", old: "b := 2", new: "b := 3", want: "a := 1\nb := 3\n"},
		{name: "deletion", src: "x\ny\nz\n", old: "y\n", new: "", want: "x\nz\n"},
		{name: "absent", src: "a := 1\n", old: "b := 2", new: "b := 3", err: "not in the file"},
		{name: "twice", src: "f()\nf()\n", old: "f()", new: "g()", err: "2 times"},
		{name: "overlapping", src: "aaa", old: "aa", new: "b", err: "2 times"},
		{name: "empty old", src: "abc", old: "", new: "x", err: "empty"},
		{name: "whitespace matters", src: "\tif x {\n", old: "    if x {", new: "if y {", err: "not in the file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := applyPatch(tc.src, tc.old, tc.new)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("applyPatch = %q, %v; want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("applyPatch = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestTableIsWellFormed checks the entries without running anything: names
// unique, every field set, each -run a valid expression.
func TestTableIsWellFormed(t *testing.T) {
	if err := validateTable(table); err != nil {
		t.Fatal(err)
	}
}

func TestValidateTableRejects(t *testing.T) {
	ok := mutant{Name: "m", Breaks: "p", File: "a/b.go", Old: "x", New: "y", Pkgs: []string{"./a"}, Run: "^TestX$"}
	for name, change := range map[string]func(*mutant){
		"no name":        func(m *mutant) { m.Name = "" },
		"no property":    func(m *mutant) { m.Breaks = "" },
		"absolute path":  func(m *mutant) { m.File = "/a/b.go" },
		"no-op patch":    func(m *mutant) { m.New = m.Old },
		"no tests":       func(m *mutant) { m.Pkgs = nil },
		"bad run regexp": func(m *mutant) { m.Run = "(" },
	} {
		m := ok
		change(&m)
		if err := validateTable([]mutant{m}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := validateTable([]mutant{ok, ok}); err == nil {
		t.Error("duplicate names accepted")
	}
	if err := validateTable([]mutant{ok}); err != nil {
		t.Errorf("valid entry rejected: %v", err)
	}
}

// TestPatchesApplyToTheTree runs the exactly-once rule of every entry
// against the repository as it is, so a stale entry fails here too, not
// only when the tool runs.
func TestPatchesApplyToTheTree(t *testing.T) {
	root, _, err := repoFiles()
	if err != nil {
		t.Skip("not in a git checkout:", err)
	}
	for _, m := range table {
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m.File)))
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		if _, err := applyPatch(string(src), m.Old, m.New); err != nil {
			t.Errorf("%s: %s: %v", m.Name, m.File, err)
		}
	}
}

func TestFailureSummary(t *testing.T) {
	out := `--- FAIL: TestLate (0.00s)
    --- FAIL: TestLate/paused (0.00s)
        session_test.go:196: events [sent alive], want them to start [fenced sent alive]
FAIL
FAIL	github.com/shardwise/shardwise/internal/session	0.012s
`
	got := failureSummary(out)
	want := "--- FAIL: TestLate  session_test.go:196: events [sent alive], want them to start [fenced sent alive]"
	if got != want {
		t.Fatalf("failureSummary = %q, want %q", got, want)
	}
}

func TestListAndSelect(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-list", "-run", "^late-heartbeat-no-checks$"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "late-heartbeat-no-checks\n") || strings.Count(out.String(), "breaks:") != 1 {
		t.Fatalf("-list printed:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"-run", "^no-such-mutant$"}, &out, &errOut); code != 2 {
		t.Fatalf("a -run that selects nothing exited %d", code)
	}
}

// TestRunMutantOutcomes runs one mutant of each outcome against a tiny
// module: its function is guarded by a test, so breaking it is KILLED;
// a patch the test does not notice SURVIVES; a patch whose old text is
// gone is STALE; a patch that does not compile is BROKEN.
func TestRunMutantOutcomes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test")
	}
	root := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/tiny\n\ngo 1.26\n",
		"tiny/tiny.go": `package tiny

// Max is the larger of a and b.
func Max(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// Unguarded has no test.
func Unguarded() int { return 1 }
`,
		"tiny/tiny_test.go": `package tiny

import "testing"

func TestMax(t *testing.T) {
	if Max(1, 2) != 2 || Max(2, 1) != 2 {
		t.Fatal("Max is wrong")
	}
}
`,
	}
	var names []string
	for name, text := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	base := mutant{Breaks: "p", File: "tiny/tiny.go", Pkgs: []string{"./tiny"}, Run: "^TestMax$"}
	for _, tc := range []struct {
		old, new string
		want     outcome
	}{
		{"if a > b {", "if a < b {", killed},
		{"return 1 }", "return 2 }", survived},
		{"if a >= b {", "if a < b {", stale},
		{"return b\n", "return c\n", broken},
	} {
		m := base
		m.Name, m.Old, m.New = string(tc.want), tc.old, tc.new
		got, detail, _ := runMutant(root, names, filepath.Join(t.TempDir(), "src"), m, time.Minute)
		if got != tc.want {
			t.Errorf("patch %q -> %q: %s (%s), want %s", tc.old, tc.new, got, detail, tc.want)
		}
		if tc.want == killed && !strings.Contains(detail, "--- FAIL: TestMax") {
			t.Errorf("killed mutant's detail %q does not name the failing test", detail)
		}
	}
	// The originals are untouched.
	if b, _ := os.ReadFile(filepath.Join(root, "tiny/tiny.go")); string(b) != files["tiny/tiny.go"] {
		t.Fatal("runMutant modified the repository it copies")
	}
}
