// Package srccheck lets a package's tests read its own Go source, to
// guard properties that no behaviour shows, such as a secret compared in
// constant time.
package srccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// Source is the parsed non-test Go files of one directory.
type Source struct {
	Fset  *token.FileSet
	Files []*ast.File
}

// Parse reads the non-test .go files of the current directory, which is
// the package's own while its tests run.
func Parse(tb testing.TB) *Source {
	tb.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		tb.Fatal(err)
	}
	src := &Source{Fset: token.NewFileSet()}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(src.Fset, name, nil, 0)
		if err != nil {
			tb.Fatal(err)
		}
		src.Files = append(src.Files, f)
	}
	return src
}

// Func returns the declaration of the function or method called name,
// failing the test when there is none.
func (s *Source) Func(tb testing.TB, name string) *ast.FuncDecl {
	tb.Helper()
	for _, f := range s.Files {
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == name {
				return fn
			}
		}
	}
	tb.Fatalf("no func %s", name)
	return nil
}

// Callee names the function a call calls: "f" or "pkg.F" (or "x.M" for
// a method on x); "" for anything else.
func Callee(c *ast.CallExpr) string {
	switch fn := c.Fun.(type) {
	case *ast.Ident:
		return fn.Name
	case *ast.SelectorExpr:
		if x, ok := fn.X.(*ast.Ident); ok {
			return x.Name + "." + fn.Sel.Name
		}
	}
	return ""
}

// Calls counts the calls to callee (as Callee names it) inside n.
func Calls(n ast.Node, callee string) int {
	count := 0
	ast.Inspect(n, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok && Callee(c) == callee {
			count++
		}
		return true
	})
	return count
}

// PlainCompares returns the positions of the == and != inside n that
// compare two values, neither of them a literal or nil: the compares
// that would take time depending on where two secrets first differ.
func (s *Source) PlainCompares(n ast.Node) []token.Position {
	var found []token.Position
	ast.Inspect(n, func(n ast.Node) bool {
		if b, ok := n.(*ast.BinaryExpr); ok && (b.Op == token.EQL || b.Op == token.NEQ) && !constant(b.X) && !constant(b.Y) {
			found = append(found, s.Fset.Position(b.Pos()))
		}
		return true
	})
	return found
}

// constant reports whether e is a literal or nil.
func constant(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return e.Name == "nil"
	}
	return false
}

// ConstantTime fails the test unless the function called name calls
// compare (such as "hmac.Equal") at least n times and compares nothing
// with ==, != or bytes.Equal: what DESIGN asks of every comparison of a
// secret or an authenticator.
func (s *Source) ConstantTime(tb testing.TB, name, compare string, n int) {
	tb.Helper()
	fn := s.Func(tb, name)
	if got := Calls(fn, compare); got < n {
		tb.Errorf("%s calls %s %d times, want at least %d", name, compare, got, n)
	}
	for _, pos := range s.PlainCompares(fn) {
		tb.Errorf("%s compares with == or != at %s", name, pos)
	}
	if Calls(fn, "bytes.Equal") > 0 {
		tb.Errorf("%s calls bytes.Equal", name)
	}
}
