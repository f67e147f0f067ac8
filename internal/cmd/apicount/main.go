// Command apicount counts the exported identifiers of the module's public
// packages (every package outside internal/ and examples/, tests excluded),
// so the size of the API can be tracked from one change to the next.
//
// It counts, per package: exported top-level constants, variables, types and
// functions; exported methods of exported concrete types; and, reported
// apart, methods of exported interfaces and exported fields of exported
// struct types. The headline "identifiers" figure is the first two. With -undocumented it
// also lists every exported top-level declaration or method that has no doc
// comment.
//
//	go run ./internal/cmd/apicount [-v] [-undocumented] [dir]
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type counts struct {
	decls, methods, ifaceMethods, fields int
	names                                []string
	undocumented                         []string
}

func (c counts) total() int { return c.decls + c.methods + c.ifaceMethods + c.fields }

// identifiers is the headline figure: exported top-level declarations plus
// exported methods of exported concrete types, what `go doc` lists as a
// package's API (interface methods and struct fields are reported apart).
func (c counts) identifiers() int { return c.decls + c.methods }

func main() {
	verbose := flag.Bool("v", false, "list every counted identifier")
	undoc := flag.Bool("undocumented", false, "list exported declarations without a doc comment and exit 1 if any")
	flag.Parse()
	root := "."
	if flag.NArg() > 0 {
		root = flag.Arg(0)
	}
	pkgs := map[string]*counts{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			rel, _ := filepath.Rel(root, path)
			if rel != "." && (strings.HasPrefix(name, ".") || name == "internal" || name == "examples" || name == "testdata" || name == "node_modules" || name == "emulators" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		c := pkgs[dir]
		if c == nil {
			c = &counts{}
			pkgs[dir] = c
		}
		return countFile(path, c)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "apicount:", err)
		os.Exit(2)
	}
	dirs := make([]string, 0, len(pkgs))
	for d := range pkgs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	var all counts
	missing := 0
	for _, d := range dirs {
		c := pkgs[d]
		if c.total() == 0 {
			continue
		}
		fmt.Printf("%-22s identifiers=%-4d decls=%-4d methods=%-4d iface_methods=%-4d fields=%-4d all=%d\n", d, c.identifiers(), c.decls, c.methods, c.ifaceMethods, c.fields, c.total())
		if *verbose {
			for _, n := range c.names {
				fmt.Printf("    %s\n", n)
			}
		}
		if *undoc {
			for _, n := range c.undocumented {
				fmt.Printf("    undocumented: %s\n", n)
			}
			missing += len(c.undocumented)
		}
		all.decls += c.decls
		all.methods += c.methods
		all.fields += c.fields
		all.ifaceMethods += c.ifaceMethods
	}
	fmt.Printf("%-22s identifiers=%-4d decls=%-4d methods=%-4d iface_methods=%-4d fields=%-4d all=%d\n", "ALL", all.identifiers(), all.decls, all.methods, all.ifaceMethods, all.fields, all.total())
	if *undoc {
		fmt.Printf("undocumented=%d\n", missing)
		if missing > 0 {
			os.Exit(1)
		}
	}
}

func countFile(path string, c *counts) error {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
	if err != nil {
		return err
	}
	if f.Name.Name == "main" || strings.HasSuffix(f.Name.Name, "_test") {
		return nil
	}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() {
				continue
			}
			if d.Recv == nil {
				c.decls++
				c.add("func "+d.Name.Name, d.Doc != nil)
				continue
			}
			recv := recvName(d.Recv.List[0].Type)
			if !ast.IsExported(recv) {
				continue
			}
			c.methods++
			c.add("method "+recv+"."+d.Name.Name, d.Doc != nil)
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() {
							c.decls++
							doc := s.Doc != nil || s.Comment != nil || (d.Doc != nil && d.Lparen.IsValid()) || (d.Doc != nil && len(d.Specs) == 1)
							c.add(d.Tok.String()+" "+n.Name, doc)
						}
					}
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					c.decls++
					c.add("type "+s.Name.Name, s.Doc != nil || d.Doc != nil)
					switch t := s.Type.(type) {
					case *ast.StructType:
						for _, fld := range t.Fields.List {
							for _, n := range fld.Names {
								if n.IsExported() {
									c.fields++
									c.names = append(c.names, "field "+s.Name.Name+"."+n.Name)
								}
							}
						}
					case *ast.InterfaceType:
						for _, m := range t.Methods.List {
							for _, n := range m.Names {
								if n.IsExported() {
									c.ifaceMethods++
									c.names = append(c.names, "ifacemethod "+s.Name.Name+"."+n.Name)
								}
							}
						}
					}
				}
			}
		}
	}
	return nil
}

func (c *counts) add(name string, documented bool) {
	c.names = append(c.names, name)
	if !documented {
		c.undocumented = append(c.undocumented, name)
	}
}

func recvName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return recvName(t.X)
	case *ast.IndexExpr:
		return recvName(t.X)
	case *ast.IndexListExpr:
		return recvName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return ""
}
