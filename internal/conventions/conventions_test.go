package conventions

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/shardwise/shardwise"

// sourceFile is one parsed non-test Go file of the module.
type sourceFile struct {
	rel  string // path relative to the module root, slash-separated
	file *ast.File
	fset *token.FileSet
}

// public reports whether the file belongs to a package users import.
func (f sourceFile) public() bool {
	return !strings.HasPrefix(f.rel, "internal/") && !strings.HasPrefix(f.rel, "examples/") && f.file.Name.Name != "main"
}

// tooling reports whether the file belongs to test or developer tooling
// (emulator harness, test servers, commands), whose errors never reach a
// library user.
func (f sourceFile) tooling() bool {
	for _, p := range []string{"internal/emulator/", "internal/cmd/", "internal/kinesisserver/", "internal/scenario/", "internal/leakcheck/", "internal/chaos/", "examples/"} {
		if strings.HasPrefix(f.rel, p) {
			return true
		}
	}
	return f.file.Name.Name == "main"
}

func moduleFiles(t *testing.T) []sourceFile {
	t.Helper()
	root := "../.."
	var files []sourceFile
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", "testdata", "bin", ".git", ".emulators":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files = append(files, sourceFile{rel: filepath.ToSlash(rel), file: f, fset: fset})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("found only %d source files under the module root", len(files))
	}
	return files
}

// internalImports maps the file's local names of internal packages.
func internalImports(f *ast.File) map[string]string {
	names := map[string]string{}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if !strings.HasPrefix(path, module+"/internal/") {
			continue
		}
		name := path[strings.LastIndex(path, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		names[name] = path
	}
	return names
}

// internalRefs lists the selectors X.Sel in n whose X is an internal import.
func internalRefs(n ast.Node, internal map[string]string) []string {
	var refs []string
	if n == nil {
		return nil
	}
	ast.Inspect(n, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				if _, ok := internal[id.Name]; ok {
					refs = append(refs, id.Name+"."+sel.Sel.Name)
				}
			}
		}
		return true
	})
	return refs
}

func exportedRecv(fd *ast.FuncDecl) bool {
	if fd.Recv == nil {
		return true
	}
	t := fd.Recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
			continue
		case *ast.IndexExpr:
			t = x.X
			continue
		case *ast.IndexListExpr:
			t = x.X
			continue
		case *ast.Ident:
			return x.IsExported()
		}
		return false
	}
}

func TestNoInternalTypesInPublicAPI(t *testing.T) {
	for _, f := range moduleFiles(t) {
		if !f.public() {
			continue
		}
		internal := internalImports(f.file)
		if len(internal) == 0 {
			continue
		}
		report := func(what string, n ast.Node) {
			for _, r := range internalRefs(n, internal) {
				t.Errorf("%s: %s exposes internal type %s", f.fset.Position(n.Pos()), what, r)
			}
		}
		for _, decl := range f.file.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Name.IsExported() && exportedRecv(d) {
					report("func "+d.Name.Name, d.Type)
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						switch tt := s.Type.(type) {
						case *ast.StructType:
							for _, fld := range tt.Fields.List {
								exported := len(fld.Names) == 0 // embedded
								for _, n := range fld.Names {
									exported = exported || n.IsExported()
								}
								if exported {
									report("field of "+s.Name.Name, fld.Type)
								}
							}
						default:
							report("type "+s.Name.Name, s.Type)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								report("var/const "+n.Name, s.Type)
								for _, v := range s.Values {
									// A var initialised from an internal value has its type.
									if _, isCall := v.(*ast.CallExpr); !isCall {
										report("var/const "+n.Name, v)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

func TestExportedIdentifiersAreDocumented(t *testing.T) {
	for _, f := range moduleFiles(t) {
		if !f.public() {
			continue
		}
		missing := func(name string, pos token.Pos) {
			t.Errorf("%s: exported %s has no doc comment", f.fset.Position(pos), name)
		}
		for _, decl := range f.file.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Name.IsExported() && exportedRecv(d) && d.Doc == nil {
					// Methods that implement a documented interface method
					// (Error, String, Is, Unwrap) are documented by it.
					switch d.Name.Name {
					case "Error", "String", "Unwrap", "Is", "As":
						if d.Recv != nil {
							continue
						}
					}
					missing(d.Name.Name, d.Pos())
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() && s.Doc == nil && d.Doc == nil {
							missing("type "+s.Name.Name, s.Pos())
						}
						if st, ok := s.Type.(*ast.StructType); ok && s.Name.IsExported() {
							for _, fld := range st.Fields.List {
								for _, n := range fld.Names {
									if n.IsExported() && fld.Doc == nil && fld.Comment == nil {
										missing("field "+s.Name.Name+"."+n.Name, n.Pos())
									}
								}
							}
						}
					case *ast.ValueSpec:
						grouped := d.Lparen.IsValid()
						for _, n := range s.Names {
							if n.IsExported() && s.Doc == nil && s.Comment == nil && (d.Doc == nil || (grouped && len(d.Specs) > 1 && !groupDocumented(d))) {
								missing(n.Name, n.Pos())
							}
						}
					}
				}
			}
		}
	}
}

// groupDocumented accepts a const/var group whose doc comment describes
// the whole group (an enumeration, a table of names).
func groupDocumented(d *ast.GenDecl) bool { return d.Doc != nil }

func TestErrorTextsStartWithShardwise(t *testing.T) {
	for _, f := range moduleFiles(t) {
		if f.tooling() {
			continue
		}
		ast.Inspect(f.file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok || !(pkg.Name == "errors" && sel.Sel.Name == "New" || pkg.Name == "fmt" && sel.Sel.Name == "Errorf") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			text, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			if !strings.HasPrefix(text, "shardwise: ") && !strings.HasPrefix(text, "%w") {
				t.Errorf("%s: error text %q does not start with \"shardwise: \" (or wrap one with %%w)", f.fset.Position(lit.Pos()), text)
			}
			if strings.Count(text, "shardwise: ") > 1 {
				t.Errorf("%s: error text %q repeats the prefix", f.fset.Position(lit.Pos()), text)
			}
			return true
		})
	}
}
