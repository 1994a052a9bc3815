package ini

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes the parser or the interpolation panic
// or run away, and that every error names the file.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"[DEFAULT]\na = 1\n[s]\nb = %(a)s\n",
		"[s]\nfailregex = one\n  two\n\n  three\n; c\n# d\n",
		"[s]\nx = %(y)s\ny = %(x)s\n",
		"[s]\nx = %(known/x)s %(default/x)s %(s/x)s %(__name__)s %%\n",
		"[Init?family=inet6]\na: b\n",
		"[INCLUDES]\nbefore = a.conf\n",
		"[s\n",
		"a = 1\n",
		"[s]\na = %(b)s%(b)s%(b)s\nb = %(c)s%(c)s%(c)s\nc = xxxxxxxx\n",
		"\uFEFF[s]\r\na = 1 ;c\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.conf", data)
		if err != nil {
			var ie *Error
			if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), "fuzz.conf:") {
				t.Fatalf("error without location: %v", err)
			}
			return
		}
		for _, s := range append([]string{DefaultSection}, c.Sections()...) {
			for _, k := range c.Keys(s) {
				v, ok := c.Lookup(s, k)
				if !ok {
					t.Fatalf("[%s] %s listed but not found", s, k)
				}
				if v.Loc.Line < 1 {
					t.Fatalf("[%s] %s has no line", s, k)
				}
				if _, err := c.Expand(s, v, nil); err != nil && !strings.HasPrefix(err.Error(), "fuzz.conf:") {
					t.Fatalf("error without location: %v", err)
				}
				if _, err := c.ExpandLines(s, v, nil); err != nil && !strings.HasPrefix(err.Error(), "fuzz.conf:") {
					t.Fatalf("error without location: %v", err)
				}
			}
		}
	})
}
