package journal

import (
	"errors"
	"fmt"
	"strings"
)

// ParseMatch turns a jail's journalmatch setting into journalctl match
// terms for Options.Matches. Each line of value is one match expression:
// words split as a shell would (quotes and backslashes), terms of one
// group ANDed (OR between terms of the same field), "+" separating groups
// that are ORed. Lines are ORed with each other as if joined by "+".
//
//	_SYSTEMD_UNIT=sshd.service + _COMM=sshd
func ParseMatch(value string) ([]string, error) {
	var terms []string
	for _, line := range strings.Split(value, "\n") {
		words, err := splitWords(line)
		if err != nil {
			return nil, fmt.Errorf("journalmatch %q: %w", line, err)
		}
		if len(words) == 0 {
			continue
		}
		if len(terms) > 0 {
			terms = append(terms, "+")
		}
		terms = append(terms, words...)
	}
	if err := checkMatches(terms); err != nil {
		return nil, err
	}
	return terms, nil
}

// checkMatches validates match terms before they reach journalctl's
// command line.
func checkMatches(terms []string) error {
	for i, t := range terms {
		switch {
		case t == "+":
			if i == 0 || i == len(terms)-1 || terms[i-1] == "+" {
				return errors.New("journalmatch: \"+\" must stand between two matches")
			}
		case strings.HasPrefix(t, "/"):
			// A path: journalctl matches the executable or device.
		default:
			name, _, ok := strings.Cut(t, "=")
			if !ok || !validField(name) {
				return fmt.Errorf("journalmatch: %q is not FIELD=value, a path or \"+\"", t)
			}
		}
	}
	return nil
}

// validField reports whether name is a journal field name: upper-case
// letters, digits and underscores, not starting with a digit.
func validField(name string) bool {
	if name == "" || len(name) > 64 || (name[0] >= '0' && name[0] <= '9') {
		return false
	}
	for _, c := range []byte(name) {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// splitWords splits a line into words as a POSIX shell would, with single
// and double quotes and backslash escapes, and no expansions.
func splitWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '\\':
			inWord = true
			if i+1 < len(s) {
				i++
				w.WriteByte(s[i])
			}
		case c == '\'':
			inWord = true
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated single quote")
			}
			w.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			inWord = true
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '"' {
					closed = true
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`", s[i+1]) >= 0 {
					i++
				}
				w.WriteByte(s[i])
			}
			if !closed {
				return nil, errors.New("unterminated double quote")
			}
		default:
			inWord = true
			w.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}
