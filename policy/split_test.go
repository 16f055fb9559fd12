package policy

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/radgate/radgate/codestore"
)

func TestSplitPassword(t *testing.T) {
	std := []int{9, 6}
	tests := []struct {
		name    string
		text    string
		mode    Mode
		delim   string
		lengths []int
		want    plan
	}{
		{name: "concat", text: "pw,123456", mode: ModeConcat, delim: ",", lengths: std,
			want: plan{candidates: []candidate{{"pw", "123456"}}}},
		{name: "concat last delimiter", text: "a,b,c,123456", mode: ModeConcat, delim: ",", lengths: std,
			want: plan{candidates: []candidate{{"a,b,c", "123456"}}}},
		{name: "concat code of any shape", text: "pw,12ab", mode: ModeConcat, delim: ",", lengths: std,
			want: plan{candidates: []candidate{{"pw", "12ab"}}}},
		{name: "concat empty code", text: "pw,", mode: ModeConcat, delim: ",", lengths: std,
			want: plan{candidates: []candidate{{"pw", ""}}}},
		{name: "concat no delimiter", text: "pw", mode: ModeConcat, delim: ",", lengths: std,
			want: plan{candidates: []candidate{{"pw", ""}}}},
		{name: "concat multi-byte delimiter", text: "p::w::123456", mode: ModeConcat, delim: "::", lengths: std,
			want: plan{candidates: []candidate{{"p::w", "123456"}}}},
		{name: "concat no separator longest first", text: "secret1234567890", mode: ModeConcat, delim: "", lengths: []int{6, 9, 6},
			want: plan{candidates: []candidate{{"secret1", "234567890"}, {"secret1234", "567890"}}}},
		{name: "concat no separator some lengths", text: "pw-123456", mode: ModeConcat, delim: "", lengths: std,
			want: plan{candidates: []candidate{{"pw-", "123456"}}}},
		{name: "concat no separator leaves a password", text: "123456", mode: ModeConcat, delim: "", lengths: std,
			want: plan{candidates: []candidate{{"123456", ""}}}},
		{name: "concat no separator no digits", text: "password", mode: ModeConcat, delim: "", lengths: std,
			want: plan{candidates: []candidate{{"password", ""}}}},
		{name: "auto code", text: "pw,123456", mode: ModeAuto, delim: ",", lengths: std,
			want: plan{candidates: []candidate{{"pw", "123456"}}}},
		{name: "auto bypass length", text: "pw,123456789", mode: ModeAuto, delim: ",", lengths: std,
			want: plan{candidates: []candidate{{"pw", "123456789"}}}},
		{name: "auto wrong length", text: "pw,1234567", mode: ModeAuto, delim: ",", lengths: std,
			want: plan{challenge: true}},
		{name: "auto not digits", text: "pw,12345x", mode: ModeAuto, delim: ",", lengths: std,
			want: plan{challenge: true}},
		{name: "auto only last delimiter counts", text: "pw,123456,x", mode: ModeAuto, delim: ",", lengths: std,
			want: plan{challenge: true}},
		{name: "auto no password before delimiter", text: ",123456", mode: ModeAuto, delim: ",", lengths: std,
			want: plan{challenge: true}},
		{name: "auto plain", text: "pw", mode: ModeAuto, delim: ",", lengths: std,
			want: plan{challenge: true}},
		{name: "auto non-ASCII digits are not digits", text: "pw,١٢٣٤٥٦", mode: ModeAuto, delim: ",", lengths: std,
			want: plan{challenge: true}},
		{name: "auto no separator", text: "secret1234567890", mode: ModeAuto, delim: "", lengths: std,
			want: plan{candidates: []candidate{{"secret1", "234567890"}, {"secret1234", "567890"}}}},
		{name: "auto no separator no digits", text: "pw", mode: ModeAuto, delim: "", lengths: std,
			want: plan{challenge: true}},
		{name: "challenge", text: "pw,123456", mode: ModeChallenge, delim: ",", lengths: std,
			want: plan{challenge: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitPassword(tt.text, tt.mode, tt.delim, tt.lengths)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitPassword(%q, %s, %q, %v) = %+v, want %+v", tt.text, tt.mode, tt.delim, tt.lengths, got, tt.want)
			}
		})
	}
}

// FuzzSplit checks the splitter's invariants on arbitrary input: every
// candidate rebuilds the text, auto and no-separator codes are digits of a
// valid length, candidates are distinct and longest code first, and there
// are never more primary checks than valid lengths plus one.
func FuzzSplit(f *testing.F) {
	f.Add("pw,123456", ",", uint8(0), uint8(6), uint8(9))
	f.Add("secret1234567890", "", uint8(2), uint8(6), uint8(9))
	f.Add("a,b,,123456789", ",", uint8(1), uint8(8), uint8(9))
	f.Add(",", ",", uint8(2), uint8(0), uint8(0))
	f.Add("p::w::12345678", "::", uint8(0), uint8(8), uint8(8))
	f.Fuzz(func(t *testing.T, text, delim string, modeN, l1, l2 uint8) {
		mode := Mode(modeN % 3)
		lengths := []int{int(l1 % 20), int(l2 % 20)}
		p := splitPassword(text, mode, delim, lengths)

		if len(p.candidates) > len(lengths) {
			t.Fatalf("%d candidates for %d lengths", len(p.candidates), len(lengths))
		}
		if mode == ModeChallenge && (len(p.candidates) != 0 || !p.challenge) {
			t.Fatalf("challenge mode plan %+v", p)
		}
		if mode == ModeConcat && (p.challenge || len(p.candidates) == 0) {
			t.Fatalf("concat mode plan %+v", p)
		}
		if mode == ModeAuto && p.challenge != (len(p.candidates) == 0) {
			t.Fatalf("auto mode must split or challenge, never both nor neither: %+v", p)
		}
		prev := len(text) + 1
		for i, c := range p.candidates {
			if slices.Contains(p.candidates[:i], c) {
				t.Fatalf("duplicate candidate %+v", c)
			}
			if c.code == "" && c.password == text {
				// concat found nothing to split off
				if mode != ModeConcat || len(p.candidates) != 1 {
					t.Fatalf("unsplit candidate %+v in %s plan %+v", c, mode, p)
				}
				continue
			}
			rebuilt := c.password + delim + c.code
			if rebuilt != text {
				t.Fatalf("candidate %+v rebuilds %q, want %q", c, rebuilt, text)
			}
			if delim != "" && strings.Contains(c.code, delim) {
				t.Fatalf("code %q holds the delimiter: not split at the last one", c.code)
			}
			if mode == ModeAuto || delim == "" {
				if !codestore.AllDigits(c.code) || !slices.Contains(lengths, len(c.code)) {
					t.Fatalf("code %q is not digits of a valid length %v", c.code, lengths)
				}
				if c.password == "" {
					t.Fatalf("split left an empty password: %+v", c)
				}
			}
			if c.code == "" && (mode != ModeConcat || delim == "") {
				t.Fatalf("empty code %+v outside concat with a delimiter", c)
			}
			if len(c.code) >= prev {
				t.Fatalf("candidates not longest code first: %+v", p.candidates)
			}
			prev = len(c.code)
		}
	})
}
