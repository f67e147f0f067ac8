// Command shardwise is the operator's command for a Shardwise (or Java
// KCL v3) application's DynamoDB tables: what operators of the Java KCL do
// by hand in the DynamoDB console.
//
//	go install github.com/shardwise/shardwise/cmd/shardwise@latest
//
//	shardwise leases -table orders-consumer          # leases, owners, checkpoints, counters, lag
//	shardwise workers -table orders-consumer         # workers (Java rows too), their leases, the leader
//	shardwise watch -table orders-consumer           # a live view, refreshed every second
//	shardwise check -table orders-consumer           # what a table holds, before a migration; exit 1 if a Java fleet is live
//	shardwise import -from vmware -source-table old-app -table orders-consumer
//	shardwise set-checkpoint -table orders-consumer -shard shardId-000000000001 -to TRIM_HORIZON
//
// Every verb reads only, except import and set-checkpoint with -write;
// without -write they print what they would write. -json prints a JSON
// document (watch: one per frame, a line each) instead of tables. A bad
// argument exits with status 2, a failure or a refusal with status 1.
//
// AWS access comes from the default configuration (environment, shared
// files, instance role); -endpoint points at another DynamoDB endpoint,
// -local at the emulator in SHARDWISE_DYNAMODB_ENDPOINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// verb is one subcommand.
type verb struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cmdEnv, args []string) error
}

// verbs in the order the help lists them.
var verbs = []verb{
	{"leases", "list leases: owner, checkpoint, counter, lag, parents, children, state", runLeases},
	{"workers", "list workers with their leases, load and heartbeat, and the leader", runWorkers},
	{"watch", "live view of workers, leases, lag and hand-offs, redrawn every second", runWatch},
	{"check", "inspect a table before a migration: lease formats, Java tables and items, odd items, a live Java fleet (exit 1 if live)", runCheck},
	{"import", "import checkpoints from vmware-go-kcl-v2 or harlow/kinesis-consumer (dry run unless -write)", runImport},
	{"set-checkpoint", "move a shard's checkpoint, fenced against a live owner (dry run unless -write)", runSetCheckpoint},
}

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // a failure, or a refusal to write
	exitUsage = 2 // a bad argument
)

// cmdEnv is what a verb runs with; tests build their own.
type cmdEnv struct {
	stdout, stderr io.Writer
}

// usageError is a bad argument: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// refusal is a write the command would not do: exit status 1, and the
// reason on stderr.
type refusal struct{ msg string }

func (e *refusal) Error() string { return "refused: " + e.msg }

func refusef(format string, args ...any) error {
	return &refusal{msg: fmt.Sprintf(format, args...)}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: shardwise VERB [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Verbs:")
	for _, v := range verbs {
		fmt.Fprintf(w, "  %-15s %s\n", v.name, v.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `shardwise VERB -h` for a verb's flags. Nothing is written without -write;")
	fmt.Fprintln(w, "-json prints JSON instead of tables. Exit status: 0 done, 1 failed or refused, 2 bad arguments.")
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	}
	for _, v := range verbs {
		if v.name != name {
			continue
		}
		err := v.run(ctx, &cmdEnv{stdout: stdout, stderr: stderr}, args[1:])
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		}
		// Errors from the library start with "shardwise: " already.
		fmt.Fprintf(stderr, "shardwise %s: %s\n", name, strings.TrimPrefix(err.Error(), "shardwise: "))
		var ue *usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitError
	}
	fmt.Fprintf(stderr, "shardwise: unknown verb %q (verbs: %s)\n", name, verbNames())
	return exitUsage
}

func verbNames() string {
	names := make([]string, len(verbs))
	for i, v := range verbs {
		names[i] = v.name
	}
	return strings.Join(names, ", ")
}

// newFlags is a verb's flag set: errors are returned (not printed and
// exited on), -h prints the verb's flags to stdout.
func newFlags(env *cmdEnv, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("shardwise "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fs.SetOutput(env.stdout)
		fmt.Fprintf(env.stdout, "usage: shardwise %s %s\n\n", name, synopsis)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses a verb's flags; stray arguments are an error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err // the flag package has printed the usage
		}
		return usagef("%v (see -h)", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (flags go before nothing else; see -h)", fs.Arg(0))
	}
	return nil
}
