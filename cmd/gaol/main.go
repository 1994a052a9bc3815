// Command gaol is a fail2ban-compatible intrusion-prevention daemon that
// also answers "who is attacking my server?".
//
// Run `gaol help` for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func gaolVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

const usage = `gaol: a fail2ban-compatible intrusion-prevention daemon

Usage:
  gaol server [--config DIR] [--db FILE] [--socket PATH] [--dry-run] [--log-level LEVEL] [--purge-age 90d]
  gaol status [JAIL] [--json]          jails, failures and bans
  gaol ban JAIL ADDR|CIDR... [--force] ban by hand
  gaol unban [JAIL] ADDR...            lift bans (every jail when JAIL is omitted)
  gaol unban --all [JAIL]              lift every ban
  gaol banned [ADDR] [--json]          active bans, or one address's bans and history
  gaol reload [JAIL]                   re-read the configuration, keeping state
  gaol check [--config DIR]            validate the configuration (no daemon needed)
  gaol scan [--ban] [--json] LOG...    who the jails would ban in existing logs
  gaol regex LOG FILTER [IGNOREREGEX]  test a filter on a log or a line (as fail2ban-regex)
  gaol report [--by KEY] [--since 30d] who is attacking: by country, AS, /24, jail, day...
  gaol inspect ADDR [--json]           everything known about one address
  gaol version

Client commands talk to the daemon over --socket (default $GAOL_SOCKET, else
/run/gaol/gaol.sock).
`

// exitError carries an exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError reports a command line mistake (exit code 2).
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func main() {
	stop := profile()
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "gaol: %v\n", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2, err: flag.ErrHelp}
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "server":
		return cmdServer(ctx, args, stderr)
	case "status":
		return cmdStatus(ctx, args, stdout)
	case "ban":
		return cmdBan(ctx, args, stdout)
	case "unban":
		return cmdUnban(ctx, args, stdout)
	case "banned":
		return cmdBanned(ctx, args, stdout)
	case "reload":
		return cmdReload(ctx, args, stdout)
	case "check":
		return cmdCheck(args, stdout)
	case "scan":
		return cmdScan(ctx, args, stdout, stderr)
	case "regex":
		return cmdRegex(ctx, args, stdout, stderr)
	case "report":
		return cmdReport(ctx, args, stdout)
	case "inspect":
		return cmdInspect(ctx, args, stdout)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "gaol %s\n", gaolVersion())
		return nil
	case "help", "--help", "-h", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError("unknown command %q", cmd)
}

// parse parses flags that may stand before, between or after the
// positional arguments, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stdout)
				fs.PrintDefaults()
				return nil, &exitError{code: 0, err: flag.ErrHelp}
			}
			return nil, usageError("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func socketFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("GAOL_SOCKET")
	if def == "" {
		def = defaultSocket
	}
	return fs.String("socket", def, "control socket of the daemon (env GAOL_SOCKET)")
}

func splitTargets(args []string) []string {
	var out []string
	for _, a := range args {
		for _, f := range strings.FieldsFunc(a, func(r rune) bool { return r == ',' || r == ' ' }) {
			out = append(out, f)
		}
	}
	return out
}

// profile starts a CPU profile into the file GAOL_CPUPROFILE names, if
// set (for measuring gaol; see bench/README.md), and returns what stops it.
func profile() (stop func()) {
	path := os.Getenv("GAOL_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gaol: GAOL_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
