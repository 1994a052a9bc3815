// Package control is gaol's control API: HTTP with JSON bodies over a unix
// socket. The daemon serves it; the CLI is its client. The package knows the
// wire format only; what a request does is up to the Daemon it is given.
package control

import (
	"errors"
	"time"
)

// API paths.
const (
	pathStatus  = "/v1/status"
	pathJail    = "/v1/jails/" // + name
	pathBan     = "/v1/ban"
	pathUnban   = "/v1/unban"
	pathBanned  = "/v1/banned"
	pathReload  = "/v1/reload"
	pathVersion = "/v1/version"
)

// Errors a Daemon returns so that the client sees the right kind of failure.
var (
	// ErrNotFound: the jail or address asked about does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request itself is wrong (a malformed address, say).
	ErrInvalid = errors.New("invalid request")
	// ErrRefused: the request is valid but gaol will not do it (an ignored
	// address without --force).
	ErrRefused = errors.New("refused")
)

// Status is the answer to `gaol status`: every jail with its counters.
type Status struct {
	Version string       `json:"version"`
	Started time.Time    `json:"started"`
	DryRun  bool         `json:"dry_run"`
	Jails   []JailStatus `json:"jails"`
}

// JailStatus describes one jail, as `fail2ban-client status JAIL` does.
type JailStatus struct {
	Name            string   `json:"name"`
	Filter          string   `json:"filter"`
	Files           []string `json:"files"`
	Journal         string   `json:"journal,omitempty"` // journalmatch, when the jail reads the journal
	Syslog          string   `json:"syslog,omitempty"`  // listener address, when it reads syslog
	MissingFiles    []string `json:"missing_files,omitempty"`
	CurrentlyFailed int      `json:"currently_failed"`
	TotalFailed     int      `json:"total_failed"`
	CurrentlyBanned int      `json:"currently_banned"`
	TotalBanned     int      `json:"total_banned"`
	// Banned lists the banned addresses and prefixes; the overview
	// (Status) leaves it out.
	Banned []string `json:"banned,omitempty"`
}

// BanRequest asks for manual bans.
type BanRequest struct {
	Jail    string   `json:"jail"`
	Targets []string `json:"targets"` // addresses or CIDR prefixes
	Force   bool     `json:"force,omitempty"`
	// Client is the address of the SSH connection the request was made
	// over, if any: gaol refuses to ban it without Force.
	Client string `json:"client,omitempty"`
}

// UnbanRequest asks to lift bans.
type UnbanRequest struct {
	Jail    string   `json:"jail,omitempty"` // "" = every jail
	Targets []string `json:"targets,omitempty"`
	All     bool     `json:"all,omitempty"`
}

// Ban is one ban, active or past.
type Ban struct {
	Jail      string    `json:"jail"`
	Prefix    string    `json:"prefix"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end,omitzero"` // zero = permanent
	Permanent bool      `json:"permanent,omitempty"`
	Failures  int       `json:"failures"`
	Manual    bool      `json:"manual,omitempty"`
	Count     int       `json:"count,omitempty"`    // the how-manieth ban of this prefix in its jail
	Category  string    `json:"category,omitempty"` // what kind of attack
	Matches   []string  `json:"matches,omitempty"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	EndReason string    `json:"end_reason,omitempty"`
}

// BanResult is the answer to a ban or unban request: the bans made or
// lifted.
type BanResult struct {
	Bans []Ban `json:"bans"`
	// NotBanned lists unban targets that were not banned.
	NotBanned []string `json:"not_banned,omitempty"`
}

// Banned is the answer to `gaol banned [ADDR]`: the active bans, or for one
// address its active bans and its whole history.
type Banned struct {
	Addr    string `json:"addr,omitempty"`
	Active  []Ban  `json:"active"`
	History []Ban  `json:"history,omitempty"`
}

// ReloadRequest asks the daemon to re-read its configuration.
type ReloadRequest struct {
	Jail string `json:"jail,omitempty"`
}

// ReloadResult says what a reload changed.
type ReloadResult struct {
	Jails   []string `json:"jails"`
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
}

// Version is the daemon's version.
type Version struct {
	Version string `json:"version"`
}

type errorBody struct {
	Error string `json:"error"`
	Kind  string `json:"kind,omitempty"`
}
