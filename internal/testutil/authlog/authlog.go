// Package authlog generates a busy server's auth.log for tests and
// benchmarks: the same lines for the same seed, with documentation
// addresses only.
package authlog

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Write writes n lines of a busy server's auth.log, the same for
// the same seed: cron, systemd, sudo and the owners' ssh sessions among
// interleaved ssh attacks (invalid users, passwords, scanners, pre-auth
// disconnections) from about 2,500 of 5,000 documentation addresses, some far
// busier than others.
func Write(w io.Writer, n int, seed uint64) {
	g := &logGen{w: w, r: rand.New(rand.NewPCG(seed, 0x9a01)), t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), pid: 2000}
	// Every IPv4 documentation address, and IPv6 ones, in a fixed random
	// order: attacker() favors the first ones.
	for _, p := range []string{"192.0.2.%d", "198.51.100.%d", "203.0.113.%d"} {
		for i := 1; i <= 254; i++ {
			g.attackers = append(g.attackers, fmt.Sprintf(p, i))
		}
	}
	for i := 0; len(g.attackers) < 5000; i++ {
		g.attackers = append(g.attackers, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i >> 8), 0, byte(i), 14: byte(i >> 4), 15: byte(i)}).String())
	}
	g.r.Shuffle(len(g.attackers), func(i, j int) { g.attackers[i], g.attackers[j] = g.attackers[j], g.attackers[i] })
	for g.lines < n {
		g.step()
	}
}

// logGen generates an auth.log.
type logGen struct {
	w         io.Writer
	r         *rand.Rand
	t         time.Time
	pid       int
	lines     int
	attackers []string
	sessions  []*sshSession // open ssh connections
	sid       int
}

// sshSession is an ssh connection and the lines it has yet to log.
type sshSession struct {
	pid   int
	lines []string
}

var (
	genUsers  = []string{"admin", "test", "user", "oracle", "postgres", "ubuntu", "guest", "ftpuser", "git", "pi", "support", "test1", "admin123", "www-data", "nagios", "hadoop"}
	genOwners = []string{"deploy", "alice", "backup"}
	genBenign = []string{"192.0.2.250", "198.51.100.250", "2001:db8:ffff::10"}
)

func (g *logGen) emit(prog string, pid int, msg string) {
	g.t = g.t.Add(time.Duration(g.r.IntN(400)) * time.Millisecond)
	if pid > 0 {
		fmt.Fprintf(g.w, "%s web1 %s[%d]: %s\n", g.t.Format(time.Stamp), prog, pid, msg)
	} else {
		fmt.Fprintf(g.w, "%s web1 %s: %s\n", g.t.Format(time.Stamp), prog, msg)
	}
	g.lines++
}

// attacker picks an address, some far more often than others.
func (g *logGen) attacker() string {
	k := len(g.attackers)
	i := int(float64(k) * g.r.Float64() * g.r.Float64())
	return g.attackers[min(i, k-1)]
}

func (g *logGen) step() {
	switch x := g.r.IntN(100); {
	case x < 18:
		g.benign()
	case x < 30 || len(g.sessions) == 0:
		if len(g.sessions) < 40 {
			g.sessions = append(g.sessions, g.newSession())
		}
	default:
		i := g.r.IntN(len(g.sessions))
		s := g.sessions[i]
		g.emit("sshd", s.pid, s.lines[0])
		s.lines = s.lines[1:]
		if len(s.lines) == 0 {
			g.sessions[i] = g.sessions[len(g.sessions)-1]
			g.sessions = g.sessions[:len(g.sessions)-1]
		}
	}
}

func (g *logGen) benign() {
	g.pid++
	switch g.r.IntN(6) {
	case 0, 1:
		g.emit("CRON", g.pid, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)")
		g.emit("CRON", g.pid, "pam_unix(cron:session): session closed for user root")
	case 2:
		g.sid++
		g.emit("systemd-logind", 812, fmt.Sprintf("New session %d of user deploy.", g.sid))
		g.emit("systemd", 1, fmt.Sprintf("Started session-%d.scope - Session %d of User deploy.", g.sid, g.sid))
	case 3:
		g.emit("systemd-logind", 812, fmt.Sprintf("Session %d logged out. Waiting for processes to exit.", g.sid))
		g.emit("systemd-logind", 812, fmt.Sprintf("Removed session %d.", g.sid))
	case 4:
		g.emit("sudo", 0, "  deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx")
		g.emit("sudo", 0, "pam_unix(sudo:session): session opened for user root(uid=0) by deploy(uid=1000)")
		g.emit("sudo", 0, "pam_unix(sudo:session): session closed for user root")
	default:
		g.emit("kernel", 0, fmt.Sprintf("[%d.%06d] [UFW BLOCK] IN=eth0 OUT= SRC=%s DST=192.0.2.1 PROTO=TCP SPT=%d DPT=23", g.lines/10, g.lines%1000000, g.attacker(), 1024+g.r.IntN(60000)))
	}
}

func (g *logGen) newSession() *sshSession {
	g.pid++
	s := &sshSession{pid: g.pid}
	port := 1024 + g.r.IntN(64000)
	add := func(format string, args ...any) { s.lines = append(s.lines, fmt.Sprintf(format, args...)) }
	ip := g.attacker()
	u := genUsers[g.r.IntN(len(genUsers))]
	switch g.r.IntN(20) {
	case 0, 1, 2, 3, 4: // invalid users, passwords
		add("Invalid user %s from %s port %d", u, ip, port)
		add("pam_unix(sshd:auth): check pass; user unknown")
		add("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s", ip)
		for range 1 + g.r.IntN(3) {
			add("Failed password for invalid user %s from %s port %d ssh2", u, ip, port)
		}
		add("Received disconnect from %s port %d:11: Bye Bye [preauth]", ip, port)
		add("Disconnected from invalid user %s %s port %d [preauth]", u, ip, port)
	case 5, 6, 7: // root
		add("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=root", ip)
		k := 1 + g.r.IntN(6)
		for range k {
			add("Failed password for root from %s port %d ssh2", ip, port)
		}
		if k == 6 {
			add("error: maximum authentication attempts exceeded for root from %s port %d ssh2 [preauth]", ip, port)
			add("Disconnecting authenticating user root %s port %d: Too many authentication failures [preauth]", ip, port)
		} else {
			add("Connection closed by authenticating user root %s port %d [preauth]", ip, port)
		}
	case 8, 9: // scanners
		add("Invalid user %s from %s port %d", u, ip, port)
		add("Connection closed by invalid user %s %s port %d [preauth]", u, ip, port)
	case 10:
		add("Did not receive identification string from %s port %d", ip, port)
	case 11:
		add("Connection closed by %s port %d [preauth]", ip, port)
	case 12:
		add("banner exchange: Connection from %s port %d: invalid format", ip, port)
	case 13:
		add("Unable to negotiate with %s port %d: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]", ip, port)
	case 14:
		add("error: kex_exchange_identification: Connection closed by remote host")
		add("Connection closed by %s port %d", ip, port)
	case 15:
		add("Failed publickey for invalid user %s from %s port %d ssh2: RSA SHA256:Zm9vYmFyYmF6cXV4cXV1eA", u, ip, port)
		add("Received disconnect from %s port %d:11:  [preauth]", ip, port)
	default: // the owners
		ip = genBenign[g.r.IntN(len(genBenign))]
		o := genOwners[g.r.IntN(len(genOwners))]
		if g.r.IntN(4) == 0 {
			add("Failed password for %s from %s port %d ssh2", o, ip, port)
			add("Accepted password for %s from %s port %d ssh2", o, ip, port)
		} else {
			add("Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:c2VjcmV0c2VjcmV0c2VjcmV0", o, ip, port)
		}
		add("pam_unix(sshd:session): session opened for user %s(uid=1000) by (uid=0)", o)
		add("Received disconnect from %s port %d:11: disconnected by user", ip, port)
		add("Disconnected from user %s %s port %d", o, ip, port)
		add("pam_unix(sshd:session): session closed for user %s", o)
	}
	return s
}
