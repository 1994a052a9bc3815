package command

import (
	"fmt"
	"strings"
	"sync"
)

// maxTagRounds bounds the rounds of substitution of one text, as fail2ban
// does (25), so that a definition that keeps growing fails instead of
// running forever.
const maxTagRounds = 25

// nextTag finds the first tag in s at or after from: "<name>" where name
// has no space and no angle bracket, as fail2ban's <([^ <>]+)>. It returns
// the tag's bounds and name, or -1.
func nextTag(s string, from int) (start, end int, name string) {
	for i := from; i < len(s); i++ {
		if s[i] != '<' {
			continue
		}
		j := i + 1
		for j < len(s) && s[j] != '<' && s[j] != '>' && s[j] != ' ' {
			j++
		}
		if j < len(s) && s[j] == '>' && j > i+1 {
			return i, j + 1, s[i+1 : j]
		}
		// A '<' right before j starts the next candidate; a space or
		// the end means no tag starts at i.
		i = j - 1
	}
	return -1, -1, ""
}

// dataTags are the tags whose values come from log lines. They are never
// taken from an action's options (fail2ban's _escapedTags), only from the
// ban, and only through the environment.
var dataTags = map[string]bool{"matches": true, "ipmatches": true, "ipjailmatches": true}

// statics substitutes an action's options into its commands: fail2ban's
// replaceTag with the action's properties. Values are substituted
// recursively; a conditional option "name?family=inet6" wins over "name"
// for that family; tags that name no option are left for the ban's values
// (see dynamic) or as they are.
type statics struct {
	mu     sync.Mutex // guards cache
	values map[string]string
	local  func(string) (string, bool) // <br>, <sp>, host names
	cache  map[[2]string]string        // (tag, condition) -> value
}

func newStatics(values map[string]string, local func(string) (string, bool)) *statics {
	return &statics{values: values, local: local, cache: make(map[[2]string]string)}
}

// lookup returns the raw option for tag under the condition ("family=inet6"
// or "").
func (st *statics) lookup(tag, cond string) (string, bool) {
	if dataTags[tag] {
		return "", false
	}
	if cond != "" {
		if v, ok := st.values[tag+"?"+cond]; ok {
			return v, true
		}
	}
	v, ok := st.values[tag]
	return v, ok
}

// resolve returns the option for tag with its own tags substituted.
func (st *statics) resolve(tag, cond string, visiting map[string]bool) (string, bool, error) {
	raw, ok := st.lookup(tag, cond)
	if !ok {
		return "", false, nil
	}
	key := [2]string{tag, cond}
	if v, ok := st.cache[key]; ok {
		return v, true, nil
	}
	if visiting[tag] {
		return "", false, fmt.Errorf("option %q refers to itself", tag)
	}
	visiting[tag] = true
	defer delete(visiting, tag)
	v, err := st.substitute(raw, cond, visiting)
	if err != nil {
		return "", false, err
	}
	st.cache[key] = v
	return v, true, nil
}

// expand substitutes the options into s under the condition.
func (st *statics) expand(s, cond string) (string, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.substitute(s, cond, make(map[string]bool))
}

func (st *statics) substitute(s, cond string, visiting map[string]bool) (string, error) {
	for range maxTagRounds {
		var b strings.Builder
		changed := false
		pos := 0
		for {
			start, end, name := nextTag(s, pos)
			if start < 0 {
				break
			}
			v, ok, err := st.resolve(name, cond, visiting)
			if err != nil {
				return "", err
			}
			if !ok && st.local != nil {
				v, ok = st.local(name)
			}
			if !ok {
				b.WriteString(s[pos:end])
				pos = end
				continue
			}
			b.WriteString(s[pos:start])
			b.WriteString(v)
			pos = end
			changed = true
		}
		if !changed {
			return s, nil
		}
		b.WriteString(s[pos:])
		s = b.String()
	}
	return "", fmt.Errorf("substitution does not end after %d rounds (options that keep referring to each other?): %.200q", maxTagRounds, s)
}
