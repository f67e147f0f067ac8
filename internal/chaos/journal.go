package chaos

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// A journal is what one worker process (one incarnation of a worker id)
// processed, one event per line, tab-separated, every line stamped with
// Now():
//
//	P  t  worker  incarnation  pid                 the process started
//	I  t  n  shard  checkpoint                     processor n initialized at the lease's checkpoint
//	R  t  n  shard  seq  key  counter              processor n processed a record
//	C  t0  t1  n  shard  position  result          a checkpoint call: sent at t0, returned at t1, "ok" or why not
//	E  t  n  shard  lost|ended|shutdown            processor n's end
//
// n numbers the processors (one per lease acquisition) of the process.
// The records of a batch are written with one write(2) before the batch is
// checkpointed: a SIGKILL cannot take back what the kernel has, so every
// record a checkpoint covers is in the journal. (fsync would only matter
// if the host crashed, which the suite does not do.)
type Journal struct {
	mu sync.Mutex
	f  *os.File
}

// CreateJournal creates (or appends to) the journal at path and writes its
// P line.
func CreateJournal(path, worker string, incarnation int) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	j := &Journal{f: f}
	return j, j.write(fmt.Sprintf("P\t%d\t%s\t%d\t%d\n", Now(), worker, incarnation, os.Getpid()))
}

func (j *Journal) write(s string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, err := io.WriteString(j.f, s)
	return err
}

// Init records processor n's start on shard at checkpoint.
func (j *Journal) Init(n int, shard, checkpoint string) error {
	return j.write(fmt.Sprintf("I\t%d\t%d\t%s\t%s\n", Now(), n, shard, checkpoint))
}

// Processed is one record for Records.
type Processed struct {
	Seq     string
	Key     string
	Counter int64
}

// Records records a batch processed by processor n, in one write.
func (j *Journal) Records(n int, shard string, t int64, recs []Processed) error {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "R\t%d\t%d\t%s\t%s\t%s\t%d\n", t, n, shard, r.Seq, r.Key, r.Counter)
	}
	return j.write(b.String())
}

// Checkpoint records a checkpoint call of processor n.
func (j *Journal) Checkpoint(n int, shard string, t0, t1 int64, pos string, err error) error {
	res := "ok"
	if err != nil {
		res = strings.Join(strings.Fields(err.Error()), "_")
	}
	return j.write(fmt.Sprintf("C\t%d\t%d\t%d\t%s\t%s\t%s\n", t0, t1, n, shard, pos, res))
}

// End records processor n's end.
func (j *Journal) End(n int, shard, how string) error {
	return j.write(fmt.Sprintf("E\t%d\t%d\t%s\t%s\n", Now(), n, shard, how))
}

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }

// Event is one parsed journal line.
type Event struct {
	Kind    byte   // P, I, R, C, E
	T       int64  // the line's time (for C, when the call returned)
	Sent    int64  // C: when the call was sent
	N       int    // processor number within the process
	Shard   string // I, R, C, E
	Pos     string // I: checkpoint; R: sequence number; C: position
	Key     string // R
	Counter int64  // R
	What    string // C: result; E: lost, ended or shutdown; P: worker id
	Inc     int    // P: incarnation
	PID     int    // P
}

// tailer reads a journal as it grows: complete lines only, from where the
// last read stopped.
type tailer struct {
	path string
	off  int64
	rest []byte // an incomplete last line, kept for the next read
}

// read returns the events of the lines completed since the last call.
func (t *tailer) read() ([]Event, error) {
	f, err := os.Open(t.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(bufio.NewReader(f))
	if err != nil {
		return nil, err
	}
	t.off += int64(len(data))
	data = append(t.rest, data...)
	t.rest = nil
	var out []Event
	for len(data) > 0 {
		i := strings.IndexByte(string(data), '\n')
		if i < 0 {
			t.rest = append([]byte(nil), data...)
			break
		}
		line := string(data[:i])
		data = data[i+1:]
		ev, err := parseLine(line)
		if err != nil {
			return out, fmt.Errorf("%s: %w", t.path, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

func parseLine(line string) (Event, error) {
	f := strings.Split(line, "\t")
	bad := func() (Event, error) { return Event{}, fmt.Errorf("bad journal line %q", line) }
	if len(f) < 2 || len(f[0]) != 1 {
		return bad()
	}
	num := func(s string) int64 {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return -1
		}
		return v
	}
	ev := Event{Kind: f[0][0], T: num(f[1])}
	want := map[byte]int{'P': 5, 'I': 5, 'R': 7, 'C': 7, 'E': 5}[ev.Kind]
	if want == 0 || len(f) != want || ev.T < 0 {
		return bad()
	}
	switch ev.Kind {
	case 'P':
		ev.What, ev.Inc, ev.PID = f[2], int(num(f[3])), int(num(f[4]))
	case 'I':
		ev.N, ev.Shard, ev.Pos = int(num(f[2])), f[3], f[4]
	case 'R':
		ev.N, ev.Shard, ev.Pos, ev.Key, ev.Counter = int(num(f[2])), f[3], f[4], f[5], num(f[6])
		if ev.Counter < 0 {
			return bad()
		}
	case 'C':
		ev.Sent, ev.T = ev.T, num(f[2])
		ev.N, ev.Shard, ev.Pos, ev.What = int(num(f[3])), f[4], f[5], f[6]
	case 'E':
		ev.N, ev.Shard, ev.What = int(num(f[2])), f[3], f[4]
	}
	if ev.N < 0 {
		return bad()
	}
	return ev, nil
}
