package main

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEShowsThisProgram keeps the README's quickstart and this
// program the same text, so the code a user copies is the code CI builds.
func TestREADMEShowsThisProgram(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	body := string(src[strings.Index(string(src), "package main"):])
	if !strings.Contains(string(readme), "```go\n"+body+"```\n") {
		t.Fatal("README.md's quickstart differs from examples/quickstart/main.go (from 'package main' on); copy the program into the README")
	}
}
