package codestore

import (
	"go/ast"
	"testing"

	"github.com/radgate/radgate/internal/srccheck"
)

// TestCodesComparedInConstantTime guards a property no behaviour shows:
// every device code computed by hotpCode is compared with codeEqual, and
// codeEqual compares with crypto/subtle, never with ==. (Bypass codes are
// found by their keyed hash in SQL, never compared in Go.)
func TestCodesComparedInConstantTime(t *testing.T) {
	src := srccheck.Parse(t)
	computed, compared := 0, 0
	for _, f := range src.Files {
		computed += srccheck.Calls(f, "hotpCode")
		ast.Inspect(f, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok && srccheck.Callee(c) == "codeEqual" {
				for _, arg := range c.Args {
					if a, ok := arg.(*ast.CallExpr); ok && srccheck.Callee(a) == "hotpCode" {
						compared++
					}
				}
			}
			return true
		})
	}
	if computed == 0 || compared != computed {
		t.Errorf("%d hotpCode results, %d of them compared with codeEqual", computed, compared)
	}
	src.ConstantTime(t, "codeEqual", "subtle.ConstantTimeCompare", 1)
}
