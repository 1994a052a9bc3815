package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/gaol-project/gaol/internal/config"
	"github.com/gaol-project/gaol/internal/control"
	"github.com/gaol-project/gaol/internal/daemon"
	"github.com/gaol-project/gaol/internal/firewall/ipset"
	"github.com/gaol-project/gaol/internal/firewall/nft"
	"github.com/gaol-project/gaol/internal/geo"
	"github.com/gaol-project/gaol/internal/match"
	"github.com/gaol-project/gaol/internal/store/sqlite"
)

const (
	defaultDB     = "/var/lib/gaol/gaol.db"
	defaultSocket = "/run/gaol/gaol.sock"
)

func cmdServer(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	configDir := fs.String("config", "", "configuration directory (fail2ban layout) laid over the embedded defaults")
	db := fs.String("db", defaultDB, "database file")
	sock := socketFlag(fs)
	dryRun := fs.Bool("dry-run", false, "decide and record bans, but touch no firewall")
	fromStart := fs.Bool("from-start", false, "read log files never read before from their start, not their end")
	backend := fs.String("firewall", "auto", "nftables, ipset (iptables + ipset), or auto: nftables, else ipset")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	purgeAge := fs.String("purge-age", "90d", "how long ended bans are kept in the database (bantime.increment counts the bans within it)")
	journalDir := fs.String("journal-dir", "", "read the journal from this directory of journal files instead of the system journal")
	syslogListen := fs.String("syslog-listen", "127.0.0.1:514", "address (UDP and TCP) of the syslog listener that jails with backend = syslog read")
	cityDB := fs.String("city-db", "", "an mmdb file (DB-IP Lite City or GeoLite2-City) for the cities and coordinates of banned addresses")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("server takes no arguments, got %q", pos)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return usageError("--log-level: %q is not one of debug, info, warn, error", *level)
	}
	purge, err := config.ParseDuration(*purgeAge)
	if err != nil || purge <= 0 {
		return usageError("--purge-age: %q is not a positive duration", *purgeAge)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	// Validate the configuration before touching anything.
	cfg, filters, err := loadConfig(*configDir)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, err := sqlite.Open(ctx, *db)
	if err != nil {
		return fmt.Errorf("opening the database: %w", err)
	}
	defer st.Close()

	opts := daemon.Options{
		ConfigDir: *configDir,
		Config:    cfg,
		Filters:   filters,
		Store:     st,
		Socket:    *sock,
		Version:   gaolVersion(),
		Logger:    log,
		PurgeAge:  purge,
		// Host names in ignoreip, and those failures name (usedns).
		Resolver: hostLookup,

		JournalDir:   *journalDir,
		SyslogListen: *syslogListen,
		RunActions:   !*dryRun,
		FromStart:    *fromStart,
	}
	locator, err := geo.New(geo.Options{CityDB: *cityDB})
	if err != nil {
		return fmt.Errorf("--city-db: %w", err)
	}
	defer locator.Close()
	opts.Geo = locator
	// The built-in tables (AS numbers, and the countries of IPv6
	// addresses) are decoded on first use, which takes a fraction of a
	// second of CPU: do it now, side by side, not at the first ban.
	go locator.Lookup(netip.MustParseAddr("192.0.2.1"))
	go locator.Lookup(netip.MustParseAddr("2001:db8::1"))
	if !*dryRun {
		fw, closeFW, err := openFirewall(*backend, log)
		if err != nil {
			return err
		}
		defer closeFW()
		opts.Firewall = fw
	}
	d, err := daemon.New(opts)
	if err != nil {
		return err
	}

	// SIGHUP reloads the configuration, as it does for most daemons.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if _, err := d.Reload(ctx, control.ReloadRequest{}); err != nil {
					log.Error("reload on SIGHUP failed", "err", err)
				}
			}
		}
	}()
	return d.Run(ctx)
}

func cmdCheck(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	configDir := fs.String("config", "", "configuration directory (fail2ban layout) laid over the embedded defaults")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("check takes no arguments, got %q", pos)
	}
	cfg, _, err := loadConfig(*configDir)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	enabled := cfg.Enabled()
	fmt.Fprintf(stdout, "configuration OK: %d jails, %d enabled\n", len(cfg.Jails), len(enabled))
	for _, j := range enabled {
		bantime := j.BanTime.String()
		if j.BanTime < 0 {
			bantime = "permanent"
		}
		fmt.Fprintf(stdout, "  %s: filter %s, maxretry %d, findtime %s, bantime %s, logpath %s",
			j.Name, filterSpec(j.Filter), j.MaxRetry, j.FindTime, bantime, strings.Join(j.LogPath, " "))
		if j.Auto != "" {
			fmt.Fprintf(stdout, "; %s", j.Auto)
		}
		fmt.Fprintln(stdout)
	}
	for _, j := range cfg.Jails {
		if !j.Enabled && j.Auto != "" {
			fmt.Fprintf(stdout, "  %s: %s\n", j.Name, j.Auto)
		}
	}
	return nil
}

// filterSpec writes a jail's filter as its filter setting would:
// name[key=value,...].
func filterSpec(f *config.Filter) string {
	if len(f.Options) == 0 {
		return f.Name
	}
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(f.Options)) {
		kv = append(kv, k+"="+f.Options[k])
	}
	return f.Name + "[" + strings.Join(kv, ", ") + "]"
}

// openFirewall opens the ban backend: nftables through netlink, or
// iptables with ipset sets where nftables is unavailable.
func openFirewall(kind string, log *slog.Logger) (daemon.Firewall, func(), error) {
	hint := "(gaol needs root or CAP_NET_ADMIN; --dry-run runs without a firewall)"
	var nftErr error
	switch kind {
	case "auto", "nftables":
		fw, err := nft.Open(nft.Options{})
		if err == nil {
			return fw, func() { fw.Close() }, nil
		}
		if kind == "nftables" || !errors.Is(err, nft.ErrUnavailable) {
			return nil, nil, fmt.Errorf("opening nftables: %w\n%s", err, hint)
		}
		nftErr = err
		fallthrough
	case "ipset":
		fw, err := ipset.Open(ipset.Options{Logger: log})
		if err != nil {
			if nftErr != nil {
				return nil, nil, fmt.Errorf("no firewall to ban with: %w; and %w\n%s", nftErr, err, hint)
			}
			return nil, nil, fmt.Errorf("opening iptables+ipset: %w\n%s", err, hint)
		}
		if nftErr != nil {
			log.Warn("nftables is unavailable; banning with iptables and ipset", "err", nftErr)
		}
		return fw, func() { fw.Close() }, nil
	}
	return nil, nil, usageError("--firewall: %q is not auto, nftables or ipset", kind)
}

// loadConfig loads and compiles the configuration of `--config DIR` ("":
// the embedded defaults alone), as the daemon would.
func loadConfig(dir string) (*config.Config, map[string]*match.Filter, error) {
	if dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, nil, fmt.Errorf("--config %s: not a directory", dir)
		}
	}
	return daemon.Load(dir)
}
