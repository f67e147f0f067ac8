// Command testsum turns `go test -json` output into what a person wants to
// read from a long test run: the full output of every failed test and
// failing package (build errors included), one ok/FAIL line per package as
// go test prints them, and a summary that ends in the line
//
//	N passed, N failed, N skipped
//
// counting tests and subtests. It exits non-zero when a test or package
// failed, a build failed, or the input held no test results at all.
//
//	go test -json ./... 2>&1 | testsum [-v]
//
// With -v it also lists every skipped test with its skip reason. Lines
// that are not JSON (the go command's own messages on stderr) are passed
// through as they come.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

func main() {
	verbose := flag.Bool("v", false, "list skipped tests and their skip reasons")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: go test -json ./... 2>&1 | testsum [-v]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	s := newSummarizer(os.Stdout, *verbose)
	if err := s.consume(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testsum: reading input:", err)
		os.Exit(1)
	}
	os.Exit(s.finish())
}

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	Elapsed     float64
	ImportPath  string // build-output, build-fail
	FailedBuild string // package fail caused by a build failure
}

// pkgState is what is kept of a package until its result arrives.
type pkgState struct {
	output  []string              // package-level output (no test)
	roots   map[string]*rootState // top-level tests with output or still running, by name
	order   []string              // roots in order of first appearance
	running map[string]bool       // tests (and subtests) started and not yet finished
}

// rootState holds the output of a top-level test and its subtests, kept
// until the test ends: printed if it failed, dropped otherwise.
type rootState struct {
	chunks []chunk
}

type chunk struct {
	test, output string
}

type skip struct {
	pkg, test, reason string
}

type summarizer struct {
	out     io.Writer
	verbose bool

	pkgs    map[string]*pkgState
	pkgSeen []string // packages in order of first appearance, for those left unfinished

	packages, failedPkgs        int
	passed, failed, skipped     int
	failedTests                 []string
	skips                       []skip
	buildFailed, failureOutside bool // a build failed; a non-JSON line reported a failure
}

func newSummarizer(out io.Writer, verbose bool) *summarizer {
	return &summarizer{out: out, verbose: verbose, pkgs: map[string]*pkgState{}}
}

// consume reads the whole stream.
func (s *summarizer) consume(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			s.line(line)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (s *summarizer) line(line string) {
	var ev event
	trimmed := strings.TrimSpace(line)
	if !strings.HasPrefix(trimmed, "{") || json.Unmarshal([]byte(trimmed), &ev) != nil || ev.Action == "" {
		// Not test2json: the go command's own output (module downloads,
		// build errors of older go versions, "FAIL pkg [setup failed]").
		io.WriteString(s.out, line)
		if !strings.HasSuffix(line, "\n") {
			io.WriteString(s.out, "\n")
		}
		if strings.HasPrefix(trimmed, "FAIL") || strings.Contains(trimmed, "[build failed]") || strings.Contains(trimmed, "[setup failed]") {
			s.failureOutside = true
		}
		return
	}
	s.event(ev)
}

func (s *summarizer) pkg(name string) *pkgState {
	p := s.pkgs[name]
	if p == nil {
		p = &pkgState{roots: map[string]*rootState{}, running: map[string]bool{}}
		s.pkgs[name] = p
		s.pkgSeen = append(s.pkgSeen, name)
	}
	return p
}

func rootOf(test string) string {
	root, _, _ := strings.Cut(test, "/")
	return root
}

func (p *pkgState) root(name string) *rootState {
	r := p.roots[name]
	if r == nil {
		r = &rootState{}
		p.roots[name] = r
		p.order = append(p.order, name)
	}
	return r
}

func (s *summarizer) event(ev event) {
	switch ev.Action {
	case "build-output":
		io.WriteString(s.out, ev.Output)
		return
	case "build-fail":
		s.buildFailed = true
		return
	}
	if ev.Package == "" {
		return
	}
	p := s.pkg(ev.Package)
	if ev.Test == "" {
		switch ev.Action {
		case "output":
			p.output = append(p.output, ev.Output)
		case "pass", "fail", "skip":
			s.packageDone(ev, p)
		}
		return
	}
	switch ev.Action {
	case "run":
		p.running[ev.Test] = true
		p.root(rootOf(ev.Test))
	case "output":
		r := p.root(rootOf(ev.Test))
		r.chunks = append(r.chunks, chunk{ev.Test, ev.Output})
	case "pass", "fail", "skip":
		s.testDone(ev, p)
	}
}

func (s *summarizer) testDone(ev event, p *pkgState) {
	delete(p.running, ev.Test)
	root := rootOf(ev.Test)
	r := p.roots[root]
	switch ev.Action {
	case "pass":
		s.passed++
	case "skip":
		s.skipped++
		s.skips = append(s.skips, skip{ev.Package, ev.Test, skipReason(r, ev.Test)})
	case "fail":
		s.failed++
		s.failedTests = append(s.failedTests, ev.Package+" "+ev.Test)
	}
	if ev.Test != root {
		return // a subtest's output stays with its top-level test
	}
	if ev.Action == "fail" && r != nil {
		s.printRoot(r)
	}
	delete(p.roots, root)
}

func (s *summarizer) printRoot(r *rootState) {
	for _, c := range r.chunks {
		io.WriteString(s.out, c.output)
	}
}

// skipReason is what a skipped test logged (usually its t.Skip message),
// on one line.
func skipReason(r *rootState, test string) string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range r.chunks {
		if c.test == test {
			b.WriteString(c.output)
		}
	}
	var parts []string
	for l := range strings.Lines(b.String()) {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		parts = append(parts, l)
	}
	return strings.Join(parts, " | ")
}

func (s *summarizer) packageDone(ev event, p *pkgState) {
	s.packages++
	// Tests that never finished (a panic, a timeout, os.Exit in a test)
	// failed, though test2json could not say so.
	for _, name := range p.order {
		if r := p.roots[name]; r != nil && s.unfinished(ev.Package, p, name) {
			s.printRoot(r)
		}
	}
	summary := ""
	switch ev.Action {
	case "fail":
		s.failedPkgs++
		if ev.FailedBuild != "" {
			s.buildFailed = true
		}
		// The package's own output says why (a panic outside tests, a
		// TestMain that exited, the build failure line); its closing
		// FAIL line is printed last, as go test does.
		for _, o := range p.output {
			if isSummaryLine(o, ev.Package) {
				summary = o
				continue
			}
			io.WriteString(s.out, o)
		}
		if summary == "" {
			summary = fmt.Sprintf("FAIL\t%s\t%.3fs\n", ev.Package, ev.Elapsed)
			if ev.FailedBuild != "" {
				summary = fmt.Sprintf("FAIL\t%s [build failed]\n", ev.Package)
			}
		}
	case "pass":
		summary = fmt.Sprintf("ok  \t%s\t%.3fs\n", ev.Package, ev.Elapsed)
	case "skip":
		summary = fmt.Sprintf("?   \t%s\t[no test files]\n", ev.Package)
	}
	if ev.Action != "fail" {
		// Prefer go test's own line (it may carry coverage or "(cached)").
		for _, o := range p.output {
			if isSummaryLine(o, ev.Package) {
				summary = o
			}
		}
	}
	io.WriteString(s.out, summary)
	delete(s.pkgs, ev.Package)
}

// unfinished counts the tests of root still running in p as failed and
// reports whether there were any.
func (s *summarizer) unfinished(pkg string, p *pkgState, root string) bool {
	var tests []string
	for test := range p.running {
		if rootOf(test) == root {
			tests = append(tests, test)
		}
	}
	slices.Sort(tests) // parents before their subtests
	for _, test := range tests {
		s.failed++
		s.failedTests = append(s.failedTests, pkg+" "+test+" (did not finish)")
		delete(p.running, test)
	}
	return len(tests) > 0
}

// isSummaryLine reports whether o is go test's closing line for pkg.
func isSummaryLine(o, pkg string) bool {
	for _, prefix := range []string{"ok  \t", "FAIL\t", "?   \t"} {
		if rest, ok := strings.CutPrefix(o, prefix+pkg); ok && (rest == "\n" || strings.HasPrefix(rest, "\t") || strings.HasPrefix(rest, " ")) {
			return true
		}
	}
	return false
}

// finish reports packages whose result never came, prints the summary and
// returns the exit code.
func (s *summarizer) finish() int {
	incomplete := 0
	for _, name := range s.pkgSeen {
		p := s.pkgs[name]
		if p == nil {
			continue
		}
		incomplete++
		for _, root := range p.order {
			if r := p.roots[root]; r != nil {
				s.printRoot(r)
			}
			s.unfinished(name, p, root)
		}
		for _, o := range p.output {
			io.WriteString(s.out, o)
		}
		fmt.Fprintf(s.out, "FAIL\t%s [no result: the test output ended early]\n", name)
	}
	s.packages += incomplete

	if s.verbose && len(s.skips) > 0 {
		fmt.Fprintf(s.out, "\nSkipped tests (%d):\n", len(s.skips))
		for _, sk := range s.skips {
			reason := sk.reason
			if reason == "" {
				reason = "(no reason given)"
			}
			fmt.Fprintf(s.out, "SKIP %s %s: %s\n", sk.pkg, sk.test, reason)
		}
	}
	if len(s.failedTests) > 0 {
		fmt.Fprintf(s.out, "\nFailed tests (%d):\n", len(s.failedTests))
		for _, t := range s.failedTests {
			fmt.Fprintf(s.out, "FAIL %s\n", t)
		}
	}
	if s.buildFailed {
		fmt.Fprintln(s.out, "\nBuild failed (see the errors above).")
	}
	if s.packages == 0 {
		fmt.Fprintln(s.out, "\ntestsum: no test results in the input (did go test run?)")
	}
	fmt.Fprintf(s.out, "\npackages=%d tests_passed=%d tests_failed=%d tests_skipped=%d\n",
		s.packages, s.passed, s.failed, s.skipped)
	fmt.Fprintf(s.out, "%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)

	if s.failed > 0 || s.failedPkgs > 0 || incomplete > 0 || s.buildFailed || s.failureOutside || s.packages == 0 {
		return 1
	}
	return 0
}
