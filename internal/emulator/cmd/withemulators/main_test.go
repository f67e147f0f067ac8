package main

import (
	"bufio"
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shardwise/shardwise/internal/emulator"
)

// asMain makes the test binary act as withemulators, so a test can signal
// it as a separate process without building it first.
const asMain = "WITHEMULATORS_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func requireEmulators(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped in -short mode: starts the emulators")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("skipped: node not in PATH")
	}
	dir, err := emulator.EmulatorsDir("")
	if err != nil {
		t.Skipf("skipped: %v", err)
	}
	for _, p := range []string{emulator.NameKinesisLocal, emulator.NameDynalite} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", p, "package.json")); err != nil {
			t.Skipf("skipped: %s not installed; run `make test`", p)
		}
	}
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env
}

// assertClosed checks nothing listens at endpoint any more.
func assertClosed(t *testing.T, endpoint string) {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after withemulators exited", endpoint)
	}
}

func TestRunPassesEndpointsAndExitCode(t *testing.T) {
	requireEmulators(t)
	out := filepath.Join(t.TempDir(), "env")
	// A stale value from the caller's environment must not reach the
	// command when kinesalite is not started.
	t.Setenv(emulator.EnvKinesalite, "http://127.0.0.1:1")
	// The command also checks the edge answers for both emulators.
	script := `env | grep -E '^(SHARDWISE_|AWS_ENDPOINT_URL)' > "$0"
for call in Kinesis_20131202.ListStreams:1.1 DynamoDB_20120810.ListTables:1.0; do
	target=${call%:*}
	curl -s -o /dev/null -w "$target=%{http_code}\n" -X POST -H "X-Amz-Target: $target" -H "Content-Type: application/x-amz-json-${call#*:}" \
		-H "X-Amz-Date: 20250101T000000Z" -H "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/x/aws4_request, SignedHeaders=host, Signature=00" \
		-d '{}' "$SHARDWISE_EDGE_ENDPOINT/" >> "$0"
done
exit 3`
	code := run([]string{"-logs", t.TempDir(), "--", "sh", "-c", script, out})
	if code != 3 {
		t.Errorf("exit code %d, want the command's 3", code)
	}
	env := readEnvFile(t, out)
	for _, k := range []string{emulator.EnvKinesis, emulator.EnvDynamoDB, emulator.EnvEdge} {
		if !strings.HasPrefix(env[k], "http://127.0.0.1:") {
			t.Errorf("%s=%q, want an http://127.0.0.1 endpoint", k, env[k])
		}
	}
	for k, want := range map[string]string{
		"AWS_ENDPOINT_URL_KINESIS":  env[emulator.EnvKinesis],
		"AWS_ENDPOINT_URL_DYNAMODB": env[emulator.EnvDynamoDB],
		"AWS_ENDPOINT_URL":          env[emulator.EnvEdge],
	} {
		if env[k] != want {
			t.Errorf("%s=%q, want %q", k, env[k], want)
		}
	}
	if _, err := exec.LookPath("curl"); err == nil {
		for _, k := range []string{"Kinesis_20131202.ListStreams", "DynamoDB_20120810.ListTables"} {
			if env[k] != "200" {
				t.Errorf("%s through the edge: HTTP %q, want 200", k, env[k])
			}
		}
	}
	assertClosed(t, env[emulator.EnvEdge])
	if v, ok := env[emulator.EnvKinesalite]; ok {
		t.Errorf("%s=%q passed on though kinesalite was not started", emulator.EnvKinesalite, v)
	}
	assertClosed(t, env[emulator.EnvKinesis])
	assertClosed(t, env[emulator.EnvDynamoDB])
}

func TestUsageAndMissingCommand(t *testing.T) {
	if code := run(nil); code != 2 {
		t.Errorf("no command: exit code %d, want 2", code)
	}
	if code := run([]string{"-bogus"}); code != 2 {
		t.Errorf("unknown flag: exit code %d, want 2", code)
	}
}

func TestSignalIsForwarded(t *testing.T) {
	requireEmulators(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	cmd := exec.Command(os.Args[0], "-kinesalite", "-logs", dir, "--",
		"sh", "-c", `env | grep '^SHARDWISE_' > "$0.tmp" && mv "$0.tmp" "$0"; exec sleep 60`, out)
	cmd.Env = append(os.Environ(), asMain+"=1")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	// The command writes the file once the emulators are up.
	deadline := time.Now().Add(90 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(out); err == nil {
			break
		}
		select {
		case err := <-waited:
			t.Fatalf("withemulators exited early: %v", err)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("command not started within 90s")
		}
	}
	env := readEnvFile(t, out)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGTERM) {
			t.Errorf("withemulators ended with %v, want exit code %d (the command killed by SIGTERM)", err, 128+int(syscall.SIGTERM))
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("withemulators still running 30s after SIGTERM")
	}
	for _, k := range []string{emulator.EnvKinesis, emulator.EnvDynamoDB, emulator.EnvKinesalite} {
		if env[k] == "" {
			t.Errorf("%s not passed to the command", k)
			continue
		}
		assertClosed(t, env[k])
	}
}
