package main

import (
	"strings"
	"testing"
)

// Sample `go test -json` streams, recorded from go1.26 runs of small
// throwaway packages (Time fields dropped: testsum does not read them).

// mixed: a passing package with a skip, a failing test with a failing
// subtest, a package whose test binary panicked, a build failure and a
// package without tests.
const mixed = `{"ImportPath":"example.com/ts/b [example.com/ts/b.test]","Action":"build-output","Output":"# example.com/ts/b [example.com/ts/b.test]\n"}
{"ImportPath":"example.com/ts/b [example.com/ts/b.test]","Action":"build-output","Output":"b/b_test.go:5:40: cannot use \"s\" (untyped string constant) as int value in variable declaration\n"}
{"ImportPath":"example.com/ts/b [example.com/ts/b.test]","Action":"build-fail"}
{"Action":"start","Package":"example.com/ts/a"}
{"Action":"start","Package":"example.com/ts/b"}
{"Action":"output","Package":"example.com/ts/b","Output":"FAIL\texample.com/ts/b [build failed]\n"}
{"Action":"fail","Package":"example.com/ts/b","Elapsed":0,"FailedBuild":"example.com/ts/b [example.com/ts/b.test]"}
{"Action":"start","Package":"example.com/ts/c"}
{"Action":"output","Package":"example.com/ts/c","Output":"?   \texample.com/ts/c\t[no test files]\n"}
{"Action":"skip","Package":"example.com/ts/c","Elapsed":0}
{"Action":"run","Package":"example.com/ts/a","Test":"TestPass"}
{"Action":"output","Package":"example.com/ts/a","Test":"TestPass","Output":"=== RUN   TestPass\n"}
{"Action":"output","Package":"example.com/ts/a","Test":"TestPass","Output":"    a_test.go:5: hello from pass\n"}
{"Action":"output","Package":"example.com/ts/a","Test":"TestPass","Output":"--- PASS: TestPass (0.00s)\n"}
{"Action":"pass","Package":"example.com/ts/a","Test":"TestPass","Elapsed":0}
{"Action":"run","Package":"example.com/ts/a","Test":"TestFail"}
{"Action":"output","Package":"example.com/ts/a","Test":"TestFail","Output":"=== RUN   TestFail\n"}
{"Action":"output","Package":"example.com/ts/a","Test":"TestFail","Output":"    a_test.go:7: about to fail\n"}
{"Action":"run","Package":"example.com/ts/a","Test":"TestFail/sub_ok"}
{"Action":"output","Package":"example.com/ts/a","Test":"TestFail/sub_ok","Output":"=== RUN   TestFail/sub_ok\n"}
{"Action":"output","Package":"example.com/ts/a","Test":"TestFail/sub_ok","Output":"--- PASS: TestFail/sub_ok (0.00s)\n"}
{"Action":"pass","Package":"example.com/ts/a","Test":"TestFail/sub_ok","Elapsed":0}
{"Action":"run","Package":"example.com/ts/a","Test":"TestFail/sub_bad"}
{"Action":"output","Package":"example.com/ts/a","Test":"TestFail/sub_bad","Output":"=== RUN   TestFail/sub_bad\n"}
{"Action":"output","Package":"example.com/ts/a","Test":"TestFail/sub_bad","Output":"    a_test.go:9: boom\n"}
{"Action":"output","Package":"example.com/ts/a","Test":"TestFail/sub_bad","Output":"--- FAIL: TestFail/sub_bad (0.00s)\n"}
{"Action":"fail","Package":"example.com/ts/a","Test":"TestFail/sub_bad","Elapsed":0}
{"Action":"output","Package":"example.com/ts/a","Test":"TestFail","Output":"--- FAIL: TestFail (0.00s)\n"}
{"Action":"fail","Package":"example.com/ts/a","Test":"TestFail","Elapsed":0}
{"Action":"run","Package":"example.com/ts/a","Test":"TestSkip"}
{"Action":"output","Package":"example.com/ts/a","Test":"TestSkip","Output":"=== RUN   TestSkip\n"}
{"Action":"output","Package":"example.com/ts/a","Test":"TestSkip","Output":"    a_test.go:11: integration test skipped: no emulators\n"}
{"Action":"output","Package":"example.com/ts/a","Test":"TestSkip","Output":"--- SKIP: TestSkip (0.00s)\n"}
{"Action":"skip","Package":"example.com/ts/a","Test":"TestSkip","Elapsed":0}
{"Action":"output","Package":"example.com/ts/a","Output":"FAIL\n"}
{"Action":"output","Package":"example.com/ts/a","Output":"FAIL\texample.com/ts/a\t0.030s\n"}
{"Action":"fail","Package":"example.com/ts/a","Elapsed":0.04}
{"Action":"start","Package":"example.com/ts/d"}
{"Action":"run","Package":"example.com/ts/d","Test":"TestOK"}
{"Action":"output","Package":"example.com/ts/d","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"run","Package":"example.com/ts/d","Test":"TestOK/x"}
{"Action":"output","Package":"example.com/ts/d","Test":"TestOK/x","Output":"=== RUN   TestOK/x\n"}
{"Action":"output","Package":"example.com/ts/d","Test":"TestOK/x","Output":"=== PAUSE TestOK/x\n"}
{"Action":"pause","Package":"example.com/ts/d","Test":"TestOK/x"}
{"Action":"run","Package":"example.com/ts/d","Test":"TestOK/y"}
{"Action":"output","Package":"example.com/ts/d","Test":"TestOK/y","Output":"=== RUN   TestOK/y\n"}
{"Action":"output","Package":"example.com/ts/d","Test":"TestOK/y","Output":"    d_test.go:7: no reason\n"}
{"Action":"output","Package":"example.com/ts/d","Test":"TestOK/y","Output":"--- SKIP: TestOK/y (0.00s)\n"}
{"Action":"skip","Package":"example.com/ts/d","Test":"TestOK/y","Elapsed":0}
{"Action":"cont","Package":"example.com/ts/d","Test":"TestOK/x"}
{"Action":"output","Package":"example.com/ts/d","Test":"TestOK/x","Output":"=== CONT  TestOK/x\n"}
{"Action":"output","Package":"example.com/ts/d","Test":"TestOK/x","Output":"--- PASS: TestOK/x (0.00s)\n"}
{"Action":"pass","Package":"example.com/ts/d","Test":"TestOK/x","Elapsed":0}
{"Action":"output","Package":"example.com/ts/d","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Action":"pass","Package":"example.com/ts/d","Test":"TestOK","Elapsed":0}
{"Action":"run","Package":"example.com/ts/d","Test":"TestPanic"}
{"Action":"output","Package":"example.com/ts/d","Test":"TestPanic","Output":"=== RUN   TestPanic\n"}
{"Action":"output","Package":"example.com/ts/d","Test":"TestPanic","Output":"--- FAIL: TestPanic (0.00s)\n"}
{"Action":"output","Package":"example.com/ts/d","Test":"TestPanic","Output":"panic: oops [recovered, repanicked]\n"}
{"Action":"output","Package":"example.com/ts/d","Test":"TestPanic","Output":"\t/tmp/tsmod/d/d_test.go:9 +0x25\n"}
{"Action":"fail","Package":"example.com/ts/d","Test":"TestPanic","Elapsed":0}
{"Action":"output","Package":"example.com/ts/d","Output":"FAIL\texample.com/ts/d\t0.023s\n"}
{"Action":"fail","Package":"example.com/ts/d","Elapsed":0.024}
`

// passing: two passing packages, one with a skipped subtest and coverage.
const passing = `go: downloading example.com/dep v1.0.0
{"Action":"start","Package":"example.com/p/one"}
{"Action":"run","Package":"example.com/p/one","Test":"TestA"}
{"Action":"output","Package":"example.com/p/one","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"example.com/p/one","Test":"TestA","Output":"    one_test.go:3: chatty log line that nobody needs\n"}
{"Action":"run","Package":"example.com/p/one","Test":"TestA/sub"}
{"Action":"output","Package":"example.com/p/one","Test":"TestA/sub","Output":"=== RUN   TestA/sub\n"}
{"Action":"output","Package":"example.com/p/one","Test":"TestA/sub","Output":"    one_test.go:9: integration test skipped: no emulators (SHARDWISE_KINESIS_ENDPOINT unset); run ` + "`make test`" + `\n"}
{"Action":"output","Package":"example.com/p/one","Test":"TestA/sub","Output":"--- SKIP: TestA/sub (0.00s)\n"}
{"Action":"skip","Package":"example.com/p/one","Test":"TestA/sub","Elapsed":0}
{"Action":"output","Package":"example.com/p/one","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"example.com/p/one","Test":"TestA","Elapsed":0}
{"Action":"output","Package":"example.com/p/one","Output":"PASS\n"}
{"Action":"output","Package":"example.com/p/one","Output":"ok  \texample.com/p/one\t0.012s\tcoverage: 81.0% of statements\n"}
{"Action":"pass","Package":"example.com/p/one","Elapsed":0.013}
{"Action":"start","Package":"example.com/p/two"}
{"Action":"run","Package":"example.com/p/two","Test":"TestB"}
{"Action":"output","Package":"example.com/p/two","Test":"TestB","Output":"=== RUN   TestB\n"}
{"Action":"output","Package":"example.com/p/two","Test":"TestB","Output":"--- PASS: TestB (0.00s)\n"}
{"Action":"pass","Package":"example.com/p/two","Test":"TestB","Elapsed":0}
{"Action":"output","Package":"example.com/p/two","Output":"PASS\n"}
{"Action":"pass","Package":"example.com/p/two","Elapsed":0.5}
`

// timedOut: a test binary killed by -timeout while a subtest ran, and,
// interleaved, a package whose TestMain exited before any test.
const timedOut = `{"Action":"start","Package":"example.com/ts/e"}
{"Action":"run","Package":"example.com/ts/e","Test":"TestQuick"}
{"Action":"output","Package":"example.com/ts/e","Test":"TestQuick","Output":"=== RUN   TestQuick\n"}
{"Action":"output","Package":"example.com/ts/e","Test":"TestQuick","Output":"--- PASS: TestQuick (0.00s)\n"}
{"Action":"pass","Package":"example.com/ts/e","Test":"TestQuick","Elapsed":0}
{"Action":"run","Package":"example.com/ts/e","Test":"TestHang"}
{"Action":"output","Package":"example.com/ts/e","Test":"TestHang","Output":"=== RUN   TestHang\n"}
{"Action":"run","Package":"example.com/ts/e","Test":"TestHang/inner"}
{"Action":"output","Package":"example.com/ts/e","Test":"TestHang/inner","Output":"=== RUN   TestHang/inner\n"}
{"Action":"output","Package":"example.com/ts/e","Test":"TestHang/inner","Output":"    e_test.go:10: waiting\n"}
{"Action":"start","Package":"example.com/ts/f"}
{"Action":"output","Package":"example.com/ts/f","Output":"setup failed: no db\n"}
{"Action":"output","Package":"example.com/ts/f","Output":"FAIL\texample.com/ts/f\t0.009s\n"}
{"Action":"fail","Package":"example.com/ts/f","Elapsed":0.009}
{"Action":"output","Package":"example.com/ts/e","Test":"TestHang/inner","Output":"panic: test timed out after 2s\n"}
{"Action":"output","Package":"example.com/ts/e","Test":"TestHang/inner","Output":"\trunning tests:\n"}
{"Action":"output","Package":"example.com/ts/e","Test":"TestHang/inner","Output":"\t\tTestHang/inner (2s)\n"}
{"Action":"output","Package":"example.com/ts/e","Output":"FAIL\texample.com/ts/e\t2.016s\n"}
{"Action":"fail","Package":"example.com/ts/e","Elapsed":2.02}
`

func run(t *testing.T, input string, verbose bool) (string, int) {
	t.Helper()
	var out strings.Builder
	s := newSummarizer(&out, verbose)
	if err := s.consume(strings.NewReader(input)); err != nil {
		t.Fatal(err)
	}
	code := s.finish()
	return out.String(), code
}

func lastLines(s string, n int) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-n:]
}

func assertContains(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q; output:\n%s", w, out)
		}
	}
}

func assertLacks(t *testing.T, out string, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(out, u) {
			t.Errorf("output has %q; output:\n%s", u, out)
		}
	}
}

func TestMixed(t *testing.T) {
	out, code := run(t, mixed, false)
	if code == 0 {
		t.Error("exit code 0, want non-zero")
	}
	// Counted: TestPass, TestFail/sub_ok, TestOK/x, TestOK passed;
	// TestFail/sub_bad, TestFail, TestPanic failed; TestSkip, TestOK/y
	// skipped.
	got := lastLines(out, 2)
	want := []string{"packages=4 tests_passed=4 tests_failed=3 tests_skipped=2", "4 passed, 3 failed, 2 skipped"}
	if got[0] != want[0] || got[1] != want[1] {
		t.Errorf("summary = %q, want %q", got, want)
	}
	assertContains(t, out,
		// Build errors pass through.
		"# example.com/ts/b [example.com/ts/b.test]\n",
		"b/b_test.go:5:40: cannot use",
		"FAIL\texample.com/ts/b [build failed]\n",
		// The failing test's full output, subtests included.
		"=== RUN   TestFail\n    a_test.go:7: about to fail\n=== RUN   TestFail/sub_ok\n",
		"    a_test.go:9: boom\n--- FAIL: TestFail/sub_bad (0.00s)\n--- FAIL: TestFail (0.00s)\n",
		"FAIL\texample.com/ts/a\t0.030s\n",
		"panic: oops [recovered, repanicked]\n",
		"?   \texample.com/ts/c\t[no test files]\n",
		"FAIL\texample.com/ts/d\t0.023s\n",
		"Failed tests (3):\nFAIL example.com/ts/a TestFail/sub_bad\nFAIL example.com/ts/a TestFail\nFAIL example.com/ts/d TestPanic\n",
		"Build failed",
	)
	// Passing tests stay quiet, and the package line is printed once.
	assertLacks(t, out, "hello from pass", "TestOK/x", "Skipped tests")
	if n := strings.Count(out, "FAIL\texample.com/ts/a\t"); n != 1 {
		t.Errorf("package FAIL line printed %d times", n)
	}
}

func TestPassingVerbose(t *testing.T) {
	out, code := run(t, passing, true)
	if code != 0 {
		t.Errorf("exit code %d, want 0; output:\n%s", code, out)
	}
	// TestA and TestB pass; TestA/sub is skipped.
	if got := lastLines(out, 1)[0]; got != "2 passed, 0 failed, 1 skipped" {
		t.Errorf("last line = %q", got)
	}
	assertContains(t, out,
		"go: downloading example.com/dep v1.0.0\n",
		"ok  \texample.com/p/one\t0.012s\tcoverage: 81.0% of statements\n",
		"ok  \texample.com/p/two\t0.500s\n",
		"Skipped tests (1):\nSKIP example.com/p/one TestA/sub: one_test.go:9: integration test skipped: no emulators (SHARDWISE_KINESIS_ENDPOINT unset); run `make test`\n",
		"packages=2 tests_passed=2 tests_failed=0 tests_skipped=1\n2 passed, 0 failed, 1 skipped\n",
	)
	assertLacks(t, out, "chatty log line", "Failed tests")
}

func TestTimedOut(t *testing.T) {
	out, code := run(t, timedOut, false)
	if code == 0 {
		t.Error("exit code 0, want non-zero")
	}
	assertContains(t, out,
		// The test that was running when the binary died is shown and
		// counted as failed, with its parent.
		"    e_test.go:10: waiting\npanic: test timed out after 2s\n",
		"FAIL\texample.com/ts/e\t2.016s\n",
		"FAIL example.com/ts/e TestHang/inner (did not finish)\n",
		"FAIL example.com/ts/e TestHang (did not finish)\n",
		// TestMain's exit: the package output explains it.
		"setup failed: no db\nFAIL\texample.com/ts/f\t0.009s\n",
		"packages=2 tests_passed=1 tests_failed=2 tests_skipped=0\n1 passed, 2 failed, 0 skipped\n",
	)
}

func TestTruncatedInput(t *testing.T) {
	// The stream stops mid-package (go test killed, say).
	in := strings.Join(strings.SplitAfter(passing, "\n")[:6], "")
	out, code := run(t, in, false)
	if code == 0 {
		t.Error("exit code 0, want non-zero")
	}
	assertContains(t, out,
		"chatty log line",
		"FAIL\texample.com/p/one [no result: the test output ended early]\n",
		"FAIL example.com/p/one TestA (did not finish)\nFAIL example.com/p/one TestA/sub (did not finish)\n",
		"packages=1 tests_passed=0 tests_failed=2 tests_skipped=0\n0 passed, 2 failed, 0 skipped\n",
	)
}

func TestNoResults(t *testing.T) {
	out, code := run(t, "go: errors parsing go.mod:\ngo.mod:3: unknown directive: bogus\n", false)
	if code == 0 {
		t.Error("exit code 0, want non-zero")
	}
	assertContains(t, out, "go.mod:3: unknown directive: bogus\n", "no test results", "0 passed, 0 failed, 0 skipped\n")
}

func TestNonJSONFailureLine(t *testing.T) {
	// Older go versions report build and setup failures as plain text.
	in := passing + "FAIL\texample.com/p/three [setup failed]\n"
	out, code := run(t, in, false)
	if code == 0 {
		t.Errorf("exit code 0, want non-zero; output:\n%s", out)
	}
	assertContains(t, out, "FAIL\texample.com/p/three [setup failed]\n")
}

func TestLongOutputLine(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	in := `{"Action":"run","Package":"p","Test":"TestBig"}
{"Action":"output","Package":"p","Test":"TestBig","Output":"` + long + `\n"}
{"Action":"fail","Package":"p","Test":"TestBig"}
{"Action":"fail","Package":"p","Elapsed":1}
`
	out, code := run(t, in, false)
	if code == 0 {
		t.Error("exit code 0, want non-zero")
	}
	assertContains(t, out, long+"\n", "FAIL\tp\t1.000s\n", "0 passed, 1 failed, 0 skipped\n")
}
