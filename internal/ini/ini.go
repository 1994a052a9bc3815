// Package ini reads fail2ban's configuration dialect: Python configparser
// files as fail2ban reads them, with no knowledge of jails, filters or
// actions.
//
// What it implements, and where it follows Python's configparser (with
// inline_comment_prefixes=";", empty_lines_in_values=True and strict=True, the
// settings fail2ban's SafeConfigParserWithIncludes uses):
//
//   - "[name]" starts a section. Section names are case-sensitive; [DEFAULT]
//     holds values visible from every section (at lower priority than the
//     section's own). A section named "Init?family=inet6" is fail2ban's
//     conditional section: its keys are stored in section "Init" as
//     "key?family=inet6".
//   - "key = value" or "key: value" (the first "=" or ":" splits). Keys are
//     case-insensitive and stored lower-cased. Within one file a section may
//     not appear twice (except DEFAULT) and a key may not appear twice in a
//     section.
//   - A line indented deeper than the line that started a value continues the
//     value; the lines are joined with "\n". Blank lines inside a value are
//     kept (as empty lines) when an indented line follows; trailing blank
//     lines are dropped.
//   - Full-line comments start with "#" or ";" (after optional indentation)
//     and never end a multi-line value. An inline comment starts at a ";"
//     preceded by whitespace. "#" is not an inline comment marker: in
//     "maxretry = 3 # three" the value is "3 # three", as in fail2ban.
//   - Values are interpolated only when asked for (Config.Expand), like
//     configparser's BasicInterpolation: "%%" is a literal "%", "%(name)s" is
//     replaced by the value of name as seen from the section being read (its
//     own keys, then DEFAULT), "%(__name__)s" by the section's name, and
//     fail2ban's "%(section/name)s", "%(default/name)s" and
//     "%(known/name)s" forms are supported.
//
// Loader.Load reads a logical name the way fail2ban's ConfigReader does
// (NAME.conf, NAME.d/*.conf, NAME.local, NAME.d/*.local, later files
// overriding earlier ones key by key) and follows [INCLUDES] before/after.
//
// Every value remembers the file and line it came from, and every error this
// package returns names a file and line.
package ini

import (
	"fmt"
	"strconv"
)

// Location is a place in a configuration file.
type Location struct {
	File string // the file's name as the Loader presents it
	Line int    // 1-based; 0 when unknown
}

// String returns "file:line", or just the file name when the line is unknown.
func (l Location) String() string {
	if l.Line <= 0 {
		return l.File
	}
	return l.File + ":" + strconv.Itoa(l.Line)
}

// Error is an error at a place in a configuration file.
type Error struct {
	Loc Location
	Err error
}

// Error returns "file:line: message".
func (e *Error) Error() string {
	if e.Loc.File == "" {
		return e.Err.Error()
	}
	return e.Loc.String() + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error at loc whose message is formatted as by
// fmt.Errorf (so %w wraps).
func Errorf(loc Location, format string, args ...any) error {
	return &Error{Loc: loc, Err: fmt.Errorf(format, args...)}
}

// Line is one line of a value with the place it was written.
type Line struct {
	Text string
	Loc  Location
}

// Value is one key's value as written in one file, before interpolation.
type Value struct {
	Key string   // lower-cased key
	Raw string   // the text, continuation lines joined with "\n", comments removed
	Loc Location // where the key was written

	lines   []int  // the file line of each line of Raw
	section string // the section it was written in; "" for values not read from a file
	seq     int    // the order of the file it was read from (1 for the first); 0 if none
}

// Lines returns the lines of the raw value, each with the file line it was
// written on.
func (v *Value) Lines() []Line {
	texts := splitLines(v.Raw)
	out := make([]Line, len(texts))
	for i, t := range texts {
		loc := v.Loc
		if i < len(v.lines) {
			loc.Line = v.lines[i]
		}
		out[i] = Line{Text: t, Loc: loc}
	}
	return out
}

// Vars are values supplied by the caller that take precedence over every
// value in the configuration when interpolating, as the vars argument of
// Python's ConfigParser.get. Keys must be lower-case. Their values are used
// literally: they are not interpolated themselves.
type Vars map[string]*Value
