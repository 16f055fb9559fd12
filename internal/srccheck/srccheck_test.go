package srccheck

import "testing"

// TestSource reads this package's own source.
func TestSource(t *testing.T) {
	src := Parse(t)
	if len(src.Files) != 1 {
		t.Fatalf("parsed %d files, want srccheck.go alone", len(src.Files))
	}
	if n := Calls(src.Func(t, "Calls"), "ast.Inspect"); n != 1 {
		t.Errorf("Calls(Calls, ast.Inspect) = %d, want 1", n)
	}
	// constant compares with a literal only; PlainCompares compares
	// b.Op twice with token constants, which are names, not literals.
	if got := src.PlainCompares(src.Func(t, "constant")); len(got) != 0 {
		t.Errorf("PlainCompares(constant) = %v, want none", got)
	}
	if got := src.PlainCompares(src.Func(t, "PlainCompares")); len(got) != 2 {
		t.Errorf("PlainCompares(PlainCompares) = %v, want 2", got)
	}
}
