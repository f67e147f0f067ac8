package emulator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// requireInstalled skips the test unless Start can run here.
func requireInstalled(t *testing.T, kinesalite bool) {
	t.Helper()
	if testing.Short() {
		t.Skip("emulator self-test skipped in -short mode")
	}
	if !supported {
		t.Skip("emulator self-test skipped: needs a Unix system")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("emulator self-test skipped: node not in PATH (install Node.js 20)")
	}
	dir, err := EmulatorsDir("")
	if err != nil {
		t.Skipf("emulator self-test skipped: %v", err)
	}
	pkgs := []string{NameKinesisLocal, NameDynalite}
	if kinesalite {
		pkgs = append(pkgs, NameKinesalite)
	}
	if err := checkInstalled(dir, pkgs...); err != nil {
		t.Skipf("emulator self-test skipped: %v", err)
	}
}

// TestStartServeStop starts all three emulators, talks to each through the
// SDK, checks every socket they listen on is on 127.0.0.1, and stops them by
// ending the context.
func TestStartServeStop(t *testing.T) {
	requireInstalled(t, true)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	began := time.Now()
	c, err := Start(ctx, Options{Kinesalite: true, LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("emulators ready in %v: %+v", time.Since(began).Round(time.Millisecond), c.Env())
	stopped := false
	defer func() {
		if !stopped {
			c.Stop()
		}
	}()

	env := c.Env()
	if env.Kinesis == "" || env.DynamoDB == "" || env.Kinesalite == "" {
		t.Fatalf("Env() = %+v, want all three endpoints", env)
	}
	for _, ep := range []string{env.Kinesis, env.DynamoDB, env.Kinesalite} {
		if !strings.HasPrefix(ep, "http://127.0.0.1:") {
			t.Errorf("endpoint %q is not on 127.0.0.1", ep)
		}
	}

	callCtx, callCancel := context.WithTimeout(ctx, 30*time.Second)
	defer callCancel()
	if _, err := DynamoDBClient(env.DynamoDB).ListTables(callCtx, &dynamodb.ListTablesInput{}); err != nil {
		t.Errorf("dynalite ListTables: %v", err)
	}
	// More shards than either emulator allows by default (50 and 10), so
	// this also checks that ShardLimit and the zero durations got through.
	for _, k := range []struct {
		name, endpoint string
		shards         int32
	}{
		{NameKinesisLocal, env.Kinesis, 60},
		{NameKinesalite, env.Kinesalite, 20},
	} {
		client := KinesisClient(k.endpoint)
		if _, err := client.ListStreams(callCtx, &kinesis.ListStreamsInput{}); err != nil {
			t.Errorf("%s ListStreams: %v", k.name, err)
			continue
		}
		stream := aws.String("selftest")
		if _, err := client.CreateStream(callCtx, &kinesis.CreateStreamInput{StreamName: stream, ShardCount: aws.Int32(k.shards)}); err != nil {
			t.Errorf("%s CreateStream with %d shards: %v", k.name, k.shards, err)
			continue
		}
		w := kinesis.NewStreamExistsWaiter(client, func(o *kinesis.StreamExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
		})
		if err := w.Wait(callCtx, &kinesis.DescribeStreamInput{StreamName: stream}, 10*time.Second); err != nil {
			t.Errorf("%s stream not ACTIVE within 10s: %v", k.name, err)
			continue
		}
		out, err := client.DescribeStreamSummary(callCtx, &kinesis.DescribeStreamSummaryInput{StreamName: stream})
		if err != nil {
			t.Errorf("%s DescribeStreamSummary: %v", k.name, err)
		} else if s := out.StreamDescriptionSummary; s.StreamStatus != types.StreamStatusActive || aws.ToInt32(s.OpenShardCount) != k.shards {
			t.Errorf("%s stream is %s with %d open shards, want ACTIVE with %d", k.name, s.StreamStatus, aws.ToInt32(s.OpenShardCount), k.shards)
		}
	}

	if runtime.GOOS == "linux" {
		for _, p := range c.procs {
			addrs, err := listeningAddrs(p.pid)
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			want := 1
			if p.name == NameKinesisLocal {
				want = 2 // plain and TLS
			}
			if len(addrs) < want {
				t.Errorf("%s (pid %d) listens on %v, want at least %d sockets", p.name, p.pid, addrs, want)
			}
			for _, a := range addrs {
				if !strings.HasPrefix(a, "127.0.0.1:") {
					t.Errorf("%s (pid %d) listens on %s, want 127.0.0.1 only", p.name, p.pid, a)
				}
			}
			t.Logf("%s (pid %d) listens on %v", p.name, p.pid, addrs)
		}
	}

	// Ending the context stops the cluster; Stop then only waits.
	cancel()
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("cluster still running 30s after its context ended")
	}
	stopBegan := time.Now()
	if err := c.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	stopped = true
	t.Logf("stopped in %v", time.Since(stopBegan).Round(time.Millisecond))
	for _, p := range c.procs {
		if p.killed {
			t.Logf("%s needed SIGKILL", p.name)
		}
	}
	if err := c.Err(); err != nil {
		t.Errorf("Err() after Stop = %v, want nil", err)
	}
	assertGone(t, c)
	if runtime.GOOS == "linux" {
		if left := emulatorChildren(t); len(left) > 0 {
			t.Errorf("emulator processes left behind: %v", left)
		}
	}
}

// TestStopTwiceConcurrently checks Stop is safe to call repeatedly and
// from several goroutines.
func TestStopTwiceConcurrently(t *testing.T) {
	requireInstalled(t, false)
	c, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Env().Kinesalite != "" {
		t.Errorf("kinesalite started without being asked for: %+v", c.Env())
	}
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- c.Stop() }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("Stop: %v", err)
		}
	}
	if err := c.Stop(); err != nil {
		t.Errorf("Stop again: %v", err)
	}
	if _, err := os.Stat(c.scratch); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scratch directory %s left behind (%v)", c.scratch, err)
	}
	assertGone(t, c)
}

// TestEmulatorDeathIsReported kills an emulator behind the cluster's back
// and expects Done and Err to say so.
func TestEmulatorDeathIsReported(t *testing.T) {
	requireInstalled(t, false)
	c, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	var victim *process
	for _, p := range c.procs {
		if p.name == NameDynalite {
			victim = p
		}
	}
	if err := syscall.Kill(victim.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed 10s after an emulator was killed")
	}
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), NameDynalite) {
		t.Errorf("Err() = %v, want one naming %s", err, NameDynalite)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	assertGone(t, c)
}

// assertGone checks that no process of c's process groups is left.
func assertGone(t *testing.T, c *Cluster) {
	t.Helper()
	for _, p := range c.procs {
		select {
		case <-p.done:
		default:
			t.Errorf("%s (pid %d) not reaped after Stop", p.name, p.pid)
			continue
		}
		// Signal 0 to the group: ESRCH once nothing in it is left.
		if err := syscall.Kill(-p.pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s: process group %d still has members after Stop (kill: %v)", p.name, p.pid, err)
		}
	}
}

// listeningAddrs returns the local addresses of the TCP sockets pid is
// listening on, from /proc: the socket inodes among its open descriptors,
// matched against the LISTEN entries of /proc/net/tcp and tcp6.
func listeningAddrs(pid int) ([]string, error) {
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
		if err != nil {
			continue // closed in the meantime
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	var addrs []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // no IPv6
			}
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] {
				continue
			}
			a, err := decodeProcAddr(fields[1])
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %w", table, err)
			}
			addrs = append(addrs, a)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return addrs, nil
}

// decodeProcAddr turns /proc/net/tcp's "0100007F:1F90" (IPv4 as a
// little-endian word; IPv6 as four of them) into "127.0.0.1:8080"; an
// IPv4-mapped IPv6 address comes out as plain IPv4.
func decodeProcAddr(s string) (string, error) {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if !ok || err != nil || (len(hexIP) != 8 && len(hexIP) != 32) {
		return "", fmt.Errorf("bad address %q", s)
	}
	var ip []byte
	for i := 0; i < len(hexIP); i += 8 {
		w, err := strconv.ParseUint(hexIP[i:i+8], 16, 32)
		if err != nil {
			return "", fmt.Errorf("bad address %q", s)
		}
		ip = append(ip, byte(w), byte(w>>8), byte(w>>16), byte(w>>24))
	}
	if len(ip) == 16 && string(ip[:12]) == "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff" {
		ip = ip[12:]
	}
	if len(ip) == 4 {
		return fmt.Sprintf("%d.%d.%d.%d:%d", ip[0], ip[1], ip[2], ip[3], port), nil
	}
	return fmt.Sprintf("[%x]:%d", ip, port), nil
}

func TestDecodeProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000:0050":                         "0.0.0.0:80",
		"0000000000000000FFFF00000100007F:A411": "127.0.0.1:42001",
		"00000000000000000000000000000000:0016": "[00000000000000000000000000000000]:22",
	} {
		got, err := decodeProcAddr(in)
		if err != nil || got != want {
			t.Errorf("decodeProcAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestPortClashIsRetried hands each emulator a port that is already taken
// on its first attempt and expects Start to retry with fresh ports.
func TestPortClashIsRetried(t *testing.T) {
	requireInstalled(t, false)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	var mu sync.Mutex
	clashed := map[int]bool{} // by number of ports asked for: 2 is kinesis-local, 1 dynalite
	pickPorts = func(n int) ([]int, error) {
		ports, err := freePorts(n)
		mu.Lock()
		defer mu.Unlock()
		if err == nil && !clashed[n] {
			clashed[n] = true
			ports[0] = takenPort
		}
		return ports, err
	}
	defer func() { pickPorts = freePorts }()

	c, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	mu.Lock()
	if !clashed[1] || !clashed[2] {
		t.Errorf("taken port not handed out to both emulators: %v", clashed)
	}
	mu.Unlock()
	env := c.Env()
	for _, ep := range []string{env.Kinesis, env.DynamoDB} {
		if strings.HasSuffix(ep, ":"+strconv.Itoa(takenPort)) {
			t.Errorf("endpoint %s is the taken port", ep)
		}
	}
	if _, err := DynamoDBClient(env.DynamoDB).ListTables(t.Context(), &dynamodb.ListTablesInput{}); err != nil {
		t.Errorf("dynalite after retry: %v", err)
	}
	if _, err := KinesisClient(env.Kinesis).ListStreams(t.Context(), &kinesis.ListStreamsInput{}); err != nil {
		t.Errorf("kinesis-local after retry: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// TestReadyTimeout expects a start that cannot finish in time to fail,
// saying so, and to leave no emulator behind.
func TestReadyTimeout(t *testing.T) {
	requireInstalled(t, false)
	_, err := Start(t.Context(), Options{ReadyTimeout: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "not ready after") {
		t.Fatalf("Start with a 1ms ReadyTimeout: %v, want a not-ready error", err)
	}
	if runtime.GOOS == "linux" {
		if left := emulatorChildren(t); len(left) > 0 {
			t.Errorf("emulator processes left behind: %v", left)
		}
	}
}

// emulatorChildren lists this process's children that run Node with the
// harness's preload, from /proc.
func emulatorChildren(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ")".
		_, rest, ok := strings.Cut(string(stat), ") ")
		fields := strings.Fields(rest)
		if !ok || len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if args := strings.ReplaceAll(string(cmdline), "\x00", " "); strings.Contains(args, "preload.js") {
			found = append(found, fmt.Sprintf("%d: %s", pid, args))
		}
	}
	return found
}

// TestDynaliteSurvivesAbortedRequests hangs up in the middle of sending a
// request to dynalite (as a Go client whose context is cancelled mid-call
// does) and checks that it still answers: dynalite rethrows the request's
// error event and, without the preload's handler, dies.
func TestDynaliteSurvivesAbortedRequests(t *testing.T) {
	requireInstalled(t, false)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c, err := Start(ctx, Options{LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	host := strings.TrimPrefix(c.Env().DynamoDB, "http://")
	for i := 0; i < 3; i++ {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		// Headers promise 1,000 bytes; 10 arrive, then the connection is
		// reset.
		fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: 1000\r\n\r\n{\"Limit\":1", host)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST, as an aborted client does
		}
		conn.Close()
	}
	waitCtx, cancelWait := context.WithTimeout(ctx, 20*time.Second)
	defer cancelWait()
	if _, err := DynamoDBClient(c.Env().DynamoDB).ListTables(waitCtx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("dynalite after aborted requests: %v", err)
	}
}
