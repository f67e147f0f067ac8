// Command bench runs Shardwise's measurement scenarios and prints their
// figures as key=value lines, one scenario at a time:
//
//	go run ./internal/cmd/bench -scenario NAME [-quick]
//
// Each scenario lives in its own file and registers itself in init. The
// scenarios run in-process (in-memory fakes or an in-process Kinesis
// endpoint), so their figures do not depend on emulators or a network, and
// ratios are measured side by side in one run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"time"
)

// scenario is one measurement.
type scenario struct {
	about string
	run   func(ctx context.Context, opts options, out *report) error
}

// options are the flags every scenario may read.
type options struct {
	// quick shrinks the scenario (fewer records, shorter phases) for a
	// smoke run; figures are then less precise.
	quick bool
}

var scenarios = map[string]scenario{}

func register(name, about string, run func(ctx context.Context, opts options, out *report) error) {
	if _, dup := scenarios[name]; dup {
		panic("bench: scenario registered twice: " + name)
	}
	scenarios[name] = scenario{about: about, run: run}
}

// report prints key=value lines as they are measured.
type report struct {
	scenario string
}

// kv prints one figure. Values are formatted with %v, floats with 4
// significant digits.
func (r *report) kv(key string, value any) {
	switch v := value.(type) {
	case float64:
		fmt.Printf("%s=%.4g\n", key, v)
	default:
		fmt.Printf("%s=%v\n", key, v)
	}
}

// note prints a comment line that is not a figure.
func (r *report) note(format string, args ...any) {
	fmt.Printf("# "+format+"\n", args...)
}

func main() {
	name := flag.String("scenario", "", "scenario to run: "+strings.Join(names(), ", "))
	quick := flag.Bool("quick", false, "smaller, faster run (less precise figures)")
	timeout := flag.Duration("timeout", 30*time.Minute, "stop the scenario after this long")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	sc, ok := scenarios[*name]
	if !ok {
		fmt.Fprintf(os.Stderr, "bench: unknown scenario %q; choose one of:\n", *name)
		for _, n := range names() {
			fmt.Fprintf(os.Stderr, "  %-20s %s\n", n, scenarios[n].about)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	out := &report{scenario: *name}
	out.kv("scenario", *name)
	start := time.Now()
	if err := sc.run(ctx, options{quick: *quick}, out); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s: %v\n", *name, err)
		os.Exit(1)
	}
	out.kv("elapsed_s", time.Since(start).Seconds())
}

func names() []string {
	var ns []string
	for n := range scenarios {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}
