// Command withemulators starts the local Kinesis and DynamoDB emulators,
// runs a command with their endpoints in its environment, stops them when
// the command exits and exits with the command's status:
//
//	go run ./internal/emulator/cmd/withemulators [-kinesalite] [-logs DIR] -- CMD [ARGS...]
//
// The command sees SHARDWISE_KINESIS_ENDPOINT, SHARDWISE_DYNAMODB_ENDPOINT
// and, with -kinesalite, SHARDWISE_KINESALITE_ENDPOINT; and
// SHARDWISE_EDGE_ENDPOINT, one port in front of kinesis-local and dynalite
// as LocalStack's edge port is (see emulator.Edge). For programs that build
// their clients with config.LoadDefaultConfig it also sets the AWS SDK's
// AWS_ENDPOINT_URL_KINESIS and AWS_ENDPOINT_URL_DYNAMODB to the emulators,
// AWS_ENDPOINT_URL to the edge (so any other service, CloudWatch included,
// stays local), a region and fixed credentials. It inherits stdin,
// stdout and stderr; SIGINT and SIGTERM received by withemulators are passed
// on to it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/shardwise/shardwise/internal/emulator"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(argv []string) int {
	flags := flag.NewFlagSet("withemulators", flag.ContinueOnError)
	kinesalite := flags.Bool("kinesalite", false, "also start kinesalite")
	logDir := flags.String("logs", "", "directory for the emulators' logs (default: .emulators in the repository root)")
	readyTimeout := flags.Duration("ready-timeout", 60*time.Second, "how long each emulator may take to start")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: withemulators [-kinesalite] [-logs DIR] [-ready-timeout D] -- CMD [ARGS...]")
		flags.PrintDefaults()
	}
	if err := flags.Parse(argv); err != nil {
		return 2
	}
	args := flags.Args()
	if len(args) == 0 {
		flags.Usage()
		return 2
	}

	if *logDir == "" {
		dir, err := emulator.EmulatorsDir("")
		if err != nil {
			fmt.Fprintln(os.Stderr, "withemulators:", err)
			return 1
		}
		*logDir = filepath.Join(filepath.Dir(dir), ".emulators")
	}

	// Signals are caught from the start: during start-up they cancel it,
	// afterwards they go to the command, which decides when to exit. The
	// emulators stay up until it has, so it can shut down cleanly (write its
	// last checkpoints, say).
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	began := time.Now()
	startCtx, cancelStart := context.WithCancel(context.Background())
	defer cancelStart()
	type started struct {
		c   *emulator.Cluster
		err error
	}
	startDone := make(chan started, 1)
	go func() {
		c, err := emulator.Start(startCtx, emulator.Options{Kinesalite: *kinesalite, LogDir: *logDir, ReadyTimeout: *readyTimeout})
		startDone <- started{c, err}
	}()
	var cluster *emulator.Cluster
	select {
	case s := <-startDone:
		if s.err != nil {
			fmt.Fprintln(os.Stderr, "withemulators:", s.err)
			return 1
		}
		cluster = s.c
	case sig := <-sigs:
		cancelStart()
		if s := <-startDone; s.err == nil {
			s.c.Stop()
		}
		fmt.Fprintf(os.Stderr, "withemulators: %v during start-up\n", sig)
		return 128 + int(sig.(syscall.Signal))
	}

	env := cluster.Env()
	edge, err := emulator.StartEdge(env)
	if err != nil {
		fmt.Fprintln(os.Stderr, "withemulators:", err)
		cluster.Stop()
		return 1
	}
	defer edge.Close()
	env.Edge = edge.URL()
	var desc []string
	childEnv := os.Environ()
	for _, e := range []struct{ key, name, url string }{
		{emulator.EnvKinesis, emulator.NameKinesisLocal, env.Kinesis},
		{emulator.EnvDynamoDB, emulator.NameDynalite, env.DynamoDB},
		{emulator.EnvKinesalite, emulator.NameKinesalite, env.Kinesalite},
		{emulator.EnvEdge, "edge", env.Edge},
	} {
		// Always replace what the caller's environment had: a stale
		// endpoint from elsewhere must not leak in.
		childEnv = setEnv(childEnv, e.key, e.url)
		if e.url != "" {
			desc = append(desc, e.name+" "+e.url)
		}
	}
	// The same endpoints in the AWS SDK's own variables, so a program
	// that builds its clients the usual way (config.LoadDefaultConfig)
	// talks to the emulators with no code of ours: the examples do exactly
	// what a user's service does. Credentials and region are fixed ones
	// the emulators accept; the caller's are never sent to them. The
	// service-specific variables win over AWS_ENDPOINT_URL in the SDK;
	// the latter sends every other service (CloudWatch from a metrics
	// publisher, say) to the edge instead of to AWS.
	for _, kv := range [][2]string{
		{"AWS_ENDPOINT_URL_KINESIS", env.Kinesis},
		{"AWS_ENDPOINT_URL_DYNAMODB", env.DynamoDB},
		{"AWS_ENDPOINT_URL", env.Edge},
		{"AWS_REGION", emulator.Region},
		{"AWS_ACCESS_KEY_ID", "AKIDSHARDWISELOCAL"},
		{"AWS_SECRET_ACCESS_KEY", "shardwise-local-secret"},
		{"AWS_SESSION_TOKEN", ""},
		{"AWS_PROFILE", ""},
		{"AWS_EC2_METADATA_DISABLED", "true"},
	} {
		childEnv = setEnv(childEnv, kv[0], kv[1])
	}
	fmt.Fprintf(os.Stderr, "withemulators: %s (ready in %v, logs in %s)\n",
		strings.Join(desc, ", "), time.Since(began).Round(time.Millisecond), cluster.LogDir())

	code := runChild(args, childEnv, sigs, cluster)
	if err := cluster.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "withemulators: stopping emulators:", err)
	}
	return code
}

// runChild runs the command, passing on signals, and returns the exit
// code withemulators should exit with.
func runChild(args, env []string, sigs <-chan os.Signal, cluster *emulator.Cluster) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "withemulators:", err)
		return 127
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	died := cluster.Done()
	for {
		select {
		case sig := <-sigs:
			// Errors mean the child has just exited; Wait reports that.
			_ = cmd.Process.Signal(sig)
		case <-died:
			// Report it while the command runs: its failures will
			// likely be explained by this.
			fmt.Fprintln(os.Stderr, "withemulators: warning:", cluster.Err())
			died = nil
		case err := <-waited:
			return exitCode(err)
		}
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	fmt.Fprintln(os.Stderr, "withemulators:", err)
	return 1
}

// setEnv returns env with key set to value, or removed if value is "".
func setEnv(env []string, key, value string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	if value != "" {
		out = append(out, key+"="+value)
	}
	return out
}
