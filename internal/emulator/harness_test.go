package emulator

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPreloadForcesLoopback runs the preload under Node against every form
// of listen and expects each server on 127.0.0.1 (needs only node, not the
// emulators).
func TestPreloadForcesLoopback(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not in PATH")
	}
	dir := t.TempDir()
	preload := filepath.Join(dir, "preload.js")
	if err := os.WriteFile(preload, []byte(preloadJS), 0o644); err != nil {
		t.Fatal(err)
	}
	// Each form listens, prints "<form> <address>" and closes; the pipe
	// and the already-bound handle must be left as they are.
	script := `'use strict';
const net = require('net'), http = require('http'), path = require('path');
const forms = {
  'listen()': (s) => s.listen(),
  'listen(cb)': (s, cb) => s.listen(cb),
  'listen(0)': (s) => s.listen(0),
  'listen("0")': (s) => s.listen('0'),
  'listen(0, cb)': (s, cb) => s.listen(0, cb),
  'listen(0, 511, cb)': (s, cb) => s.listen(0, 511, cb),
  'listen(0, "0.0.0.0", cb)': (s, cb) => s.listen(0, '0.0.0.0', cb),
  'listen(0, "::", 10, cb)': (s, cb) => s.listen(0, '::', 10, cb),
  'listen(undefined, cb)': (s, cb) => s.listen(undefined, cb),
  'listen({port: 0})': (s) => s.listen({ port: 0 }),
  'listen({port: 0, host: "::", ipv6Only: true}, cb)': (s, cb) => s.listen({ port: 0, host: '::', ipv6Only: true }, cb),
  'http listen(0, "0.0.0.0")': null,
};
const names = Object.keys(forms);
function next(i) {
  if (i === names.length) return pipe();
  const name = names[i];
  const s = name.startsWith('http') ? http.createServer() : net.createServer();
  const report = () => {
    console.log(name + ' ' + s.address().address);
    s.close(() => next(i + 1));
  };
  if (forms[name] === null) { s.listen(0, '0.0.0.0'); s.once('listening', report); return; }
  const cb = report;
  forms[name](s, cb);
  if (forms[name].length < 2) s.once('listening', report);
}
function pipe() {
  const p = path.join(process.argv[2], 'sock');
  const s = net.createServer();
  s.listen(p, () => { console.log('pipe ' + s.address()); s.close(); });
}
next(0);
`
	scriptPath := filepath.Join(dir, "forms.js")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, "-r", preload, scriptPath, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var served int
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, listenMarker):
			if !strings.HasPrefix(line, listenMarker+"127.0.0.1:") {
				t.Errorf("marker %q not on 127.0.0.1", line)
			}
		case strings.HasPrefix(line, "pipe "):
			if want := "pipe " + filepath.Join(dir, "sock"); line != want {
				t.Errorf("got %q, want %q", line, want)
			}
		default:
			served++
			if !strings.HasSuffix(line, " 127.0.0.1") {
				t.Errorf("%s, want 127.0.0.1", line)
			}
		}
	}
	if served != 12 {
		t.Errorf("%d forms reported, want 12; output:\n%s", served, out)
	}
}

func TestEmulatorsDir(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "go.mod"), "module example.com/x\n")
	mustWrite(t, filepath.Join(root, "emulators", "package.json"), "{}\n")
	// A nested module without emulators/ of its own, as an example might be.
	mustWrite(t, filepath.Join(root, "examples", "nested", "go.mod"), "module example.com/nested\n")
	want := filepath.Join(root, "emulators")

	t.Run("explicit root", func(t *testing.T) {
		got, err := EmulatorsDir(root)
		if err != nil || got != want {
			t.Errorf("EmulatorsDir(%q) = %q, %v; want %q", root, got, err, want)
		}
	})
	t.Run("SHARDWISE_ROOT", func(t *testing.T) {
		t.Setenv(EnvRoot, root)
		got, err := EmulatorsDir("")
		if err != nil || got != want {
			t.Errorf("EmulatorsDir = %q, %v; want %q", got, err, want)
		}
	})
	t.Run("walk up from nested module", func(t *testing.T) {
		t.Setenv(EnvRoot, "")
		t.Chdir(filepath.Join(root, "examples", "nested"))
		got, err := EmulatorsDir("")
		if err != nil || got != want {
			t.Errorf("EmulatorsDir = %q, %v; want %q", got, err, want)
		}
	})
	t.Run("no emulators", func(t *testing.T) {
		t.Setenv(EnvRoot, "")
		empty := t.TempDir()
		mustWrite(t, filepath.Join(empty, "go.mod"), "module example.com/y\n")
		t.Chdir(empty)
		if got, err := EmulatorsDir(""); err == nil {
			t.Errorf("EmulatorsDir = %q, want an error", got)
		}
	})
}

func TestStartWithoutNodeModules(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "emulators", "package.json"), "{}\n")
	c, err := Start(t.Context(), Options{Root: root})
	if err == nil {
		c.Stop()
		t.Fatal("Start succeeded without node_modules")
	}
	if !strings.Contains(err.Error(), "npm ci --ignore-scripts --prefix emulators") {
		t.Errorf("error %q does not say how to install", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("zero Options: %v", err)
	}
	bad := Options{ReadyTimeout: -1, StopGrace: -1, ShardLimit: -1, KinesisLogLevel: "LOUD"}
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid Options accepted")
	}
	for _, field := range []string{"ReadyTimeout", "StopGrace", "ShardLimit", "KinesisLogLevel"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not mention %s", err, field)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv(
		[]string{"PATH=/bin", "LOG_LEVEL=DEBUG", "INITIALIZE_STREAMS=a:1", "HOME=/root"},
		[]string{"LOG_LEVEL=ERROR", "SHARD_LIMIT=1000"},
		[]string{"INITIALIZE_STREAMS"},
	)
	want := []string{"PATH=/bin", "HOME=/root", "LOG_LEVEL=ERROR", "SHARD_LIMIT=1000"}
	if !slices.Equal(got, want) {
		t.Errorf("mergeEnv = %q, want %q", got, want)
	}
}

func TestTail(t *testing.T) {
	if got := tail(""); got != "(empty)" {
		t.Errorf("tail(\"\") = %q", got)
	}
	var b strings.Builder
	for i := range 100 {
		b.WriteString(strings.Repeat("x", i) + "\n")
	}
	got := tail(b.String())
	if n := strings.Count(got, "\n") + 1; n != 25 {
		t.Errorf("tail kept %d lines, want 25", n)
	}
	if !strings.HasSuffix(got, strings.Repeat("x", 99)) {
		t.Errorf("tail lost the last line")
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFailedStartStopsTheOthers runs Start on stand-in emulators (no npm
// packages needed): a kinesis-local that never listens and a dynalite that
// exits at once. Start must fail fast with dynalite's log, not wait out the
// ready timeout, and leave nothing running.
func TestFailedStartStopsTheOthers(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil || !supported {
		t.Skip("needs node and a Unix system")
	}
	root := t.TempDir()
	nm := filepath.Join(root, "emulators", "node_modules")
	mustWrite(t, filepath.Join(root, "emulators", "package.json"), "{}\n")
	mustWrite(t, filepath.Join(nm, "kinesis-local", "package.json"), "{}\n")
	mustWrite(t, filepath.Join(nm, "kinesis-local", "main.js"), "setInterval(() => {}, 1000);\n")
	mustWrite(t, filepath.Join(nm, "dynalite", "package.json"), "{}\n")
	mustWrite(t, filepath.Join(nm, "dynalite", "cli.js"), "console.error('dynalite stand-in: boom'); process.exit(3);\n")

	began := time.Now()
	c, err := Start(t.Context(), Options{Root: root, ReadyTimeout: 30 * time.Second})
	if err == nil {
		c.Stop()
		t.Fatal("Start succeeded")
	}
	if took := time.Since(began); took > 15*time.Second {
		t.Errorf("Start took %v to fail, want it to give up when dynalite died", took)
	}
	msg := err.Error()
	if !strings.Contains(msg, "dynalite exited before it was ready") || !strings.Contains(msg, "dynalite stand-in: boom") {
		t.Errorf("error %q lacks dynalite's exit and log", msg)
	}
	if strings.Contains(msg, "kinesis-local") {
		t.Errorf("error %q also reports kinesis-local, which was only cut short", msg)
	}
	if runtime.GOOS == "linux" {
		if left := emulatorChildren(t); len(left) > 0 {
			t.Errorf("emulator processes left behind: %v", left)
		}
	}
}
