package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Daemon is what the control server needs from the daemon.
type Daemon interface {
	Status(ctx context.Context) (Status, error)
	JailStatus(ctx context.Context, jail string) (JailStatus, error)
	Ban(ctx context.Context, r BanRequest) (BanResult, error)
	Unban(ctx context.Context, r UnbanRequest) (BanResult, error)
	Banned(ctx context.Context, addr string) (Banned, error)
	Reload(ctx context.Context, r ReloadRequest) (ReloadResult, error)
}

// maxBody bounds request bodies: a ban of thousands of addresses fits.
const maxBody = 64 << 20

// Handler returns the HTTP handler serving the API for d.
func Handler(d Daemon, version string, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathVersion, func(w http.ResponseWriter, r *http.Request) {
		reply(w, log, Version{Version: version}, nil)
	})
	mux.HandleFunc("GET "+pathStatus, func(w http.ResponseWriter, r *http.Request) {
		s, err := d.Status(r.Context())
		reply(w, log, s, err)
	})
	mux.HandleFunc("GET "+pathJail+"{name}", func(w http.ResponseWriter, r *http.Request) {
		s, err := d.JailStatus(r.Context(), r.PathValue("name"))
		reply(w, log, s, err)
	})
	mux.HandleFunc("GET "+pathBanned, func(w http.ResponseWriter, r *http.Request) {
		b, err := d.Banned(r.Context(), r.URL.Query().Get("addr"))
		reply(w, log, b, err)
	})
	mux.HandleFunc("POST "+pathBan, func(w http.ResponseWriter, r *http.Request) {
		var req BanRequest
		if !decode(w, r, log, &req) {
			return
		}
		res, err := d.Ban(r.Context(), req)
		reply(w, log, res, err)
	})
	mux.HandleFunc("POST "+pathUnban, func(w http.ResponseWriter, r *http.Request) {
		var req UnbanRequest
		if !decode(w, r, log, &req) {
			return
		}
		res, err := d.Unban(r.Context(), req)
		reply(w, log, res, err)
	})
	mux.HandleFunc("POST "+pathReload, func(w http.ResponseWriter, r *http.Request) {
		var req ReloadRequest
		if !decode(w, r, log, &req) {
			return
		}
		res, err := d.Reload(r.Context(), req)
		reply(w, log, res, err)
	})
	return mux
}

func decode(w http.ResponseWriter, r *http.Request, log *slog.Logger, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		reply(w, log, nil, fmt.Errorf("%w: malformed JSON body: %v", ErrInvalid, err))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		reply(w, log, nil, fmt.Errorf("%w: trailing data after JSON body", ErrInvalid))
		return false
	}
	return true
}

func reply(w http.ResponseWriter, log *slog.Logger, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		code, kind := http.StatusInternalServerError, ""
		switch {
		case errors.Is(err, ErrNotFound):
			code, kind = http.StatusNotFound, "not_found"
		case errors.Is(err, ErrInvalid):
			code, kind = http.StatusBadRequest, "invalid"
		case errors.Is(err, ErrRefused):
			code, kind = http.StatusConflict, "refused"
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			code = http.StatusServiceUnavailable
		default:
			log.Error("control request failed", "err", err)
		}
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(errorBody{Error: err.Error(), Kind: kind})
		return
	}
	json.NewEncoder(w).Encode(v)
}

// Listen creates the unix socket at path, mode 0600, in a directory it
// creates (0700) if missing. A stale socket left by a dead daemon is
// replaced; a socket a live daemon answers on is an error.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("control socket directory: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another gaol daemon is running there", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale control socket: %w", err)
		}
	}
	// Create the socket with no permissions for group and others from the
	// start: a chmod after bind would leave a window.
	l, err := listenUmask(path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return l, nil
}

// Serve serves the API on l until ctx is done.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		case <-done:
		}
	}()
	err := srv.Serve(l)
	close(done)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
