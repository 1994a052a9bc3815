package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type fakeDaemon struct{ lastBan BanRequest }

func (f *fakeDaemon) Status(context.Context) (Status, error) {
	return Status{Version: "test", Jails: []JailStatus{{Name: "sshd"}}}, nil
}

func (f *fakeDaemon) JailStatus(_ context.Context, jail string) (JailStatus, error) {
	if jail != "sshd" {
		return JailStatus{}, fmt.Errorf("jail %q: %w", jail, ErrNotFound)
	}
	return JailStatus{Name: "sshd", Banned: []string{"192.0.2.1"}, CurrentlyBanned: 1}, nil
}

func (f *fakeDaemon) Ban(_ context.Context, r BanRequest) (BanResult, error) {
	f.lastBan = r
	if len(r.Targets) == 0 {
		return BanResult{}, fmt.Errorf("%w: nothing to ban", ErrInvalid)
	}
	if r.Targets[0] == "bad" {
		return BanResult{}, fmt.Errorf("%w: %q is not an address", ErrInvalid, r.Targets[0])
	}
	if r.Targets[0] == "127.0.0.1" && !r.Force {
		return BanResult{}, fmt.Errorf("%w: ignored", ErrRefused)
	}
	return BanResult{Bans: []Ban{{Jail: r.Jail, Prefix: r.Targets[0] + "/32"}}}, nil
}

func (f *fakeDaemon) Unban(_ context.Context, r UnbanRequest) (BanResult, error) {
	return BanResult{}, errors.New("disk on fire")
}

func (f *fakeDaemon) Banned(_ context.Context, addr string) (Banned, error) {
	return Banned{Addr: addr}, nil
}

func (f *fakeDaemon) Reload(_ context.Context, r ReloadRequest) (ReloadResult, error) {
	return ReloadResult{Jails: []string{"sshd"}}, nil
}

func startServer(t *testing.T, d Daemon) (*Client, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "run", "gaol.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, Handler(d, "v-test", slog.New(slog.NewTextHandler(io.Discard, nil)))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return NewClient(sock), sock
}

func TestRoundTrip(t *testing.T) {
	fd := &fakeDaemon{}
	c, sock := startServer(t, fd)
	ctx := context.Background()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket mode %v", fi.Mode())
	}
	if v, err := c.Version(ctx); err != nil || v.Version != "v-test" {
		t.Fatalf("version %v %v", v, err)
	}
	if s, err := c.Status(ctx); err != nil || len(s.Jails) != 1 {
		t.Fatalf("status %v %v", s, err)
	}
	if s, err := c.JailStatus(ctx, "sshd"); err != nil || s.Banned[0] != "192.0.2.1" {
		t.Fatalf("jail status %v %v", s, err)
	}
	if _, err := c.JailStatus(ctx, "nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `jail "nope"`) {
		t.Fatalf("unknown jail: %v", err)
	}
	if _, err := c.JailStatus(ctx, "a/b c"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("escaped jail: %v", err)
	}
	if r, err := c.Ban(ctx, BanRequest{Jail: "sshd", Targets: []string{"192.0.2.7"}}); err != nil || r.Bans[0].Prefix != "192.0.2.7/32" {
		t.Fatalf("ban %v %v", r, err)
	}
	if _, err := c.Ban(ctx, BanRequest{Jail: "sshd", Targets: []string{"bad"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad ban: %v", err)
	}
	if _, err := c.Ban(ctx, BanRequest{Jail: "sshd", Targets: []string{"127.0.0.1"}}); !errors.Is(err, ErrRefused) {
		t.Fatalf("refused ban: %v", err)
	}
	if _, err := c.Ban(ctx, BanRequest{Jail: "sshd", Targets: []string{"127.0.0.1"}, Force: true}); err != nil || !fd.lastBan.Force {
		t.Fatalf("forced ban: %v", err)
	}
	var ce *Error
	if _, err := c.Unban(ctx, UnbanRequest{All: true}); !errors.As(err, &ce) || ce.Status != 500 || ce.Message != "disk on fire" {
		t.Fatalf("internal error: %v", err)
	}
	if b, err := c.Banned(ctx, "2001:db8::1"); err != nil || b.Addr != "2001:db8::1" {
		t.Fatalf("banned %v %v", b, err)
	}
	if r, err := c.Reload(ctx, ReloadRequest{}); err != nil || r.Jails[0] != "sshd" {
		t.Fatalf("reload %v %v", r, err)
	}
}

func TestNotRunning(t *testing.T) {
	dir := t.TempDir()
	c := NewClient(filepath.Join(dir, "missing.sock"))
	_, err := c.Status(context.Background())
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "missing.sock") {
		t.Fatalf("missing socket: %v", err)
	}
	// A stale socket file nobody listens on.
	stale := filepath.Join(dir, "stale.sock")
	l, err := Listen(stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	l.Close()
	if _, err := NewClient(stale).Status(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("stale socket: %v", err)
	}
	// Listen replaces the stale socket.
	l, err = Listen(stale)
	if err != nil {
		t.Fatalf("listen over stale socket: %v", err)
	}
	l.Close()
}

func TestSecondDaemonRefused(t *testing.T) {
	_, sock := startServer(t, &fakeDaemon{})
	if _, err := Listen(sock); err == nil || !strings.Contains(err.Error(), "another gaol daemon") {
		t.Fatalf("second listen: %v", err)
	}
}

func TestBadBodies(t *testing.T) {
	h := Handler(&fakeDaemon{}, "v", slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, body := range []string{"", "{", `{"jail":"sshd","targets":["192.0.2.1"]} {}`, `{"jale":"x"}`, `[]`} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, pathBan, strings.NewReader(body)))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"kind":"invalid"`) {
			t.Errorf("body %q: %d %s", body, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, pathBan, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET ban: %d", rec.Code)
	}
}

// FuzzHandler feeds arbitrary requests to the API: it must never panic and
// always answer JSON.
func FuzzHandler(f *testing.F) {
	f.Add("POST", pathBan, `{"jail":"sshd","targets":["192.0.2.1"]}`)
	f.Add("POST", pathUnban, `{"all":true}`)
	f.Add("GET", pathBanned+"?addr=192.0.2.1", ``)
	f.Add("GET", pathJail+"sshd", ``)
	f.Add("POST", pathReload, `{}`)
	h := Handler(&fakeDaemon{}, "v", slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") || method == "" || strings.ContainsAny(method, " \r\n\t()<>@,;:\\\"/[]?={}") {
			return
		}
		req, err := http.NewRequest(method, "http://gaol"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req.WithContext(ctx))
		if rec.Code == http.StatusOK && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("%s %s: non-JSON answer", method, path)
		}
	})
}
