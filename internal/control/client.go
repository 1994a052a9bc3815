package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"syscall"
)

// Client talks to a running daemon over its control socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}
	return &Client{socket: socket, http: &http.Client{Transport: tr}}
}

// ErrNotRunning means no daemon answers on the socket.
var ErrNotRunning = errors.New("gaol daemon is not running")

// Error is an error the daemon answered with.
type Error struct {
	Status  int
	Kind    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is lets errors.Is match the daemon's error kinds.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Kind == "not_found"
	case ErrInvalid:
		return e.Kind == "invalid"
	case ErrRefused:
		return e.Kind == "refused"
	}
	return false
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://gaol"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("%w (no daemon at %s; start it with `gaol server`, or point --socket/GAOL_SOCKET at its socket)", ErrNotRunning, c.socket)
		}
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("control socket %s: permission denied (run as root)", c.socket)
		}
		return fmt.Errorf("control socket %s: %w", c.socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading the daemon's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = fmt.Sprintf("daemon answered %s", resp.Status)
		}
		return &Error{Status: resp.StatusCode, Kind: eb.Kind, Message: eb.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding the daemon's answer: %w", err)
	}
	return nil
}

// Status returns every jail's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.do(ctx, http.MethodGet, pathStatus, nil, &s)
}

// JailStatus returns one jail's status.
func (c *Client) JailStatus(ctx context.Context, jail string) (JailStatus, error) {
	var s JailStatus
	return s, c.do(ctx, http.MethodGet, pathJail+url.PathEscape(jail), nil, &s)
}

// Ban bans addresses or prefixes in a jail.
func (c *Client) Ban(ctx context.Context, r BanRequest) (BanResult, error) {
	var res BanResult
	return res, c.do(ctx, http.MethodPost, pathBan, r, &res)
}

// Unban lifts bans.
func (c *Client) Unban(ctx context.Context, r UnbanRequest) (BanResult, error) {
	var res BanResult
	return res, c.do(ctx, http.MethodPost, pathUnban, r, &res)
}

// Banned lists active bans, or with addr set, where that address stands.
func (c *Client) Banned(ctx context.Context, addr string) (Banned, error) {
	p := pathBanned
	if addr != "" {
		p += "?addr=" + url.QueryEscape(addr)
	}
	var b Banned
	return b, c.do(ctx, http.MethodGet, p, nil, &b)
}

// Reload asks the daemon to re-read its configuration.
func (c *Client) Reload(ctx context.Context, r ReloadRequest) (ReloadResult, error) {
	var res ReloadResult
	return res, c.do(ctx, http.MethodPost, pathReload, r, &res)
}

// Version returns the daemon's version.
func (c *Client) Version(ctx context.Context) (Version, error) {
	var v Version
	return v, c.do(ctx, http.MethodGet, pathVersion, nil, &v)
}
