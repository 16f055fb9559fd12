package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// source locates the settings of a Config in the file it came from.
//
// Settings are named by keys: "listen" for a top-level attribute,
// "store.path" for an attribute of a single block, "client.0.mode" for an
// attribute of the first client block, and "client.0" for that block
// itself.
type source struct {
	file string               // file name as given, for messages
	pos  map[string]hcl.Range // key → where it is defined
	bad  map[string]bool      // keys that already have a problem
}

// labelledBlocks are the block types that may repeat; their keys carry the
// block's index.
var labelledBlocks = map[string]bool{"client": true, "upstream": true}

// newSource indexes every attribute and block of body.
func newSource(file string, body hcl.Body) *source {
	s := &source{file: file, pos: map[string]hcl.Range{}, bad: map[string]bool{}}
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return s
	}
	for name, a := range sb.Attributes {
		s.pos[name] = a.SrcRange
	}
	count := map[string]int{}
	for _, b := range sb.Blocks {
		prefix := b.Type
		if labelledBlocks[b.Type] {
			prefix = fmt.Sprintf("%s.%d", b.Type, count[b.Type])
			count[b.Type]++
		}
		if _, dup := s.pos[prefix]; dup {
			continue // a repeated single block: gohcl reports it
		}
		s.pos[prefix] = b.DefRange()
		for name, a := range b.Body.Attributes {
			s.pos[prefix+"."+name] = a.SrcRange
		}
		for _, nb := range b.Body.Blocks { // one level of nesting: primary.argon2
			np := prefix + "." + nb.Type
			if _, dup := s.pos[np]; dup {
				continue
			}
			s.pos[np] = nb.DefRange()
			for name, a := range nb.Body.Attributes {
				s.pos[np+"."+name] = a.SrcRange
			}
		}
	}
	return s
}

// alias makes key point where other is defined, when key itself is absent
// (a secret given through secret_file, say).
func (s *source) alias(key, other string) {
	if s == nil {
		return
	}
	if _, ok := s.pos[key]; ok {
		return
	}
	if r, ok := s.pos[other]; ok {
		s.pos[key] = r
	}
}

// line returns the line of key, or of the nearest enclosing block that has
// one, or 0.
func (s *source) line(key string) int {
	if s == nil {
		return 0
	}
	for {
		if r, ok := s.pos[key]; ok {
			return r.Start.Line
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			return 0
		}
		key = key[:i]
	}
}

// keyAt returns the most specific key whose definition contains r, or "".
func (s *source) keyAt(r hcl.Range) string {
	best := ""
	for k, kr := range s.pos {
		if kr.Filename != r.Filename || !kr.ContainsOffset(r.Start.Byte) {
			continue
		}
		if best == "" || len(k) > len(best) {
			best = k
		}
	}
	return best
}

// problems collects the problems of one configuration, at most one per key.
type problems struct {
	src  *source
	done map[string]bool
	list []Problem
}

// newProblems starts a collection that skips the keys src already has
// problems with.
func newProblems(src *source) *problems {
	p := &problems{src: src, done: map[string]bool{}}
	if src != nil {
		for k := range src.bad {
			p.done[k] = true
		}
	}
	return p
}

// has reports whether key already has a problem.
func (p *problems) has(key string) bool { return p.done[key] }

// add records a problem with the setting named key, unless that setting
// already has one. err, when not nil, is kept as the problem's cause.
func (p *problems) add(key string, err error, format string, args ...any) {
	if p.done[key] {
		return
	}
	p.done[key] = true
	pr := Problem{Message: fmt.Sprintf(format, args...), Err: err}
	if p.src != nil {
		pr.File = p.src.file
		pr.Line = p.src.line(key)
	}
	p.list = append(p.list, pr)
}

// addDiags records HCL diagnostics, marking the settings they are about.
func (p *problems) addDiags(diags hcl.Diagnostics) {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		pr := Problem{Message: msg}
		if p.src != nil {
			pr.File = p.src.file
		}
		if d.Subject != nil {
			pr.Line = d.Subject.Start.Line
			if p.src != nil {
				if k := p.src.keyAt(*d.Subject); k != "" {
					if p.done[k] {
						continue // one problem per setting
					}
					p.done[k] = true
					name := displayKey(k)
					if !strings.Contains(msg, `"`+name[strings.LastIndexByte(name, '.')+1:]+`"`) {
						pr.Message = name + ": " + msg
					}
				}
			}
		}
		p.list = append(p.list, pr)
	}
}

// err returns the collected problems, ordered by line, as an *Error, or nil.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	sort.SliceStable(p.list, func(i, j int) bool { return p.list[i].Line < p.list[j].Line })
	return &Error{Problems: p.list}
}

// displayKey names the setting of key for a message: "lockout.window" for a
// single block's attribute, "mode" for a labelled block's attribute (the
// line tells which block).
func displayKey(key string) string {
	parts := strings.Split(key, ".")
	if len(parts) == 3 && labelledBlocks[parts[0]] {
		return parts[2]
	}
	return key
}
