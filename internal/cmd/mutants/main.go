// Command mutants checks that the tests guard the library's safety
// properties: a property counts only if some test fails when the property
// is broken. Each mutant in the table (mutants.go) is a named patch that
// breaks one property on purpose; for each, the tool copies the
// repository into a scratch directory, applies the patch there, runs the
// tests that should catch it, and reports
//
//	KILLED    the tests failed: the property is guarded
//	SURVIVED  the tests passed: the property is not guarded
//	STALE     the patch's old text is not in the file exactly once (the
//	          code moved on; fix the table entry)
//	BROKEN    the patched code does not compile (fix the table entry)
//
// then one summary line, and exits non-zero unless every mutant was
// killed.
//
//	go run ./internal/cmd/mutants [-run REGEX] [-list] [-v]
//	go run ./internal/cmd/mutants -auto [-files REGEX] [-max N] [-offset K] [-list]
//
// With -auto it generates operator mutants over whole files instead
// (auto.go says which operators, files and tests, and how it samples).
//
// Before the mutants, each distinct selection of tests runs once on an
// unpatched copy: a test that fails there would "kill" every mutant and
// prove nothing. The working tree is never modified; the copy holds the
// git-tracked files and the untracked files git does not ignore (so a new
// test can be tried before it is committed), as they are in the working
// tree, and no installed npm packages.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// outcome is what became of one mutant.
type outcome string

const (
	killed   outcome = "KILLED"
	survived outcome = "SURVIVED"
	stale    outcome = "STALE"
	broken   outcome = "BROKEN"
	// explained: a generated mutant (-auto) the tests let pass, with a
	// written reason why no test should kill it (explained.go).
	explained outcome = "EXPLAINED"
)

func run(args []string, stdout, stderr io.Writer) int {
	if slices.Contains(args, "-auto") || slices.Contains(args, "--auto") {
		return runAuto(args, stdout, stderr)
	}
	fs := flag.NewFlagSet("mutants", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runRe := fs.String("run", "", "run only the mutants whose name matches this regular expression")
	list := fs.Bool("list", false, "list the mutants (name, file, property, tests) and exit")
	timeout := fs.Duration("timeout", 10*time.Minute, "test timeout of a mutant whose entry sets none")
	baseline := fs.Bool("baseline", true, "first run each distinct selection of tests on an unpatched copy; all must pass")
	verbose := fs.Bool("v", false, "print the test output of every mutant, not only of survivors and broken ones")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "mutants: unexpected arguments:", fs.Args())
		return 2
	}
	if err := validateTable(table); err != nil {
		fmt.Fprintln(stderr, "mutants: table:", err)
		return 2
	}
	selected, err := selectMutants(table, *runRe)
	if err != nil {
		fmt.Fprintln(stderr, "mutants:", err)
		return 2
	}
	if *list {
		for _, m := range selected {
			fmt.Fprintf(stdout, "%s\n\tbreaks: %s\n\tpatch:  %s\n\tkilled by: go test -run '%s' %s\n",
				m.Name, m.Breaks, m.File, m.Run, strings.Join(m.Pkgs, " "))
		}
		return 0
	}
	if len(selected) == 0 {
		fmt.Fprintln(stderr, "mutants: no mutant matches -run", *runRe)
		return 2
	}

	root, files, err := repoFiles()
	if err != nil {
		fmt.Fprintln(stderr, "mutants:", err)
		return 2
	}
	work, err := os.MkdirTemp("", "shardwise-mutants-")
	if err != nil {
		fmt.Fprintln(stderr, "mutants:", err)
		return 2
	}
	defer os.RemoveAll(work)
	// Every mutant runs in the same directory (emptied in between): the
	// build cache keys packages by directory, so unpatched packages
	// compile once per run, not once per mutant.
	scratch := filepath.Join(work, "src")

	if *baseline {
		if err := copyTree(root, files, scratch); err != nil {
			fmt.Fprintln(stderr, "mutants:", err)
			return 2
		}
		for _, sel := range selections(selected, *timeout) {
			res := testIn(scratch, sel.pkgs, sel.run, sel.timeout, sel.emulators)
			if res.err != nil {
				fmt.Fprintf(stdout, "BASELINE FAILED  go test -run '%s' %s fails without any mutant (%v):\n%s\n",
					sel.run, strings.Join(sel.pkgs, " "), res.err, indent(res.output))
				return 1
			}
			fmt.Fprintf(stdout, "baseline ok  go test -run '%s' %s (%s)\n", sel.run, strings.Join(sel.pkgs, " "), res.took.Round(100*time.Millisecond))
		}
	}

	counts := map[outcome]int{}
	for _, m := range selected {
		o, detail, output := runMutant(root, files, scratch, m, *timeout)
		counts[o]++
		fmt.Fprintf(stdout, "%-8s  %-40s %s\n", o, m.Name, detail)
		if o != killed || *verbose {
			if output != "" {
				fmt.Fprintln(stdout, indent(output))
			}
		}
	}
	fmt.Fprintf(stdout, "mutants=%d killed=%d survived=%d stale=%d broken=%d\n",
		len(selected), counts[killed], counts[survived], counts[stale], counts[broken])
	if counts[killed] != len(selected) {
		return 1
	}
	return 0
}

// runMutant copies the repository to scratch, applies m there and runs its
// tests. detail is a one-line summary: how long it took and, for a killed
// mutant, the first failing test and the first failure message.
func runMutant(root string, files []string, scratch string, m mutant, defTimeout time.Duration) (o outcome, detail, output string) {
	if err := copyTree(root, files, scratch); err != nil {
		return broken, "copying the repository: " + err.Error(), ""
	}
	path := filepath.Join(scratch, filepath.FromSlash(m.File))
	src, err := os.ReadFile(path)
	if err != nil {
		return stale, err.Error(), ""
	}
	patched, err := applyPatch(string(src), m.Old, m.New)
	if err != nil {
		return stale, fmt.Sprintf("%s: %v", m.File, err), ""
	}
	if err := os.WriteFile(path, []byte(patched), 0o644); err != nil {
		return broken, err.Error(), ""
	}
	timeout := m.Timeout
	if timeout == 0 {
		timeout = defTimeout
	}
	// Compile first (running no test), so that a patch that does not
	// build is told apart from tests that fail.
	if res := goTest(scratch, m.Pkgs, "^$", timeout); res.err != nil {
		return broken, "does not compile: " + firstLine(res.output), res.output
	}
	res := testIn(scratch, m.Pkgs, m.Run, timeout, m.Emulators)
	took := res.took.Round(100 * time.Millisecond).String()
	switch {
	case res.err == nil:
		return survived, took + "  the tests passed", res.output
	case strings.Contains(res.output, "[build failed]") || strings.Contains(res.output, "[setup failed]"):
		return broken, "does not compile: " + firstLine(res.output), res.output
	default:
		return killed, took + "  " + failureSummary(res.output), res.output
	}
}

type testResult struct {
	output string
	took   time.Duration
	err    error
}

// goTest runs go test in dir. The test binary's own -timeout ends a hung
// test (a failure, with every goroutine's stack); the context is a
// backstop for the go command itself.
func goTest(dir string, pkgs []string, runRe string, timeout time.Duration) testResult {
	return goTestArgs(dir, pkgs, runRe, timeout, nil)
}

// goTestArgs is goTest with more go test flags.
func goTestArgs(dir string, pkgs []string, runRe string, timeout time.Duration, extra []string) testResult {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+2*time.Minute)
	defer cancel()
	args := append([]string{"test", "-count=1", "-timeout", timeout.String(), "-run", runRe}, extra...)
	args = append(args, pkgs...)
	cmd := exec.CommandContext(ctx, goCmd(), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 10 * time.Second
	started := time.Now()
	err := cmd.Run()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("go test did not end within %v: %w", timeout+2*time.Minute, err)
	}
	return testResult{output: out.String(), took: time.Since(started), err: err}
}

func goCmd() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

// selection is one distinct set of tests the mutants run.
type selection struct {
	pkgs      []string
	run       string
	timeout   time.Duration
	emulators bool
}

func selections(ms []mutant, defTimeout time.Duration) []selection {
	var out []selection
	seen := map[string]bool{}
	for _, m := range ms {
		key := fmt.Sprint(m.Emulators, "\x00", m.Run, "\x00", strings.Join(m.Pkgs, "\x00"))
		if seen[key] {
			continue
		}
		seen[key] = true
		t := m.Timeout
		if t == 0 {
			t = defTimeout
		}
		out = append(out, selection{pkgs: m.Pkgs, run: m.Run, timeout: t, emulators: m.Emulators})
	}
	return out
}

// applyPatch returns src with its one occurrence of old replaced by new.
// An old text found nowhere, or more than once (overlapping occurrences
// included), is an error: the table entry no longer says which code it
// breaks.
func applyPatch(src, old, new string) (string, error) {
	if old == "" {
		return "", errors.New("the old text is empty")
	}
	i := strings.Index(src, old)
	if i < 0 {
		return "", errors.New("the old text is not in the file")
	}
	if n := countOverlapping(src, old); n > 1 {
		return "", fmt.Errorf("the old text occurs %d times in the file, want exactly once", n)
	}
	return src[:i] + new + src[i+len(old):], nil
}

// countOverlapping counts the occurrences of sub in s, overlapping ones
// included.
func countOverlapping(s, sub string) int {
	n := 0
	for i := 0; i <= len(s)-len(sub); {
		j := strings.Index(s[i:], sub)
		if j < 0 {
			break
		}
		n++
		i += j + 1
	}
	return n
}

func validateTable(ms []mutant) error {
	seen := map[string]bool{}
	for i, m := range ms {
		switch {
		case m.Name == "":
			return fmt.Errorf("entry %d has no name", i)
		case seen[m.Name]:
			return fmt.Errorf("two mutants are named %q", m.Name)
		case m.Breaks == "":
			return fmt.Errorf("%s: no property named", m.Name)
		case m.File == "" || filepath.IsAbs(m.File):
			return fmt.Errorf("%s: file %q is not a path inside the repository", m.Name, m.File)
		case m.Old == "" || m.Old == m.New:
			return fmt.Errorf("%s: the patch changes nothing", m.Name)
		case len(m.Pkgs) == 0 || m.Run == "":
			return fmt.Errorf("%s: no tests named to kill it", m.Name)
		}
		if _, err := regexp.Compile(m.Run); err != nil {
			return fmt.Errorf("%s: -run %q: %v", m.Name, m.Run, err)
		}
		seen[m.Name] = true
	}
	return nil
}

func selectMutants(ms []mutant, re string) ([]mutant, error) {
	if re == "" {
		return ms, nil
	}
	r, err := regexp.Compile(re)
	if err != nil {
		return nil, fmt.Errorf("-run: %v", err)
	}
	var out []mutant
	for _, m := range ms {
		if r.MatchString(m.Name) {
			out = append(out, m)
		}
	}
	return out, nil
}

// repoFiles lists the files to copy: tracked, plus untracked but not
// ignored, as paths relative to the repository root. Tracked files deleted
// in the working tree are left out.
func repoFiles() (root string, files []string, err error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", nil, fmt.Errorf("finding the repository root (run inside the git checkout): %w", err)
	}
	root = strings.TrimSpace(string(out))
	out, err = exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return "", nil, fmt.Errorf("git ls-files: %w", err)
	}
	for f := range strings.SplitSeq(string(out), "\x00") {
		if f == "" {
			continue
		}
		if st, err := os.Lstat(filepath.Join(root, f)); err != nil || !st.Mode().IsRegular() {
			continue
		}
		files = append(files, f)
	}
	slices.Sort(files)
	files = slices.Compact(files)
	return root, files, nil
}

// copyTree makes dst (emptied first) a copy of files under root.
func copyTree(root string, files []string, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	for _, f := range files {
		if err := copyFile(filepath.Join(root, f), filepath.Join(dst, f)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	st, err := os.Stat(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

var (
	failRe    = regexp.MustCompile(`--- FAIL: \S+`)
	messageRe = regexp.MustCompile(`\S+\.go:\d+: .*`)
	panicRe   = regexp.MustCompile(`panic: .*`)
)

// failureSummary is the first failing test and the first failure message
// (file:line: text) or panic of a test run's output.
func failureSummary(out string) string {
	var parts []string
	if m := failRe.FindString(out); m != "" {
		parts = append(parts, m)
	}
	if m := firstMessage(out); m != "" {
		parts = append(parts, m)
	} else if m := panicRe.FindString(out); m != "" {
		parts = append(parts, m)
	}
	if len(parts) == 0 {
		return firstLine(out)
	}
	s := strings.Join(parts, "  ")
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

// firstMessage is the first file:line: message of a test's output that is
// not a log line (the library logs JSON through the test's writer).
func firstMessage(out string) string {
	for _, m := range messageRe.FindAllString(out, -1) {
		_, text, _ := strings.Cut(m, ": ")
		if strings.HasPrefix(text, "{") {
			continue
		}
		return strings.TrimSpace(m)
	}
	return ""
}

func firstLine(s string) string {
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return strings.TrimSpace(s)
}

func indent(s string) string {
	var b strings.Builder
	for l := range strings.Lines(strings.TrimRight(s, "\n")) {
		b.WriteString("    | ")
		b.WriteString(l)
	}
	return b.String()
}
