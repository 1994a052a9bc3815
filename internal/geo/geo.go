// Package geo says where an address comes from: country (built in, from
// github.com/phuslu/iploc), autonomous system and organisation (built in,
// package asn), city and coordinates (from an optional MaxMind DB City file
// such as DB-IP Lite City or GeoLite2-City) and, optionally, its reverse
// DNS name through a cache.
//
// gaol enriches a ban when it is made and stores the result with it, so that
// history keeps its attribution when the data changes.
package geo

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/phuslu/iploc"

	"github.com/gaol-project/gaol/internal/geo/asn"
	"github.com/gaol-project/gaol/internal/geo/world"
)

// Info is what is known about where an address comes from. Zero fields are
// unknown.
type Info struct {
	Country     string  `json:"country,omitempty"`      // ISO 3166-1 alpha-2
	CountryName string  `json:"country_name,omitempty"` // short English name
	ASN         uint32  `json:"asn,omitempty"`
	Org         string  `json:"org,omitempty"`
	City        string  `json:"city,omitempty"`
	Lat         float64 `json:"lat,omitempty"`
	Lon         float64 `json:"lon,omitempty"`
	HasCoords   bool    `json:"has_coords,omitempty"` // Lat and Lon are the city's
	RDNS        string  `json:"rdns,omitempty"`
}

// ReverseResolver finds the names of an address; *net.Resolver is one.
type ReverseResolver interface {
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Options configures a Resolver. The zero value uses only the built-in
// data.
type Options struct {
	// CityDB is the path of a MaxMind DB City file (DB-IP Lite City,
	// GeoLite2-City or compatible); empty for none.
	CityDB string
	// ReverseDNS, when set, looks up reverse DNS names; nil turns rDNS off.
	ReverseDNS ReverseResolver
	// RDNSTimeout bounds one reverse lookup (default 2s).
	RDNSTimeout time.Duration
	// RDNSCacheSize is how many addresses the rDNS cache keeps (default 4096).
	RDNSCacheSize int
	// RDNSTTL is how long a name is cached (default 1h); failures are
	// cached for a tenth of it.
	RDNSTTL time.Duration
	// Now is the clock for the cache (default time.Now).
	Now func() time.Time
}

// Resolver looks addresses up. It is safe for concurrent use.
type Resolver struct {
	city    *maxminddb.Reader
	rdns    ReverseResolver
	timeout time.Duration
	cache   *rdnsCache
}

// New returns a resolver, opening the City database if one is configured.
func New(opts Options) (*Resolver, error) {
	r := &Resolver{rdns: opts.ReverseDNS, timeout: opts.RDNSTimeout}
	if r.timeout <= 0 {
		r.timeout = 2 * time.Second
	}
	if opts.CityDB != "" {
		db, err := maxminddb.Open(opts.CityDB)
		if err != nil {
			return nil, fmt.Errorf("opening city database %q: %w", opts.CityDB, err)
		}
		r.city = db
	}
	if r.rdns != nil {
		size, ttl, now := opts.RDNSCacheSize, opts.RDNSTTL, opts.Now
		if size <= 0 {
			size = 4096
		}
		if ttl <= 0 {
			ttl = time.Hour
		}
		if now == nil {
			now = time.Now
		}
		r.cache = newRDNSCache(size, ttl, now)
	}
	return r, nil
}

// Close releases the City database.
func (r *Resolver) Close() error {
	if r.city == nil {
		return nil
	}
	if err := r.city.Close(); err != nil {
		return fmt.Errorf("closing city database: %w", err)
	}
	return nil
}

// Lookup is LookupContext without a deadline of the caller's own.
func (r *Resolver) Lookup(addr netip.Addr) Info {
	return r.LookupContext(context.Background(), addr)
}

// LookupContext returns what is known about addr. Country, AS and city come
// from local data and never block; reverse DNS, when enabled and not cached,
// waits at most the configured timeout or until ctx is done.
func (r *Resolver) LookupContext(ctx context.Context, addr netip.Addr) Info {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return Info{}
	}
	info := Static(addr)
	if r.city != nil {
		r.lookupCity(addr, &info)
	}
	if r.cache != nil {
		info.RDNS = r.reverse(ctx, addr)
	}
	return info
}

// Static returns what the data built into the binary says about addr:
// country and AS.
func Static(addr netip.Addr) Info {
	addr = addr.Unmap()
	var info Info
	if !addr.IsValid() {
		return info
	}
	if c := iploc.IPCountry(addr); c != "" && c != "ZZ" {
		info.Country = c
		info.CountryName = world.Name(c)
	}
	if as, ok := asn.Lookup(addr); ok {
		info.ASN, info.Org = as.Number, as.Org
	}
	return info
}

// cityRecord is the part of a GeoIP2/GeoLite2/DB-IP City record gaol reads.
type cityRecord struct {
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// lookupCity fills city and coordinates from the City database. Its country
// replaces the built-in one, so that city and country agree.
func (r *Resolver) lookupCity(addr netip.Addr, info *Info) {
	var rec cityRecord
	res := r.city.Lookup(addr)
	if !res.Found() || res.Decode(&rec) != nil {
		return
	}
	if c := rec.Country.ISOCode; len(c) == 2 {
		info.Country = c
		info.CountryName = world.Name(c)
	}
	info.City = rec.City.Names["en"]
	if lat, lon := rec.Location.Latitude, rec.Location.Longitude; lat != nil && lon != nil &&
		*lat >= -90 && *lat <= 90 && *lon >= -180 && *lon <= 180 {
		info.Lat, info.Lon, info.HasCoords = *lat, *lon, true
	}
}

// Coords returns where to put info on a map: the city's coordinates when
// known, else the centroid of its country. ok is false when neither is
// known.
func (info Info) Coords() (lat, lon float64, ok bool) {
	if info.HasCoords {
		return info.Lat, info.Lon, true
	}
	if c, found := world.Lookup(info.Country); found && c.HasCoords {
		return c.Lat, c.Lon, true
	}
	return 0, 0, false
}
