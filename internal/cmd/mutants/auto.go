package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Automatic mode (-auto): instead of the named patches of the table, the
// tool generates mutants from the source of the files listed in
// autoTargets, one operator application at a time, and runs each
// target's tests against each:
//
//	boundary  < <-> <=, > <-> >=                (conditional boundaries)
//	negate    == <-> !=, < -> >=, > -> <=, <= -> >, >= -> <,
//	          && <-> ||, !x -> x                (negated conditions)
//	arith     + <-> -, * <-> /, += <-> -=       (arithmetic)
//	call      a call statement removed          (removed calls)
//	return    a return statement that is not the last of its
//	          function removed                  (removed early returns)
//
// Calls that only log or record metrics (zerolog events ending in Msg,
// Msgf or Send; the metrics scope's Count, Value, Success and Time; a
// lograte limiter's Warn) are not mutated: removing them changes no
// behaviour a safety test can see, so each would be an equivalent mutant.
// A mutant that does not compile (an operator on strings, a call whose
// removal leaves a variable unused) is counted apart and not run.
//
// The count is bounded: a file with more sites than -max keeps every kth
// site in source order (k = ceil(sites/max)), starting at site -offset
// mod k, so a run is repeatable and a different -offset samples the
// sites left out.

// autoTarget is one file the automatic mode mutates and the tests that
// guard it.
type autoTarget struct {
	File string   // slash-separated, in the repository
	Pkgs []string // go test packages
	Run  string   // go test -run ("" = every test of Pkgs)
	// Timeout bounds one mutant's test run (the -timeout flag if zero).
	Timeout time.Duration
}

// schedulerTests are the scheduler's in-memory tests (the emulator
// tests skip without emulators; examples are left out).
const schedulerTests = "^Test"

var autoTargets = []autoTarget{
	{File: "leases/memory.go", Pkgs: []string{"./leases"}},
	{File: "leases/lease.go", Pkgs: []string{"./leases"}},
	{File: "leases/workers_memory.go", Pkgs: []string{"./leases"}},
	{File: "leases/coordinator.go", Pkgs: []string{"./leases"}},
	{File: "checkpoint/rules.go", Pkgs: []string{"./checkpoint", "./internal/checkpointer"}},
	{File: "checkpoint/fake.go", Pkgs: []string{"./checkpoint"}},
	{File: "internal/checkpointer/checkpointer.go", Pkgs: []string{"./internal/checkpointer"}},
	{File: "internal/session/session.go", Pkgs: []string{"./internal/session"}},
	{File: "internal/coordinator/coordinator.go", Pkgs: []string{"./internal/coordinator"}},
	{File: "internal/coordinator/observer.go", Pkgs: []string{"./internal/coordinator"}},
	{File: "balancer/planner.go", Pkgs: []string{"./balancer"}},
	{File: "scheduler/shardconsumer.go", Pkgs: []string{"./scheduler"}, Run: schedulerTests, Timeout: 2 * time.Minute},
	{File: "scheduler/shardend.go", Pkgs: []string{"./scheduler"}, Run: schedulerTests, Timeout: 2 * time.Minute},
}

// site is one place an operator applies: the bytes [Off, End) of the
// file are replaced by New.
type site struct {
	Op       string
	Off, End int
	Old, New string
	Line     int
	Func     string // the enclosing function, for the report
	LineText string // its source line and the two before, white space collapsed
}

func (s site) String() string {
	old := strings.Join(strings.Fields(s.Old), " ")
	if len(old) > 60 {
		old = old[:57] + "..."
	}
	nw := strings.Join(strings.Fields(s.New), " ")
	if nw == "" {
		nw = "(removed)"
	}
	return fmt.Sprintf("%s:%d %s: %q -> %q", s.Func, s.Line, s.Op, old, nw)
}

var (
	boundaryOps = map[token.Token]token.Token{token.LSS: token.LEQ, token.LEQ: token.LSS, token.GTR: token.GEQ, token.GEQ: token.GTR}
	negateOps   = map[token.Token]token.Token{token.EQL: token.NEQ, token.NEQ: token.EQL, token.LSS: token.GEQ, token.GTR: token.LEQ, token.LEQ: token.GTR, token.GEQ: token.LSS, token.LAND: token.LOR, token.LOR: token.LAND}
	arithOps    = map[token.Token]token.Token{token.ADD: token.SUB, token.SUB: token.ADD, token.MUL: token.QUO, token.QUO: token.MUL, token.ADD_ASSIGN: token.SUB_ASSIGN, token.SUB_ASSIGN: token.ADD_ASSIGN}
)

// observational reports whether a call statement only logs or records a
// metric.
func observational(src []byte, call *ast.CallExpr, fset *token.FileSet) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	switch sel.Sel.Name {
	case "Msg", "Msgf", "Send":
		return true // a zerolog event
	case "Count", "Value", "Success", "Time", "Warn":
		text := string(src[fset.Position(sel.X.Pos()).Offset:fset.Position(sel.X.End()).Offset])
		return strings.Contains(text, "scope") || strings.Contains(text, "Metrics") || strings.Contains(text, "metrics") || strings.Contains(text, "warn")
	}
	return false
}

// findSites lists every operator site of a Go source file, in source
// order.
func findSites(name string, src []byte, ops map[string]bool) ([]site, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var out []site
	off := func(p token.Pos) int { return fset.Position(p).Offset }
	add := func(op string, from, to token.Pos, repl string, fn string) {
		o, e := off(from), off(to)
		ls, le := o, o
		for lines := 0; ls > 0 && lines < 3; ls-- {
			if src[ls-1] == '\n' {
				lines++
				if lines == 3 {
					break
				}
			}
		}
		for le < len(src) && src[le] != '\n' {
			le++
		}
		line := strings.Join(strings.Fields(string(src[ls:le])), " ")
		out = append(out, site{Op: op, Off: o, End: e, Old: string(src[o:e]), New: repl, Line: fset.Position(from).Line, Func: fn, LineText: line})
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		fn := fd.Name.Name
		if fd.Recv != nil && len(fd.Recv.List) > 0 {
			t := fd.Recv.List[0].Type
			if st, ok := t.(*ast.StarExpr); ok {
				t = st.X
			}
			if id, ok := t.(*ast.Ident); ok {
				fn = id.Name + "." + fn
			}
		}
		lastStmt := map[ast.Stmt]bool{}
		if n := len(fd.Body.List); n > 0 {
			lastStmt[fd.Body.List[n-1]] = true
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BinaryExpr:
				opEnd := n.OpPos + token.Pos(len(n.Op.String()))
				if to, ok := boundaryOps[n.Op]; ok && ops["boundary"] {
					add("boundary", n.OpPos, opEnd, to.String(), fn)
				}
				if to, ok := negateOps[n.Op]; ok && ops["negate"] {
					add("negate", n.OpPos, opEnd, to.String(), fn)
				}
				if to, ok := arithOps[n.Op]; ok && ops["arith"] && !isStringy(n) {
					add("arith", n.OpPos, opEnd, to.String(), fn)
				}
			case *ast.UnaryExpr:
				if n.Op == token.NOT && ops["negate"] {
					add("negate", n.OpPos, n.OpPos+1, "", fn)
				}
			case *ast.AssignStmt:
				if to, ok := arithOps[n.Tok]; ok && ops["arith"] {
					add("arith", n.TokPos, n.TokPos+token.Pos(len(n.Tok.String())), to.String(), fn)
				}
			case *ast.IncDecStmt:
				if ops["arith"] {
					to := "--"
					if n.Tok == token.DEC {
						to = "++"
					}
					add("arith", n.TokPos, n.TokPos+2, to, fn)
				}
			case *ast.ExprStmt:
				if call, ok := n.X.(*ast.CallExpr); ok && ops["call"] && !observational(src, call, fset) {
					add("call", n.Pos(), n.End(), "_ = 0", fn)
				}
			case *ast.ReturnStmt:
				if ops["return"] && !lastStmt[n] {
					add("return", n.Pos(), n.End(), "_ = 0", fn)
				}
			}
			return true
		})
	}
	slices.SortStableFunc(out, func(a, b site) int { return a.Off - b.Off })
	return out, nil
}

// isStringy guesses that a + joins strings (a string literal on either
// side, or a call to a Sprintf-like function): such a mutant would not
// compile.
func isStringy(b *ast.BinaryExpr) bool {
	if b.Op != token.ADD {
		return false
	}
	for _, e := range []ast.Expr{b.X, b.Y} {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			return true
		}
		if inner, ok := e.(*ast.BinaryExpr); ok && isStringy(inner) {
			return true
		}
	}
	return false
}

// sample keeps at most max sites: every kth in source order from offset.
func sample(sites []site, max, offset int) []site {
	if max <= 0 || len(sites) <= max {
		return sites
	}
	k := (len(sites) + max - 1) / max
	var out []site
	for i := range sites {
		if i%k == ((offset%k)+k)%k {
			out = append(out, sites[i])
		}
	}
	return out
}

// autoResult is the outcome of one generated mutant.
type autoResult struct {
	target  autoTarget
	site    site
	outcome outcome
	detail  string
}

func runAuto(args []string, stdout, stderr io.Writer) int {
	fs := newAutoFlags(stderr)
	if err := fs.parse(args); err != nil {
		return 2
	}
	fileRe, err := regexp.Compile(fs.files)
	if err != nil {
		fmt.Fprintln(stderr, "mutants: -files:", err)
		return 2
	}
	funcRe, err := regexp.Compile(fs.funcs)
	if err != nil {
		fmt.Fprintln(stderr, "mutants: -funcs:", err)
		return 2
	}
	var redo map[string]bool
	if fs.redo != "" {
		if redo, err = survivorsOf(fs.redo); err != nil {
			fmt.Fprintln(stderr, "mutants: -redo:", err)
			return 2
		}
	}
	ops := map[string]bool{}
	for _, o := range strings.Split(fs.ops, ",") {
		ops[strings.TrimSpace(o)] = true
	}
	root, files, err := repoFiles()
	if err != nil {
		fmt.Fprintln(stderr, "mutants:", err)
		return 2
	}
	type planned struct {
		t     autoTarget
		sites []site
		all   int
	}
	var plan []planned
	total := 0
	for _, t := range autoTargets {
		if !fileRe.MatchString(t.File) {
			continue
		}
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(t.File)))
		if err != nil {
			fmt.Fprintln(stderr, "mutants:", err)
			return 2
		}
		all, err := findSites(t.File, src, ops)
		if err != nil {
			fmt.Fprintln(stderr, "mutants:", err)
			return 2
		}
		all = slices.DeleteFunc(all, func(s site) bool {
			return !funcRe.MatchString(s.Func) || (redo != nil && !redo[siteKey(t.File, s)])
		})
		s := sample(all, fs.max, fs.offset)
		plan = append(plan, planned{t: t, sites: s, all: len(all)})
		total += len(s)
	}
	if len(plan) == 0 {
		fmt.Fprintln(stderr, "mutants: no target file matches -files", fs.files)
		return 2
	}
	for _, p := range plan {
		fmt.Fprintf(stdout, "plan  %-40s %4d sites, %4d mutants  go test -run '%s' %s\n", p.t.File, p.all, len(p.sites), p.t.Run, strings.Join(p.t.Pkgs, " "))
	}
	if fs.list {
		for _, p := range plan {
			for _, s := range p.sites {
				fmt.Fprintf(stdout, "%s  %s\n", p.t.File, s)
			}
		}
		return 0
	}

	work, err := os.MkdirTemp("", "shardwise-mutants-auto-")
	if err != nil {
		fmt.Fprintln(stderr, "mutants:", err)
		return 2
	}
	defer os.RemoveAll(work)
	scratch := filepath.Join(work, "src")
	if err := copyTree(root, files, scratch); err != nil {
		fmt.Fprintln(stderr, "mutants:", err)
		return 2
	}
	timeoutOf := func(t autoTarget) time.Duration {
		if t.Timeout > 0 {
			return t.Timeout
		}
		return fs.timeout
	}
	// Baselines: each distinct selection passes unmutated.
	seen := map[string]bool{}
	for _, p := range plan {
		key := p.t.Run + "\x00" + strings.Join(p.t.Pkgs, "\x00")
		if seen[key] {
			continue
		}
		seen[key] = true
		res := goTestArgs(scratch, p.t.Pkgs, p.t.Run, timeoutOf(p.t), fs.testArgs())
		if res.err != nil {
			fmt.Fprintf(stdout, "BASELINE FAILED  go test -run '%s' %s (%v):\n%s\n", p.t.Run, strings.Join(p.t.Pkgs, " "), res.err, indent(res.output))
			return 1
		}
		fmt.Fprintf(stdout, "baseline ok  go test -run '%s' %s (%s)\n", p.t.Run, strings.Join(p.t.Pkgs, " "), res.took.Round(100*time.Millisecond))
	}

	var results []autoResult
	n := 0
	for _, p := range plan {
		path := filepath.Join(scratch, filepath.FromSlash(p.t.File))
		orig, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(stderr, "mutants:", err)
			return 2
		}
		for _, s := range p.sites {
			n++
			var b bytes.Buffer
			b.Write(orig[:s.Off])
			b.WriteString(s.New)
			b.Write(orig[s.End:])
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				fmt.Fprintln(stderr, "mutants:", err)
				return 2
			}
			res := goTestArgs(scratch, p.t.Pkgs, p.t.Run, timeoutOf(p.t), fs.testArgs())
			r := autoResult{target: p.t, site: s}
			took := res.took.Round(100 * time.Millisecond).String()
			switch {
			case res.err == nil && explanationOf(p.t.File, s) != "":
				r.outcome, r.detail = explained, explanationOf(p.t.File, s)
			case res.err == nil:
				r.outcome, r.detail = survived, took
			case strings.Contains(res.output, "[build failed]") || strings.Contains(res.output, "[setup failed]") || strings.Contains(res.output, "build failed"):
				r.outcome, r.detail = broken, firstLine(res.output)
			default:
				r.outcome, r.detail = killed, took+"  "+failureSummary(res.output)
			}
			results = append(results, r)
			if r.outcome != broken || fs.verbose {
				fmt.Fprintf(stdout, "[%d/%d] %-9s %s  %s\n", n, total, r.outcome, p.t.File, s)
				if r.outcome == killed && fs.verbose {
					fmt.Fprintf(stdout, "        %s\n", r.detail)
				}
			}
		}
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			fmt.Fprintln(stderr, "mutants:", err)
			return 2
		}
	}
	printAutoSummary(stdout, results)
	for _, r := range results {
		if r.outcome == survived {
			return 1
		}
	}
	return 0
}

// printAutoSummary prints killed, survived and not compiled per package
// and per file, as a Markdown table, then every survivor.
func printAutoSummary(w io.Writer, results []autoResult) {
	type counts struct{ killed, survived, explained, broken int }
	byPkg := map[string]*counts{}
	var pkgs []string
	for _, r := range results {
		pkg := filepath.ToSlash(filepath.Dir(r.target.File))
		c := byPkg[pkg]
		if c == nil {
			c = &counts{}
			byPkg[pkg] = c
			pkgs = append(pkgs, pkg)
		}
		switch r.outcome {
		case killed:
			c.killed++
		case survived:
			c.survived++
		case explained:
			c.explained++
		default:
			c.broken++
		}
	}
	fmt.Fprintln(w, "\n| package | mutants run | killed | survived, explained | survived, unexplained | not compiled |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|")
	var tot counts
	for _, p := range pkgs {
		c := byPkg[p]
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d |\n", p, c.killed+c.survived+c.explained, c.killed, c.explained, c.survived, c.broken)
		tot.killed += c.killed
		tot.survived += c.survived
		tot.explained += c.explained
		tot.broken += c.broken
	}
	fmt.Fprintf(w, "| total | %d | %d | %d | %d | %d |\n", tot.killed+tot.survived+tot.explained, tot.killed, tot.explained, tot.survived, tot.broken)
	if tot.explained > 0 {
		fmt.Fprintln(w, "\nexplained survivors (explained.go):")
		for _, r := range results {
			if r.outcome == explained {
				fmt.Fprintf(w, "  %s  %s\n      %s\n", r.target.File, r.site, r.detail)
			}
		}
	}
	if tot.survived > 0 {
		fmt.Fprintln(w, "\nunexplained survivors (write a test that kills each, or explain it in explained.go):")
		for _, r := range results {
			if r.outcome == survived {
				fmt.Fprintf(w, "  %s  %s\n", r.target.File, r.site)
			}
		}
	}
	fmt.Fprintf(w, "auto mutants=%d killed=%d explained=%d survived=%d not_compiled=%d\n", tot.killed+tot.survived+tot.explained+tot.broken, tot.killed, tot.explained, tot.survived, tot.broken)
}

// autoFlags are the automatic mode's flags.
type autoFlags struct {
	fs       *flag.FlagSet
	files    string
	funcs    string
	redo     string
	ops      string
	max      int
	offset   int
	timeout  time.Duration
	list     bool
	verbose  bool
	parallel int
}

func newAutoFlags(stderr io.Writer) *autoFlags {
	a := &autoFlags{fs: flag.NewFlagSet("mutants -auto", flag.ContinueOnError)}
	a.fs.SetOutput(stderr)
	a.fs.Bool("auto", true, "generate mutants from the files of autoTargets (this mode)")
	a.fs.StringVar(&a.files, "files", "", "mutate only the target files matching this regular expression")
	a.fs.StringVar(&a.funcs, "funcs", "", "mutate only the sites in functions matching this regular expression (as printed: Type.method or func)")
	a.fs.StringVar(&a.redo, "redo", "", "mutate only the sites reported SURVIVED in this earlier output (matched by file, function, operator and text, not line)")
	a.fs.StringVar(&a.ops, "ops", "boundary,negate,arith,call,return", "operators, comma-separated")
	a.fs.IntVar(&a.max, "max", 30, "at most this many mutants per file (every kth site); 0 = all")
	a.fs.IntVar(&a.offset, "offset", 0, "which residue mod k the sampling keeps")
	a.fs.DurationVar(&a.timeout, "timeout", time.Minute, "test timeout of one mutant whose target sets none")
	a.fs.BoolVar(&a.list, "list", false, "list the mutants and exit")
	a.fs.BoolVar(&a.verbose, "v", false, "print every mutant's outcome, not compiled ones included")
	a.fs.IntVar(&a.parallel, "p", 1, "go test -p (packages built and tested at once)")
	return a
}

func (a *autoFlags) parse(args []string) error {
	if err := a.fs.Parse(args); err != nil {
		return err
	}
	if a.fs.NArg() > 0 {
		fmt.Fprintln(a.fs.Output(), "mutants: unexpected arguments:", a.fs.Args())
		return errors.New("unexpected arguments")
	}
	return nil
}

// testArgs are the go test flags of a mutant's run: no vet (the baseline
// vetted the same code but one operator), -p as asked.
func (a *autoFlags) testArgs() []string {
	return []string{"-vet=off", "-failfast", "-p", strconv.Itoa(a.parallel)}
}

// siteKey names a site without its line number, as a report prints it, so
// that a survivor of an earlier run is found again after the code moved.
func siteKey(file string, s site) string {
	return file + " " + strings.Replace(s.String(), fmt.Sprintf(":%d ", s.Line), " ", 1)
}

// survivorsOf reads an earlier -auto output and returns the keys of the
// sites it reported SURVIVED.
func survivorsOf(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	lineRe := regexp.MustCompile(`^\[\d+/\d+\] SURVIVED +(\S+) +(\S+):\d+ (.*)$`)
	for _, l := range strings.Split(string(b), "\n") {
		if m := lineRe.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			out[m[1]+" "+m[2]+" "+m[3]] = true
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s reports no survivor", path)
	}
	return out, nil
}
