//go:build amd64 && !purego

package md5x

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGeneratedFilesAreCurrent runs asm_gen.go, with the flags that
// md5x_amd64.go's generate directive gives it, in a scratch directory and
// compares its output with the checked-in md5x_amd64.s and
// layout_amd64.go, so a change to the generator cannot ship without the
// kernel it generates.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	src, err := os.ReadFile("md5x_amd64.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^//go:generate go run asm_gen\.go(.*)$`).FindSubmatch(src)
	if m == nil {
		t.Fatal("md5x_amd64.go has no go:generate line for asm_gen.go")
	}
	gen, err := os.ReadFile("asm_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "asm_gen.go"), gen, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module asmgen\n\ngo 1.24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"run", "asm_gen.go"}, strings.Fields(string(m[1]))...)
	cmd := exec.Command(goTool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run asm_gen.go: %v\n%s", err, out)
	}
	for _, name := range []string{"md5x_amd64.s", "layout_amd64.go"} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(have, want) {
			t.Errorf("%s is not what asm_gen.go generates: run go generate in internal/md5x", name)
		}
	}
}
