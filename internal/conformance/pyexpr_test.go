package conformance

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
)

// evalCondition evaluates the Python expressions of fail2ban's sample
// annotations ("constraint", "test.condition"): comparisons of name (the
// filter's name) and opts.get('key') with string literals, joined by and,
// or, not and parentheses.
func evalCondition(expr, name string, opts map[string]any) (bool, error) {
	p := &condParser{src: expr, name: name, opts: opts}
	v, err := p.or()
	if err != nil {
		return false, err
	}
	p.space()
	if p.pos < len(p.src) {
		return false, fmt.Errorf("unexpected %q in %q", p.src[p.pos:], expr)
	}
	return truthy(v), nil
}

type condParser struct {
	src  string
	pos  int
	name string
	opts map[string]any
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	}
	return true
}

func (p *condParser) space() {
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
}

func (p *condParser) keyword(kw string) bool {
	p.space()
	if strings.HasPrefix(p.src[p.pos:], kw) {
		end := p.pos + len(kw)
		if end == len(p.src) || !isIdent(rune(p.src[end])) {
			p.pos = end
			return true
		}
	}
	return false
}

func isIdent(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func (p *condParser) or() (any, error) {
	v, err := p.and()
	for err == nil && p.keyword("or") {
		var w any
		if w, err = p.and(); truthy(v) {
			continue
		}
		v = w
	}
	return v, err
}

func (p *condParser) and() (any, error) {
	v, err := p.not()
	for err == nil && p.keyword("and") {
		var w any
		if w, err = p.not(); !truthy(v) {
			continue
		}
		v = w
	}
	return v, err
}

func (p *condParser) not() (any, error) {
	if p.keyword("not") {
		v, err := p.not()
		return !truthy(v), err
	}
	return p.compare()
}

func (p *condParser) compare() (any, error) {
	a, err := p.atom()
	if err != nil {
		return nil, err
	}
	p.space()
	for _, op := range []string{"==", "!="} {
		if strings.HasPrefix(p.src[p.pos:], op) {
			p.pos += len(op)
			b, err := p.atom()
			if err != nil {
				return nil, err
			}
			return (a == b) == (op == "=="), nil
		}
	}
	return a, nil
}

func (p *condParser) atom() (any, error) {
	p.space()
	if p.pos >= len(p.src) {
		return nil, fmt.Errorf("unexpected end of %q", p.src)
	}
	switch c := p.src[p.pos]; {
	case c == '(':
		p.pos++
		v, err := p.or()
		p.space()
		if err == nil && (p.pos >= len(p.src) || p.src[p.pos] != ')') {
			err = fmt.Errorf("missing ) in %q", p.src)
		}
		p.pos++
		return v, err
	case c == '\'' || c == '"':
		end := strings.IndexByte(p.src[p.pos+1:], c)
		if end < 0 {
			return nil, fmt.Errorf("unterminated string in %q", p.src)
		}
		s := p.src[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		return s, nil
	case p.keyword("None"):
		return nil, nil
	case p.keyword("True"):
		return true, nil
	case p.keyword("False"):
		return false, nil
	case strings.HasPrefix(p.src[p.pos:], "opts.get("):
		p.pos += len("opts.get(")
		k, err := p.atom()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.pos >= len(p.src) || p.src[p.pos] != ')' {
			return nil, fmt.Errorf("missing ) in %q", p.src)
		}
		p.pos++
		key, _ := k.(string)
		return p.opts[key], nil
	case p.keyword("name"):
		return p.name, nil
	}
	return nil, fmt.Errorf("cannot evaluate %q", p.src[p.pos:])
}

func TestEvalCondition(t *testing.T) {
	opts := map[string]any{"mode": "aggressive"}
	tests := []struct {
		expr string
		want bool
	}{
		{"name == 'sshd'", true},
		{"name=='sshd'", true},
		{"name != 'sshd'", false},
		{"opts.get('mode') == 'aggressive'", true},
		{"opts.get('mode') != 'aggressive'", false},
		{"opts.get('logtype') == 'journal'", false},
		{"opts.get('logtype') == None", true},
		{"not opts.get('logtype')", true},
		{"name == 'x' or (opts.get('mode') == 'aggressive' and True)", true},
	}
	for _, tt := range tests {
		got, err := evalCondition(tt.expr, "sshd", opts)
		if err != nil || got != tt.want {
			t.Errorf("evalCondition(%q) = %v, %v; want %v", tt.expr, got, err, tt.want)
		}
	}
	if _, err := evalCondition("import os", "sshd", opts); err == nil {
		t.Error("evalCondition accepted an unknown expression")
	}
}
