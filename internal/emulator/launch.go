package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures Start. The zero value starts kinesis-local and dynalite
// with the defaults below.
type Options struct {
	// Kinesalite also starts kinesalite (default false).
	Kinesalite bool

	// Root is the repository root holding emulators/ with its node_modules
	// (default: $SHARDWISE_ROOT, else the directory of the go.mod found by
	// walking up from the working directory).
	Root string

	// LogDir receives one log file per emulator, <name>.log, truncated when
	// the emulator starts and left in place by Stop (default: a temporary
	// directory that Stop removes).
	LogDir string

	// Node is the Node.js executable, a path or a name looked up in PATH
	// (default "node").
	Node string

	// ReadyTimeout bounds the wait for each emulator to answer its first
	// request (default 60s; kinesis-local can take seconds on a busy
	// machine).
	ReadyTimeout time.Duration

	// StopGrace is how long Stop waits after SIGTERM before it sends
	// SIGKILL (default 5s; kinesis-mock can be slow to exit).
	StopGrace time.Duration

	// ShardLimit is the shard limit of kinesis-local and kinesalite (default
	// 1000; their own defaults, 50 and 10, are too low for resharding
	// tests).
	ShardLimit int

	// KinesisLogLevel is kinesis-local's LOG_LEVEL: ERROR, WARN, INFO, DEBUG
	// or TRACE (default ERROR: WARN logs every rejected request, which tests
	// provoke on purpose).
	KinesisLogLevel string
}

// Validate reports options that cannot work. Zero values mean "default".
func (o Options) Validate() error {
	var errs []error
	if o.ReadyTimeout < 0 {
		errs = append(errs, fmt.Errorf("ReadyTimeout %v is negative", o.ReadyTimeout))
	}
	if o.StopGrace < 0 {
		errs = append(errs, fmt.Errorf("StopGrace %v is negative", o.StopGrace))
	}
	if o.ShardLimit < 0 {
		errs = append(errs, fmt.Errorf("ShardLimit %d is negative", o.ShardLimit))
	}
	switch o.KinesisLogLevel {
	case "", "ERROR", "WARN", "INFO", "DEBUG", "TRACE":
	default:
		errs = append(errs, fmt.Errorf("KinesisLogLevel %q is not one of ERROR, WARN, INFO, DEBUG, TRACE", o.KinesisLogLevel))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("emulator: invalid options: %w", err)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Node == "" {
		o.Node = "node"
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if o.StopGrace == 0 {
		o.StopGrace = 5 * time.Second
	}
	if o.ShardLimit == 0 {
		o.ShardLimit = 1000
	}
	if o.KinesisLogLevel == "" {
		o.KinesisLogLevel = "ERROR"
	}
	return o
}

// Names of the emulators, also their log files' base names.
const (
	NameKinesisLocal = "kinesis-local"
	NameDynalite     = "dynalite"
	NameKinesalite   = "kinesalite"
)

// Cluster is a set of running emulators started by Start. Stop it when
// done; it also stops when Start's context ends.
type Cluster struct {
	env     Env
	dir     string // the emulators directory (package.json, node_modules)
	node    string // path of the node executable
	scratch string // private temporary directory: JS files, and logs unless Options.LogDir
	logDir  string
	opts    Options

	// procs is filled by Start before it returns and read-only after.
	procs []*process

	stopping atomic.Bool // set first thing in Stop: exits from then on are expected
	stopOnce sync.Once
	stopErr  error // written inside stopOnce

	watchers sync.WaitGroup // goroutines waiting for a process to exit; Stop waits for them

	mu        sync.Mutex
	stopAfter func() bool   // unregisters the context.AfterFunc; guarded by mu
	exitErr   error         // first unexpected exit; guarded by mu
	done      chan struct{} // closed (under mu) when the first emulator exits, for whatever reason
}

// Env returns the endpoints of the running emulators.
func (c *Cluster) Env() Env { return c.env }

// LogDir returns the directory holding the emulators' log files. Unless
// Options.LogDir was set, Stop removes it.
func (c *Cluster) LogDir() string { return c.logDir }

// Done is closed once any emulator has exited: after Stop, or when one died
// on its own (then Err says which).
func (c *Cluster) Done() <-chan struct{} { return c.done }

// Err returns, once Done is closed, the error describing an emulator that
// exited without Stop being called (with the tail of its log), or nil.
func (c *Cluster) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exitErr
}

// Start starts kinesis-local and dynalite, and kinesalite if
// opts.Kinesalite, each as a Node child process in its own process group
// listening on a free port of 127.0.0.1, and returns once every one answers
// requests. The emulators run until Stop is called or ctx ends, whichever
// comes first.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if !supported {
		return nil, errUnsupported
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	dir, err := EmulatorsDir(opts.Root)
	if err != nil {
		return nil, err
	}
	specs := []spec{kinesisLocalSpec(dir, opts), dynaliteSpec(dir)}
	if opts.Kinesalite {
		specs = append(specs, kinesaliteSpec(dir, opts))
	}
	pkgs := make([]string, len(specs))
	for i, s := range specs {
		pkgs[i] = s.name
	}
	if err := checkInstalled(dir, pkgs...); err != nil {
		return nil, err
	}
	node, err := exec.LookPath(opts.Node)
	if err != nil {
		return nil, fmt.Errorf("emulator: Node.js is needed to run the emulators: %w", err)
	}

	scratch, err := os.MkdirTemp("", "shardwise-emulators-")
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	c := &Cluster{dir: dir, node: node, scratch: scratch, logDir: scratch, opts: opts, done: make(chan struct{})}
	if opts.LogDir != "" {
		if c.logDir, err = filepath.Abs(opts.LogDir); err == nil {
			err = os.MkdirAll(c.logDir, 0o755)
		}
	}
	if err == nil {
		err = writeFiles(scratch, map[string]string{"preload.js": preloadJS, "kinesalite.js": kinesaliteJS})
	}
	if err != nil {
		os.RemoveAll(scratch)
		return nil, fmt.Errorf("emulator: %w", err)
	}

	// The emulators are independent: start them side by side, so the
	// whole start takes as long as the slowest one; and give up on all as
	// soon as one fails.
	launchCtx, cancelLaunch := context.WithCancelCause(ctx)
	defer cancelLaunch(nil)
	procs := make([]*process, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() {
			procs[i], errs[i] = c.launch(launchCtx, s)
			if errs[i] != nil {
				cancelLaunch(errSiblingFailed)
			}
		})
	}
	wg.Wait()
	for _, p := range procs {
		if p != nil {
			c.procs = append(c.procs, p)
		}
	}
	var failures []error
	for _, err := range errs {
		// Those cut short by another's failure only echo it.
		if err != nil && !errors.Is(err, errSiblingFailed) {
			failures = append(failures, err)
		}
	}
	if err := errors.Join(failures...); err != nil {
		if stopErr := c.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}

	for _, p := range c.procs {
		url := "http://127.0.0.1:" + strconv.Itoa(p.port)
		switch p.name {
		case NameKinesisLocal:
			c.env.Kinesis = url
		case NameDynalite:
			c.env.DynamoDB = url
		case NameKinesalite:
			c.env.Kinesalite = url
		}
		c.watchers.Go(func() {
			<-p.done
			c.exited(p)
		})
	}
	c.mu.Lock()
	c.stopAfter = context.AfterFunc(ctx, func() { c.Stop() })
	c.mu.Unlock()
	return c, nil
}

// exited records that p's process ended, which is a failure unless Stop
// asked for it.
func (c *Cluster) exited(p *process) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return
	default:
	}
	if !c.stopping.Load() {
		c.exitErr = fmt.Errorf("emulator: %s exited on its own (%v); log %s:\n%s", p.name, p.err, p.logPath, tail(p.readLog()))
	}
	close(c.done)
}

// Stop stops every emulator: SIGTERM to its process group, SIGKILL after
// Options.StopGrace, and waits for them to exit. It may be called any
// number of times, from any goroutine; every call returns the first call's
// result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		c.stopping.Store(true)
		c.mu.Lock()
		if c.stopAfter != nil {
			c.stopAfter()
		}
		c.mu.Unlock()

		errs := make([]error, len(c.procs)+1)
		var wg sync.WaitGroup
		for i, p := range c.procs {
			wg.Go(func() { errs[i] = p.stop(c.opts.StopGrace) })
		}
		wg.Wait()
		c.watchers.Wait()
		c.mu.Lock()
		select {
		case <-c.done:
		default:
			close(c.done)
		}
		c.mu.Unlock()
		errs[len(c.procs)] = os.RemoveAll(c.scratch)
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// spec describes how to run one emulator.
type spec struct {
	name   string
	nports int                                        // ports to choose; the first is the API port
	args   func(scratch string, ports []int) []string // node arguments after the preload
	env    func(ports []int) []string                 // KEY=VALUE added to (and replacing) the inherited environment
	drop   []string                                   // inherited variables to remove
	probe  probe
}

func kinesisLocalSpec(dir string, opts Options) spec {
	pkg := filepath.Join(dir, "node_modules", NameKinesisLocal)
	return spec{
		name:   NameKinesisLocal,
		nports: 2, // plain HTTP (the one we use) and TLS (it always opens one)
		args:   func(string, []int) []string { return []string{filepath.Join(pkg, "main.js")} },
		env: func(ports []int) []string {
			env := []string{
				"KINESIS_MOCK_PLAIN_PORT=" + strconv.Itoa(ports[0]),
				"KINESIS_MOCK_TLS_PORT=" + strconv.Itoa(ports[1]),
				// Read relative to the working directory unless absolute.
				"KINESIS_MOCK_CERT_PATH=" + filepath.Join(pkg, "server.json"),
				"SHARD_LIMIT=" + strconv.Itoa(opts.ShardLimit),
				"ON_DEMAND_STREAM_COUNT_LIMIT=" + strconv.Itoa(opts.ShardLimit),
				"AWS_REGION=" + Region,
				"AWS_ACCOUNT_ID=000000000000",
				"LOG_LEVEL=" + opts.KinesisLogLevel,
				"ROOT_LOG_LEVEL=ERROR",
				"SHOULD_PERSIST_DATA=false",
				"LOAD_DATA_IF_EXISTS=false",
			}
			// Every state transition is immediate: tests wait for ACTIVE
			// anyway, and 500 ms per reshard step adds up.
			for _, op := range []string{
				"CREATE_STREAM", "DELETE_STREAM", "REGISTER_STREAM_CONSUMER",
				"DEREGISTER_STREAM_CONSUMER", "START_STREAM_ENCRYPTION",
				"STOP_STREAM_ENCRYPTION", "MERGE_SHARDS", "SPLIT_SHARD",
				"UPDATE_SHARD_COUNT", "UPDATE_STREAM_MODE",
			} {
				env = append(env, op+"_DURATION=0ms")
			}
			return env
		},
		drop:  []string{"INITIALIZE_STREAMS", "PERSIST_PATH", "PERSIST_FILE_NAME", "PERSIST_INTERVAL"},
		probe: kinesisProbe,
	}
}

func dynaliteSpec(dir string) spec {
	return spec{
		name:   NameDynalite,
		nports: 1,
		args: func(_ string, ports []int) []string {
			return []string{
				filepath.Join(dir, "node_modules", NameDynalite, "cli.js"),
				"--host", "127.0.0.1", "--port", strconv.Itoa(ports[0]),
				"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0",
			}
		},
		env:   func([]int) []string { return nil },
		probe: dynamoDBProbe,
	}
}

func kinesaliteSpec(dir string, opts Options) spec {
	return spec{
		name:   NameKinesalite,
		nports: 1,
		args: func(scratch string, ports []int) []string {
			return []string{
				filepath.Join(scratch, "kinesalite.js"), filepath.Join(dir, "node_modules", NameKinesalite),
				strconv.Itoa(ports[0]), strconv.Itoa(opts.ShardLimit),
			}
		},
		env:   func([]int) []string { return nil },
		probe: kinesisProbe,
	}
}

// errUnsupported is Start's answer where process groups and signals are
// missing.
var errUnsupported = errors.New("emulator: starting emulators needs a Unix system")

// errSiblingFailed cancels the start of the other emulators when one
// fails.
var errSiblingFailed = errors.New("another emulator failed to start")

// errPortClash marks a start that failed because another process took one
// of the chosen ports first; launch retries with new ports.
var errPortClash = errors.New("port already in use")

// pickPorts chooses the ports of one launch attempt (a variable so a test
// can hand out a taken port).
var pickPorts = freePorts

// maxAttempts bounds launch's retries after port clashes.
const maxAttempts = 5

// launch starts one emulator and waits until it answers, retrying with
// fresh ports when one was taken in the meantime.
func (c *Cluster) launch(ctx context.Context, s spec) (*process, error) {
	for attempt := 1; ; attempt++ {
		ports, err := pickPorts(s.nports)
		if err != nil {
			return nil, err
		}
		p, err := c.spawn(s, ports)
		if err != nil {
			return nil, err
		}
		err = c.awaitReady(ctx, p, s.probe)
		if err == nil {
			return p, nil
		}
		if stopErr := p.stop(c.opts.StopGrace); stopErr != nil {
			// It may still hold its port and must not be forgotten.
			return p, errors.Join(err, stopErr)
		}
		if errors.Is(err, errPortClash) && attempt < maxAttempts {
			continue
		}
		return nil, err
	}
}

// spawn starts s's process on ports; its stdout and stderr go to its log
// file.
func (c *Cluster) spawn(s spec, ports []int) (*process, error) {
	logPath := filepath.Join(c.logDir, s.name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor once started

	args := append([]string{"-r", filepath.Join(c.scratch, "preload.js")}, s.args(c.scratch, ports)...)
	cmd := exec.Command(c.node, args...)
	cmd.Dir = c.dir
	cmd.Env = mergeEnv(os.Environ(), s.env(ports), s.drop)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	setProcAttrs(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("emulator: starting %s: %w", s.name, err)
	}
	p := &process{name: s.name, port: ports[0], logPath: logPath, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pollInterval is how often awaitReady asks an emulator whether it is up.
const pollInterval = 25 * time.Millisecond

var errNotReady = errors.New("not ready in time")

// awaitReady returns once p has reported listening on its port and answers
// the probe with HTTP 200; or fails when p exits, ctx ends or
// Options.ReadyTimeout passes.
func (c *Cluster) awaitReady(ctx context.Context, p *process, pr probe) error {
	ctx, cancel := context.WithTimeoutCause(ctx, c.opts.ReadyTimeout, errNotReady)
	defer cancel()
	endpoint := "http://127.0.0.1:" + strconv.Itoa(p.port)
	marker := listenMarker + "127.0.0.1:" + strconv.Itoa(p.port) + "\n"
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	start := time.Now()
	var last error
	for {
		log := p.readLog()
		if clashed(log) {
			return fmt.Errorf("emulator: %s on port %d: %w", p.name, p.port, errPortClash)
		}
		if strings.Contains(log, marker) {
			if last = pr.do(ctx, endpoint); last == nil {
				return nil
			}
		} else {
			last = fmt.Errorf("not yet listening on 127.0.0.1:%d", p.port)
		}
		select {
		case <-p.done:
			log := p.readLog()
			if clashed(log) {
				return fmt.Errorf("emulator: %s on port %d: %w", p.name, p.port, errPortClash)
			}
			return fmt.Errorf("emulator: %s exited before it was ready (%v); log %s:\n%s", p.name, p.err, p.logPath, tail(log))
		case <-ctx.Done():
			if cause := context.Cause(ctx); cause != errNotReady {
				return fmt.Errorf("emulator: starting %s: %w", p.name, cause)
			}
			return fmt.Errorf("emulator: %s not ready after %v (last: %v); log %s:\n%s",
				p.name, time.Since(start).Round(time.Millisecond), last, p.logPath, tail(log))
		case <-tick.C:
		}
	}
}

// clashed reports whether a log shows the listen failing on a taken port.
func clashed(log string) bool {
	return strings.Contains(log, "EADDRINUSE")
}

// process is one running emulator.
type process struct {
	name    string
	port    int // API port
	pid     int // also its process group id
	logPath string
	done    chan struct{} // closed once the process has exited and been reaped
	err     error         // how it exited; read only after done is closed
	killed  bool          // stop had to send SIGKILL; written and read by stop's caller only
}

// stop ends the process group and waits for the process: SIGTERM, then
// SIGKILL after grace. It returns an error only if the process outlives
// SIGKILL.
func (p *process) stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := terminateGroup(p.pid); err != nil {
		return fmt.Errorf("emulator: stopping %s: %w", p.name, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	}
	p.killed = true
	if err := killGroup(p.pid); err != nil {
		return fmt.Errorf("emulator: killing %s: %w", p.name, err)
	}
	t.Reset(10 * time.Second)
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return fmt.Errorf("emulator: %s (pid %d) still running 10s after SIGKILL", p.name, p.pid)
	}
}

// readLog returns the start of p's log: enough to see the listen marker
// and startup errors, bounded for emulators that log a lot.
func (p *process) readLog() string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return string(b)
}

// tail returns the last lines of a log, for error messages.
func tail(log string) string {
	const maxLines, maxBytes = 25, 4096
	log = strings.TrimRight(log, "\n")
	if log == "" {
		return "(empty)"
	}
	lines := strings.Split(log, "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	s := strings.Join(lines, "\n")
	if len(s) > maxBytes {
		s = "..." + s[len(s)-maxBytes:]
	}
	return s
}

// mergeEnv returns base without the variables named in drop or set by add,
// followed by add.
func mergeEnv(base, add, drop []string) []string {
	remove := make(map[string]bool, len(add)+len(drop))
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		remove[k] = true
	}
	for _, k := range drop {
		remove[k] = true
	}
	out := make([]string, 0, len(base)+len(add))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !remove[k] {
			out = append(out, kv)
		}
	}
	return append(out, add...)
}

func writeFiles(dir string, files map[string]string) error {
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
