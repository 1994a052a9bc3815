package ini

import (
	"errors"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func mapFile(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestLoadOrder(t *testing.T) {
	fsys := fstest.MapFS{
		"jail.conf":           mapFile("[DEFAULT]\na = conf\nb = conf\nc = conf\nd = conf\n[sshd]\nx = conf\n"),
		"jail.d/20.conf":      mapFile("[DEFAULT]\nb = d20conf\nc = d20conf\nd = d20conf\n"),
		"jail.d/10.conf":      mapFile("[DEFAULT]\nb = d10conf\nc = d10conf\nd = d10conf\n"),
		"jail.local":          mapFile("[DEFAULT]\nc = local\nd = local\n[sshd]\nx = local\n"),
		"jail.d/b.local":      mapFile("[DEFAULT]\nd = dlocal\n"),
		"jail.d/.hidden.conf": mapFile("[DEFAULT]\na = hidden\n"),
		"jail.d/notes.txt":    mapFile("not read"),
		"jail.d/dir.conf/x":   mapFile("a directory is not a file"),
	}
	c, err := Load(fsys, "jail")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "conf", "b": "d20conf", "c": "local", "d": "dlocal", "x": "local"}
	for k, w := range want {
		v, ok := c.Lookup("sshd", k)
		if !ok || v.Raw != w {
			t.Errorf("%s = %v, want %q", k, v, w)
		}
	}
	wantFiles := []string{"jail.conf", "jail.d/10.conf", "jail.d/20.conf", "jail.local", "jail.d/b.local"}
	if got := c.Files(); !reflect.DeepEqual(got, wantFiles) {
		t.Errorf("files %v, want %v", got, wantFiles)
	}
	if got := c.Roots(); !reflect.DeepEqual(got, wantFiles) {
		t.Errorf("roots %v, want %v", got, wantFiles)
	}
	v, _ := c.Lookup("sshd", "x")
	if v.Loc != (Location{"jail.local", 5}) {
		t.Errorf("x at %v", v.Loc)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(fstest.MapFS{"other.conf": mapFile("[s]\n")}, "jail")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want ErrNotExist", err)
	}
	// A .local alone is enough.
	c, err := Load(fstest.MapFS{"jail.local": mapFile("[s]\na=1\n")}, "jail")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Lookup("s", "a"); !ok {
		t.Error("a not found")
	}
}

func TestLoadName(t *testing.T) {
	fsys := fstest.MapFS{"jail.local": mapFile("[s]\na=1\nbogus\n")}
	_, err := (&Loader{FS: fsys, Name: func(p string) string { return "/etc/gaol/" + p }}).Load("jail")
	if err == nil || err.Error() != `/etc/gaol/jail.local:3: expected "key = value", "[section]" or a comment, got "bogus"` {
		t.Errorf("got %v", err)
	}
}

func TestIncludes(t *testing.T) {
	fsys := fstest.MapFS{
		"filter.d/common.conf":  mapFile("[INCLUDES]\nafter = common.local\n[DEFAULT]\n_daemon = \\S*\nwho = common\n"),
		"filter.d/common.local": mapFile("[DEFAULT]\nwho = common.local\n"),
		"filter.d/sshd.conf": mapFile("[INCLUDES]\nbefore = common.conf\n   sub/extra.conf\nafter = late.conf\n" +
			"[DEFAULT]\n_daemon = sshd\n[Definition]\nfailregex = %(_daemon)s %(who)s\n"),
		"filter.d/sub/extra.conf": mapFile("[INCLUDES]\nbefore = ../loop.conf\n[Definition]\nextra = yes\n"),
		"filter.d/loop.conf":      mapFile("[INCLUDES]\nbefore = sub/extra.conf\n         sshd.conf\n[Definition]\nloop = yes\n"),
		"filter.d/late.conf":      mapFile("[Definition]\nlate = yes\n"),
		"filter.d/sshd.local":     mapFile("[Definition]\nlocal = yes\n"),
	}
	c, err := Load(fsys, "filter.d/sshd")
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{
		"filter.d/common.conf", "filter.d/common.local",
		"filter.d/loop.conf", "filter.d/sub/extra.conf",
		"filter.d/sshd.conf", "filter.d/late.conf",
		"filter.d/sshd.local",
	}
	if got := c.Files(); !reflect.DeepEqual(got, wantFiles) {
		t.Errorf("files\n%v\nwant\n%v", got, wantFiles)
	}
	v, _ := c.Lookup("Definition", "failregex")
	got, err := c.Expand("Definition", v, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != "sshd common.local" {
		t.Errorf("failregex = %q", got)
	}
	for _, k := range []string{"extra", "loop", "late", "local"} {
		if _, ok := c.Lookup("Definition", k); !ok {
			t.Errorf("%s missing", k)
		}
	}
}

func TestIncludeErrors(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"absolute", fstest.MapFS{"a.conf": mapFile("[INCLUDES]\nbefore = /etc/x.conf\n")},
			`a.conf:2: include "/etc/x.conf": absolute paths are not supported`},
		{"outside", fstest.MapFS{"a.conf": mapFile("[INCLUDES]\nafter = x.conf\n  ../../x.conf\n")},
			`a.conf:3: include "../../x.conf": outside the configuration directory`},
		{"syntax error in include", fstest.MapFS{"a.conf": mapFile("[INCLUDES]\nbefore = b.conf\n"), "b.conf": mapFile("oops\n")},
			`b.conf:1: "oops" before any [section] header`},
		{"bad interpolation", fstest.MapFS{"a.conf": mapFile("[INCLUDES]\nbefore = %(x)s\n")},
			`a.conf:2: undefined variable %(x)s in [INCLUDES]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.fsys, "a")
			if err == nil || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestLoadOSDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/x.conf", []byte("[s]\na = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(os.DirFS(dir), "x")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := c.Lookup("s", "a"); !ok || v.Raw != "1" {
		t.Errorf("got %v", v)
	}
	if _, err := Load(os.DirFS(dir), "../x"); err == nil || !strings.Contains(err.Error(), "invalid") {
		t.Errorf("got %v", err)
	}
}
