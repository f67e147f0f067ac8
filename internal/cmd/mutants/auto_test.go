package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindSites(t *testing.T) {
	src := `package p

func f(a, b int, ok bool) int {
	if a < b && !ok {
		return a
	}
	a += b
	log.Info().Msg("x")
	g(a)
	return a * b
}
`
	sites, err := findSites("p.go", []byte(src), map[string]bool{"boundary": true, "negate": true, "arith": true, "call": true, "return": true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range sites {
		got = append(got, s.Op+" "+s.Old+">"+s.New)
	}
	want := []string{
		"boundary <><=", "negate <>>=", "negate &&>||", "negate !>", "return return a>_ = 0",
		"arith +=>-=", "call g(a)>_ = 0", "arith *>/",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sites:\n got %q\nwant %q", got, want)
	}
	// The mutated source is the original with one span replaced.
	s := sites[0]
	if m := src[:s.Off] + s.New + src[s.End:]; !strings.Contains(m, "if a <= b && !ok") {
		t.Errorf("boundary mutant: %s", m)
	}
}

func TestSample(t *testing.T) {
	var sites []site
	for i := range 10 {
		sites = append(sites, site{Line: i})
	}
	lines := func(ss []site) (out []int) {
		for _, s := range ss {
			out = append(out, s.Line)
		}
		return out
	}
	if got := lines(sample(sites, 4, 0)); len(got) != 4 || got[0] != 0 || got[1] != 3 {
		t.Errorf("sample(10, max 4, offset 0) = %v, want every 3rd from 0", got)
	}
	if got := lines(sample(sites, 4, 1)); got[0] != 1 {
		t.Errorf("sample(10, max 4, offset 1) = %v, want every 3rd from 1", got)
	}
	if got := sample(sites, 0, 0); len(got) != 10 {
		t.Errorf("max 0 keeps %d, want all", len(got))
	}
}

// TestExplanationsMatchASite: every explained survivor still names a
// site of the current code (an entry that matches nothing is stale).
func TestExplanationsMatchASite(t *testing.T) {
	all := map[string]bool{"boundary": true, "negate": true, "arith": true, "call": true, "return": true}
	for _, e := range explainedSurvivors {
		src, err := os.ReadFile(filepath.Join("..", "..", "..", filepath.FromSlash(e.File)))
		if err != nil {
			t.Fatal(err)
		}
		sites, err := findSites(e.File, src, all)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range sites {
			if explanationOf(e.File, s) == e.Why {
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s %s %s %q -> %q (near %q): matches no site; the code moved, update or drop the entry", e.File, e.Func, e.Op, e.Old, e.New, e.Near)
		}
	}
}
