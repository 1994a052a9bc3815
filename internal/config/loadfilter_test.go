package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gaol-project/gaol/internal/ini"
)

func TestLoadFilter(t *testing.T) {
	const dir = "testdata/loadfilter/dir"
	files := filepath.Join("testdata", "loadfilter", "files")
	base := os.DirFS("testdata/base")
	tests := []struct {
		name, dir, spec string
		file            string // Filter.File
		fail, ignore    []string
		opts            map[string]string
		datePattern     string
		maxLines        int
	}{
		{
			name: "embedded name", spec: "sshd", file: "embedded:filter.d/sshd.conf",
			fail: []string{
				`embedded:filter.d/sshd.conf:6 ^\s*\S+ sshd(?:\[\d+\])?:\s+bad password from <HOST>$`,
				`embedded:filter.d/sshd.conf:7 ^\s*\S+ sshd(?:\[\d+\])?:\s+no such user <F-USER>\S+</F-USER> from <HOST>$`,
			},
		},
		{
			name: "name with extension", spec: "sshd.conf", file: "embedded:filter.d/sshd.conf",
			fail: []string{
				`embedded:filter.d/sshd.conf:6 ^\s*\S+ sshd(?:\[\d+\])?:\s+bad password from <HOST>$`,
				`embedded:filter.d/sshd.conf:7 ^\s*\S+ sshd(?:\[\d+\])?:\s+no such user <F-USER>\S+</F-USER> from <HOST>$`,
			},
		},
		{
			name: "directory .local over the embedded file", dir: dir, spec: "sshd", file: "embedded:filter.d/sshd.conf",
			fail: []string{
				`embedded:filter.d/sshd.conf:6 ^\s*\S+ sshd(?:\[\d+\])?:\s+bad password from <HOST>$`,
				`embedded:filter.d/sshd.conf:7 ^\s*\S+ sshd(?:\[\d+\])?:\s+no such user <F-USER>\S+</F-USER> from <HOST>$`,
			},
			ignore: []string{dir + `/filter.d/sshd.local:2 ^\s*\S+ sshd(?:\[\d+\])?:\s+no such user trusted from <HOST>$`},
		},
		{
			name: "filter only in the directory", dir: dir, spec: "web", file: dir + "/filter.d/web.conf",
			fail:        []string{dir + `/filter.d/web.conf:9 ^\s*\S+ web(?:\[\d+\])?:\s+denied <HOST>:80$`},
			datePattern: "^%Y-%m-%d %H:%M:%S", maxLines: 2,
		},
		{
			name: "options", dir: dir, spec: "web[port=8080]", file: dir + "/filter.d/web.conf",
			fail:        []string{dir + `/filter.d/web.conf:9 ^\s*\S+ web(?:\[\d+\])?:\s+denied <HOST>:8080$`},
			opts:        map[string]string{"port": "8080"},
			datePattern: "^%Y-%m-%d %H:%M:%S", maxLines: 2,
		},
		{
			name: "path with include and .local", dir: dir, spec: filepath.Join(files, "app.conf"), file: filepath.Join(files, "app.conf"),
			fail:   []string{files + `/app.conf:10 ^\S+ app\[\d+\]:\slogin failed from <HOST>$`},
			ignore: []string{files + `/app.local:2 ^\S+ app\[\d+\]:\slogin failed from 192\.0\.2\.1$`},
		},
		{
			name: "path without extension, with options", spec: filepath.Join(files, "app") + "[mode=strict]", file: filepath.Join(files, "app.conf"),
			fail: []string{
				files + `/app.conf:10 ^\S+ app\[\d+\]:\slogin failed from <HOST>$`,
				files + `/app.conf:13 ^\S+ app\[\d+\]:\sprobe from <HOST>$`,
			},
			ignore: []string{files + `/app.local:2 ^\S+ app\[\d+\]:\slogin failed from 192\.0\.2\.1$`},
			opts:   map[string]string{"mode": "strict"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := loadFilter(tt.dir, tt.spec, base)
			if err != nil {
				t.Fatal(err)
			}
			if f.File != tt.file {
				t.Errorf("File = %q, want %q", f.File, tt.file)
			}
			if got := exprs(f.FailRegex); !reflect.DeepEqual(got, tt.fail) {
				t.Errorf("failregex:\n got %q\nwant %q", got, tt.fail)
			}
			if got := exprs(f.IgnoreRegex); !reflect.DeepEqual(got, tt.ignore) {
				t.Errorf("ignoreregex:\n got %q\nwant %q", got, tt.ignore)
			}
			if len(tt.opts) > 0 && !reflect.DeepEqual(f.Options, tt.opts) {
				t.Errorf("options = %v, want %v", f.Options, tt.opts)
			}
			if f.DatePattern != tt.datePattern {
				t.Errorf("datepattern = %q, want %q", f.DatePattern, tt.datePattern)
			}
			if want := max(tt.maxLines, 1); f.MaxLines != want {
				t.Errorf("maxlines = %d, want %d", f.MaxLines, want)
			}
		})
	}
}

func TestLoadFilterErrors(t *testing.T) {
	files := filepath.Join("testdata", "loadfilter", "files")
	base := os.DirFS("testdata/base")
	tests := []struct {
		name, dir, spec string
		notExist        bool   // the error wraps fs.ErrNotExist
		loc             string // the error is an *ini.Error at this place
		want            string // in the message
	}{
		{name: "unknown name", spec: "nosuch", notExist: true, want: `filter "nosuch" not found (looked in the embedded filter.d)`},
		{name: "unknown name with a directory", dir: "testdata/loadfilter/dir", spec: "nosuch[a=b]", notExist: true,
			want: `looked in testdata/loadfilter/dir/filter.d and the embedded filter.d`},
		{name: "missing directory", dir: "testdata/loadfilter/nosuch", spec: "sshd", want: "no such directory"},
		{name: "missing file", spec: filepath.Join(files, "nosuch.conf"), notExist: true, want: "nosuch.conf"},
		{name: "missing file without extension", spec: filepath.Join(files, "nosuch"), notExist: true, want: "nosuch.conf"},
		{name: "directory", spec: files + "/sub/", want: "is a directory"},
		{name: "syntax", spec: filepath.Join(files, "broken.conf"), loc: files + "/broken.conf:3"},
		{name: "no failregex", spec: filepath.Join(files, "noregex.conf"), loc: files + "/noregex.conf", want: "no failregex"},
		{name: "undefined reference", spec: filepath.Join(files, "undefined.conf"), loc: files + "/undefined.conf:2", want: "missing"},
		{name: "unclosed options", spec: "sshd[mode=x", want: `missing "]"`},
		{name: "bad options", spec: "sshd[mode]", want: "expected key=value"},
		{name: "bad name", spec: "ss hd", want: "invalid filter name"},
		{name: "empty", spec: " ", want: "no filter name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadFilter(tt.dir, tt.spec, base)
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v: %v", got, err)
			}
			if tt.loc != "" {
				var ie *ini.Error
				if !errors.As(err, &ie) || ie.Loc.String() != tt.loc {
					t.Errorf("error %q: want an *ini.Error at %s", err, tt.loc)
				}
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestLoadFilterEmbedded reads gaol's own filters.
func TestLoadFilterEmbedded(t *testing.T) {
	f, err := LoadFilter("", "sshd")
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "sshd" || f.File != "embedded:filter.d/sshd.conf" || len(f.FailRegex) == 0 {
		t.Errorf("got %s from %s with %d failregexes", f.Name, f.File, len(f.FailRegex))
	}
}
