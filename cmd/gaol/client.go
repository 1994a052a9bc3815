package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gaol-project/gaol/internal/control"
	"github.com/gaol-project/gaol/internal/daemon"
	"github.com/gaol-project/gaol/internal/ignore"
)

// clientTimeout bounds every client call; a ban of many addresses is quick.
const clientTimeout = 30 * time.Second

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdStatus(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	sock := socketFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError("status takes at most one jail, got %q", pos)
	}
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	c := control.NewClient(*sock)
	if len(pos) == 1 {
		js, err := c.JailStatus(ctx, pos[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, js)
		}
		renderJailStatus(stdout, js)
		return nil
	}
	s, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, s)
	}
	renderStatus(stdout, s)
	return nil
}

// renderStatus prints the overview the way `fail2ban-client status` does.
func renderStatus(w io.Writer, s control.Status) {
	names := make([]string, len(s.Jails))
	for i, j := range s.Jails {
		names[i] = j.Name
	}
	fmt.Fprintln(w, "Status")
	fmt.Fprintf(w, "|- Number of jail:\t%d\n", len(s.Jails))
	fmt.Fprintf(w, "`- Jail list:\t%s\n", strings.Join(names, ", "))
	if s.DryRun {
		fmt.Fprintln(w, "(dry run: bans are recorded, not enforced)")
	}
}

// renderJailStatus prints one jail the way `fail2ban-client status JAIL` does.
func renderJailStatus(w io.Writer, j control.JailStatus) {
	fmt.Fprintf(w, "Status for the jail: %s\n", j.Name)
	fmt.Fprintln(w, "|- Filter")
	fmt.Fprintf(w, "|  |- Currently failed:\t%d\n", j.CurrentlyFailed)
	fmt.Fprintf(w, "|  |- Total failed:\t%d\n", j.TotalFailed)
	switch {
	case j.Journal != "":
		fmt.Fprintf(w, "|  `- Journal matches:\t%s\n", j.Journal)
	case j.Syslog != "":
		fmt.Fprintf(w, "|  `- Syslog listener:\t%s\n", j.Syslog)
	default:
		fmt.Fprintf(w, "|  `- File list:\t%s\n", strings.Join(j.Files, " "))
	}
	fmt.Fprintln(w, "`- Actions")
	fmt.Fprintf(w, "   |- Currently banned:\t%d\n", j.CurrentlyBanned)
	fmt.Fprintf(w, "   |- Total banned:\t%d\n", j.TotalBanned)
	fmt.Fprintf(w, "   `- Banned IP list:\t%s\n", strings.Join(j.Banned, " "))
	if len(j.MissingFiles) > 0 {
		fmt.Fprintf(w, "(missing log files: %s)\n", strings.Join(j.MissingFiles, " "))
	}
}

func cmdBan(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ban", flag.ContinueOnError)
	sock := socketFlag(fs)
	force := fs.Bool("force", false, "ban even an address on the jail's ignore list")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return usageError("usage: gaol ban JAIL ADDR|CIDR...")
	}
	targets := splitTargets(pos[1:])
	for _, t := range targets {
		if _, err := daemon.ParseTarget(t); err != nil {
			return usageError("%q is not an IP address or CIDR prefix", t)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	req := control.BanRequest{Jail: pos[0], Targets: targets, Force: *force}
	// Tell the daemon where this command comes from, so that it refuses to
	// cut off the administrator's own SSH connection.
	if a, ok := ignore.SSHClient(os.Getenv); ok {
		req.Client = a.String()
	}
	res, err := control.NewClient(*sock).Ban(ctx, req)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	for _, b := range res.Bans {
		fmt.Fprintf(stdout, "banned %s in %s %s\n", b.Prefix, b.Jail, untilText(b))
	}
	return nil
}

func cmdUnban(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("unban", flag.ContinueOnError)
	sock := socketFlag(fs)
	all := fs.Bool("all", false, "lift every ban (of JAIL if given)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	req := control.UnbanRequest{All: *all}
	switch {
	case *all && len(pos) > 1:
		return usageError("usage: gaol unban --all [JAIL]")
	case *all && len(pos) == 1:
		req.Jail = pos[0]
	case *all:
	case len(pos) == 0:
		return usageError("usage: gaol unban [JAIL] ADDR...  or  gaol unban --all")
	default:
		// The first word is a jail unless it parses as an address.
		if _, err := daemon.ParseTarget(pos[0]); err != nil {
			req.Jail, pos = pos[0], pos[1:]
			if len(pos) == 0 {
				return usageError("usage: gaol unban [JAIL] ADDR...")
			}
		}
		req.Targets = splitTargets(pos)
		for _, t := range req.Targets {
			if _, err := daemon.ParseTarget(t); err != nil {
				return usageError("%q is not an IP address or CIDR prefix", t)
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	res, err := control.NewClient(*sock).Unban(ctx, req)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(stdout, res); err != nil {
			return err
		}
	} else {
		for _, b := range res.Bans {
			fmt.Fprintf(stdout, "unbanned %s in %s\n", b.Prefix, b.Jail)
		}
		if *all && len(res.Bans) == 0 {
			fmt.Fprintln(stdout, "nothing was banned")
		}
	}
	if len(res.NotBanned) > 0 {
		where := "any jail"
		if req.Jail != "" {
			where = req.Jail
		}
		return fmt.Errorf("not banned in %s: %s", where, strings.Join(res.NotBanned, ", "))
	}
	return nil
}

func cmdBanned(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("banned", flag.ContinueOnError)
	sock := socketFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError("usage: gaol banned [ADDR]")
	}
	addr := ""
	if len(pos) == 1 {
		addr = pos[0]
		if p, err := daemon.ParseTarget(addr); err != nil || !p.IsSingleIP() {
			return usageError("%q is not an IP address", addr)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	res, err := control.NewClient(*sock).Banned(ctx, addr)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	renderBanned(stdout, res)
	return nil
}

func renderBanned(w io.Writer, res control.Banned) {
	if res.Addr == "" {
		if len(res.Active) == 0 {
			fmt.Fprintln(w, "no active bans")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "JAIL\tADDRESS\tSINCE\tUNTIL\tFAILURES")
		for _, b := range res.Active {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Jail, b.Prefix, b.Start.Local().Format(time.DateTime), untilCol(b), failuresCol(b))
		}
		tw.Flush()
		return
	}
	if len(res.Active) == 0 {
		fmt.Fprintf(w, "%s is not banned\n", res.Addr)
	} else {
		for _, b := range res.Active {
			fmt.Fprintf(w, "%s is banned in %s (%s) %s\n", res.Addr, b.Jail, b.Prefix, untilText(b))
		}
	}
	if len(res.History) == 0 {
		fmt.Fprintln(w, "no ban history")
		return
	}
	fmt.Fprintln(w, "history:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  JAIL\tPREFIX\tSTART\tEND\tFAILURES\tENDED")
	for _, b := range res.History {
		ended := "active"
		if !b.EndedAt.IsZero() {
			ended = b.EndReason + " " + b.EndedAt.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", b.Jail, b.Prefix, b.Start.Local().Format(time.DateTime), untilCol(b), failuresCol(b), ended)
	}
	tw.Flush()
}

func untilText(b control.Ban) string {
	if b.Permanent || b.End.IsZero() {
		return "permanently"
	}
	return "until " + b.End.Local().Format(time.DateTime)
}

func untilCol(b control.Ban) string {
	if b.Permanent || b.End.IsZero() {
		return "permanent"
	}
	return b.End.Local().Format(time.DateTime)
}

func failuresCol(b control.Ban) string {
	if b.Manual {
		return "manual"
	}
	return fmt.Sprint(b.Failures)
}

func cmdReload(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("reload", flag.ContinueOnError)
	sock := socketFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError("usage: gaol reload [JAIL]")
	}
	req := control.ReloadRequest{}
	if len(pos) == 1 {
		req.Jail = pos[0]
	}
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	res, err := control.NewClient(*sock).Reload(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "reloaded: %d jails (%s)\n", len(res.Jails), strings.Join(res.Jails, ", "))
	if len(res.Added) > 0 {
		fmt.Fprintf(stdout, "added: %s\n", strings.Join(res.Added, ", "))
	}
	if len(res.Removed) > 0 {
		fmt.Fprintf(stdout, "removed: %s\n", strings.Join(res.Removed, ", "))
	}
	return nil
}
