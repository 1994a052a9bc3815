package ipset

import (
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/vishvananda/netns"

	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/netnsrun"
)

// maxMultiport is how many ports one multiport match takes; a range counts
// twice.
const maxMultiport = 15

// family is one of the two address families, with its tools.
type family struct {
	name     string // "inet" or "inet6", as ipset says
	suffix   string // of set names
	nfproto  uint8  // for the ipset family attribute
	iptables string // command
}

// chainRules returns the iptables-restore input that makes the chain hold
// the rules of the jails for one family: for each jail, packets from an
// address in its set to its ports are dropped.
//
//	*filter
//	:gaol - [0:0]
//	-A gaol -p tcp -m multiport --dports 22 -m set --match-set gaol-sshd-v4 src -j DROP
//	COMMIT
//
// Declaring the chain flushes it when it exists (iptables-restore
// --noflush leaves the other chains alone).
func chainRules(chain string, jails []*jailState, v6 bool) string {
	var b strings.Builder
	b.WriteString("*filter\n")
	fmt.Fprintf(&b, ":%s - [0:0]\n", chain)
	for _, js := range jails {
		set := js.v4
		if v6 {
			set = js.v6
		}
		match := fmt.Sprintf("-m set --match-set %s src -j DROP", set)
		switch {
		case js.protocol == firewall.ProtocolAll:
			fmt.Fprintf(&b, "-A %s %s\n", chain, match)
		case len(js.ports) == 0:
			fmt.Fprintf(&b, "-A %s -p %s %s\n", chain, js.protocol, match)
		default:
			for _, ports := range multiportLists(js.ports) {
				fmt.Fprintf(&b, "-A %s -p %s -m multiport --dports %s %s\n", chain, js.protocol, ports, match)
			}
		}
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// multiportLists returns the ports as arguments of --dports, in as many
// lists as the multiport match needs.
func multiportLists(ports []firewall.PortRange) []string {
	var out []string
	var cur []string
	used := 0
	for _, r := range ports {
		item, n := strconv.Itoa(int(r.From)), 1
		if r.To != r.From {
			item, n = item+":"+strconv.Itoa(int(r.To)), 2
		}
		if used+n > maxMultiport {
			out = append(out, strings.Join(cur, ","))
			cur, used = nil, 0
		}
		cur = append(cur, item)
		used += n
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, ","))
	}
	return out
}

// runner runs iptables commands in the backend's namespace.
type runner struct {
	nsFD int // -1 for the current namespace
}

// run runs a command with stdin and returns its combined output. In
// another namespace the command is started from an OS thread switched
// into it, so that the child process is born there.
func (r runner) run(stdin string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := cmd.Start
	if r.nsFD >= 0 {
		start = func() error { return netnsrun.Do(netns.NsHandle(r.nsFD), cmd.Start) }
	}
	err := start()
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		return out.Bytes(), fmt.Errorf("running %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.Bytes(), nil
}

// iptablesState is what `iptables -S` says of gaol's chain and hook.
type iptablesState struct {
	chainExists bool
	jumps       int    // rules `-A INPUT -j <chain>`
	rules       string // the chain's rules, as -S lists them
}

// inspect reads the filter table of one family.
func (b *Backend) inspect(f family) (iptablesState, error) {
	out, err := b.run.run("", f.iptables, "-w", "-t", "filter", "-S")
	if err != nil {
		return iptablesState{}, err
	}
	var st iptablesState
	var rules strings.Builder
	jump := "-A INPUT -j " + b.chain
	own := "-A " + b.chain + " "
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		switch {
		case line == "-N "+b.chain:
			st.chainExists = true
		case line == jump:
			st.jumps++
		case strings.HasPrefix(line, own):
			rules.WriteString(line)
			rules.WriteByte('\n')
		}
	}
	st.rules = rules.String()
	return st, nil
}

// hook makes INPUT jump to the chain first, once.
func (b *Backend) hook(f family, st iptablesState) error {
	for ; st.jumps > 1; st.jumps-- {
		if _, err := b.run.run("", f.iptables, "-w", "-D", "INPUT", "-j", b.chain); err != nil {
			return err
		}
	}
	if st.jumps == 1 {
		return nil
	}
	_, err := b.run.run("", f.iptables, "-w", "-I", "INPUT", "1", "-j", b.chain)
	return err
}

// writeChain replaces the chain's rules with those of the jails.
func (b *Backend) writeChain(f family, jails []*jailState) error {
	_, err := b.run.run(chainRules(b.chain, jails, f.suffix == "v6"), f.iptables+"-restore", "-w", "--noflush")
	return err
}

// unhook removes the jumps to the chain and the chain.
func (b *Backend) unhook(f family) error {
	st, err := b.inspect(f)
	if err != nil {
		return err
	}
	for range st.jumps {
		if _, err := b.run.run("", f.iptables, "-w", "-D", "INPUT", "-j", b.chain); err != nil {
			return err
		}
	}
	if !st.chainExists {
		return nil
	}
	if _, err := b.run.run("", f.iptables, "-w", "-F", b.chain); err != nil {
		return err
	}
	_, err = b.run.run("", f.iptables, "-w", "-X", b.chain)
	return err
}
