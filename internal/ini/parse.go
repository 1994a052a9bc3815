package ini

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultSection is the name of the section whose values every section sees.
const DefaultSection = "DEFAULT"

// file is one parsed file, before merging.
type file struct {
	name     string
	sections []*fileSection
}

// fileSection is one section header of a file and the values that follow it.
type fileSection struct {
	name   string
	loc    Location
	values []*Value
}

// parse parses one file. name is used in Locations and errors.
func parse(name string, data []byte) (*file, error) {
	if !utf8.Valid(data) {
		line := 1 + strings.Count(string(data[:invalidUTF8(data)]), "\n")
		return nil, Errorf(Location{name, line}, "invalid UTF-8")
	}
	text := strings.TrimPrefix(string(data), "\uFEFF")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")

	f := &file{name: name}
	var (
		sect   *fileSection
		val    *Value   // the value being continued; nil after a header
		parts  []string // the lines of val
		indent int      // indentation of the line that started val
		seen   = map[string]*fileSection{}
		keys   = map[string]map[string]Location{} // section name -> key -> first place
	)
	finish := func() {
		if val != nil {
			// Python joins the lines and strips trailing whitespace,
			// which drops trailing blank lines.
			for len(parts) > 1 && parts[len(parts)-1] == "" {
				parts = parts[:len(parts)-1]
			}
			val.lines = val.lines[:len(parts)]
			val.Raw = strings.Join(parts, "\n")
		}
		val, parts = nil, nil
	}

	lines := strings.Split(text, "\n")
	for i, line := range lines {
		loc := Location{name, i + 1}
		content, comment := stripComment(line)
		content = strings.TrimSpace(content)
		if content == "" {
			// A blank line is kept in a value (an indented line may
			// continue it); a comment line is skipped altogether.
			if !comment && val != nil {
				parts = append(parts, "")
				val.lines = append(val.lines, loc.Line)
			}
			continue
		}
		lead := indentation(line)
		if val != nil && lead > indent {
			parts = append(parts, content)
			val.lines = append(val.lines, loc.Line)
			continue
		}
		finish()
		indent = lead

		if content[0] == '[' {
			end := strings.LastIndexByte(content, ']')
			if end < 0 {
				return nil, Errorf(loc, "unterminated section header %q", content)
			}
			// As in Python, text after the closing bracket is ignored.
			sname := content[1:end]
			if sname == "" {
				return nil, Errorf(loc, "empty section name")
			}
			if prev, dup := seen[sname]; dup && sname != DefaultSection {
				return nil, Errorf(loc, "duplicate section [%s] (first at line %d)", sname, prev.loc.Line)
			}
			sect = &fileSection{name: sname, loc: loc}
			seen[sname] = sect
			f.sections = append(f.sections, sect)
			continue
		}
		if sect == nil {
			return nil, Errorf(loc, "%q before any [section] header", content)
		}
		sep := strings.IndexAny(content, "=:")
		if sep < 0 {
			return nil, Errorf(loc, "expected \"key = value\", \"[section]\" or a comment, got %q", content)
		}
		key := strings.ToLower(strings.TrimSpace(content[:sep]))
		if key == "" {
			return nil, Errorf(loc, "missing key before %q", content[sep:sep+1])
		}
		// Duplicates are checked per section name: a DEFAULT section
		// may be opened several times, but not define a key twice.
		if keys[sect.name] == nil {
			keys[sect.name] = map[string]Location{}
		}
		if prev, dup := keys[sect.name][key]; dup {
			return nil, Errorf(loc, "duplicate key %q in [%s] (first at line %d)", key, sect.name, prev.Line)
		}
		keys[sect.name][key] = loc
		val = &Value{Key: key, Loc: loc, section: sect.name, lines: []int{loc.Line}}
		parts = []string{strings.TrimSpace(content[sep+1:])}
		sect.values = append(sect.values, val)
	}
	finish()
	return f, nil
}

// stripComment removes a comment from line. comment reports whether the line
// had one: a full-line comment ("#" or ";" first) or an inline one (";"
// at the start or after whitespace).
func stripComment(line string) (content string, comment bool) {
	trimmed := strings.TrimSpace(line)
	if strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, ";") {
		return "", true
	}
	for i := 0; i < len(line); i++ {
		if line[i] != ';' {
			continue
		}
		if i == 0 {
			return "", true
		}
		if r, _ := utf8.DecodeLastRuneInString(line[:i]); unicode.IsSpace(r) {
			return line[:i], true
		}
	}
	return line, false
}

// indentation returns the byte offset of the first non-space character.
func indentation(line string) int {
	i := strings.IndexFunc(line, func(r rune) bool { return !unicode.IsSpace(r) })
	if i < 0 {
		return 0
	}
	return i
}

// invalidUTF8 returns the offset of the first invalid UTF-8 sequence in data.
func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(data)
}

// splitLines splits a raw value into its lines.
func splitLines(s string) []string {
	return strings.Split(s, "\n")
}
