// Package store defines the records gaol keeps: bans (active and past) and
// the read positions of its log sources. The store is the source of truth
// for bans; the firewall is a cache of it. Implementations live in
// subpackages (sqlite).
package store

import (
	"net/netip"
	"time"
)

// Ban is one ban, active or ended.
type Ban struct {
	ID        int64
	Jail      string
	Prefix    netip.Prefix
	Start     time.Time
	End       time.Time // zero = permanent
	Failures  int
	Matches   []string
	Manual    bool
	Count     int       // the how-manieth ban of this prefix in this jail (1 = first)
	Category  string    // what kind of attack, if the filter says
	Geo       Geo       // where the address is, as known when it was banned
	EndedAt   time.Time // zero = not ended
	EndReason string    // "expired", "unbanned", "replaced", "jail removed"
}

// Geo is the attribution of an address: country, network, place.
type Geo struct {
	Country   string // ISO 3166 alpha-2
	ASN       uint32
	Org       string
	City      string
	Lat, Lon  float64
	HasCoords bool
	RDNS      string
}

// End ends the active bans of a prefix.
type End struct {
	Jail   string // "" = every jail
	Prefix netip.Prefix
	At     time.Time
	Reason string
}

// Offset is how far a log file has been read.
type Offset struct {
	Path   string
	Inode  uint64
	Offset int64
	Head   uint64 // hash of the file's first line; 0 = unknown
	Cursor string // for the journal: the cursor of the last entry read
}

// BanCount is how often a prefix was banned in a jail.
type BanCount struct {
	Jail   string
	Prefix netip.Prefix
	Count  int
	Last   time.Time // start of the latest ban
}
