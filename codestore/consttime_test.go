package codestore

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestCodesComparedInConstantTime guards a property no behaviour shows:
// every device code computed by hotpCode is compared with codeEqual, and
// codeEqual compares with crypto/subtle, never with ==. (Bypass codes are
// found by their keyed hash in SQL, never compared in Go.)
func TestCodesComparedInConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var codeEqualBody *ast.BlockStmt
	computed, compared := 0, 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				if n.Name.Name == "codeEqual" {
					codeEqualBody = n.Body
				}
			case *ast.CallExpr:
				switch callee(n) {
				case "hotpCode":
					computed++
				case "codeEqual":
					for _, arg := range n.Args {
						if c, ok := arg.(*ast.CallExpr); ok && callee(c) == "hotpCode" {
							compared++
						}
					}
				}
			}
			return true
		})
	}
	if computed == 0 || compared != computed {
		t.Errorf("%d hotpCode results, %d of them compared with codeEqual", computed, compared)
	}
	if codeEqualBody == nil {
		t.Fatal("no func codeEqual")
	}
	usesSubtle := false
	ast.Inspect(codeEqualBody, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			usesSubtle = usesSubtle || callee(n) == "subtle.ConstantTimeCompare"
		case *ast.BinaryExpr:
			if (n.Op == token.EQL || n.Op == token.NEQ) && !isLiteral(n.X) && !isLiteral(n.Y) {
				t.Errorf("codeEqual compares with %s at %s", n.Op, fset.Position(n.Pos()))
			}
		}
		return true
	})
	if !usesSubtle {
		t.Error("codeEqual does not call subtle.ConstantTimeCompare")
	}
}

// callee names the function a call calls: "f" or "pkg.F".
func callee(c *ast.CallExpr) string {
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

// isLiteral reports whether e is a literal, such as the 1 that
// ConstantTimeCompare's result is compared with.
func isLiteral(e ast.Expr) bool {
	_, ok := e.(*ast.BasicLit)
	return ok
}
