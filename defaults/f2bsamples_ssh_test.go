package defaults_test

// sshdSpec maps the filter options of fail2ban's sshd samples to ours.
// fail2ban's modes (normal, ddos, extra, aggressive) are ours too, with
// the same meaning; logtype (file, journal, rfc5424) needs no option, as
// our prefix reads syslog, journal and RFC 5424 lines alike.
func sshdSpec(opts map[string]string) (string, bool) {
	switch mode := opts["mode"]; mode {
	case "", "normal":
		return "sshd", true
	case "ddos", "extra", "aggressive":
		return "sshd[mode=" + mode + "]", true
	default:
		return "", false
	}
}

const (
	sshdBracketDaemon = "no host name and the program in brackets (\"[sshd]\", 2005 Solaris-era syslog): not a line format current syslog daemons or the journal write"
	sshdPasswordInfo  = "fail2ban expects 127.0.0.1, taking \": from 10.10.1.2 port 55555 ssh2\" for auth-info; OpenSSH writes nothing after \"ssh2\" for a password, so sshd writes this line only for the invalid user name \"test from 127.0.0.1 port 58946 ssh2:\", and 10.10.1.2, which we take, is the peer"
	sshdRuser         = "an SSH-1 \"ssh1: ruser\" line OpenSSH 7.4 and later cannot write; in the lines they write, text after \"ssh2\" that is no key follows a method name the client chose (sshd logs an unknown method as it came), so the address before it is the client's text: we take none"
	sshdKernelPrefix  = "a kernel-style \"kernel:[ 970.699396]:\" inside an sshd message: sshd never writes one; fail2ban's journal prefix accepts it for its own reasons"
)

func init() {
	comparisons = append(comparisons, comparison{
		ours:   "sshd",
		theirs: []string{"sshd", "sshd-journal"},
		spec:   sshdSpec,
		known: map[string]string{
			"sshd:40":                         sshdBracketDaemon,
			"sshd:40 mode=aggressive":         sshdBracketDaemon,
			"sshd:93":                         sshdBracketDaemon,
			"sshd:93 mode=aggressive":         sshdBracketDaemon,
			"sshd-journal:64":                 sshdKernelPrefix,
			"sshd-journal:64 mode=aggressive": sshdKernelPrefix,
		},
		disputed: map[string]string{
			"sshd:132":                         sshdRuser,
			"sshd:132 mode=aggressive":         sshdRuser,
			"sshd:135":                         sshdRuser,
			"sshd:135 mode=aggressive":         sshdRuser,
			"sshd:137":                         sshdRuser,
			"sshd:137 mode=aggressive":         sshdRuser,
			"sshd-journal:133":                 sshdRuser,
			"sshd-journal:133 mode=aggressive": sshdRuser,
			"sshd-journal:136":                 sshdRuser,
			"sshd-journal:136 mode=aggressive": sshdRuser,
			"sshd-journal:138":                 sshdRuser,
			"sshd-journal:138 mode=aggressive": sshdRuser,
			"sshd:144":                         sshdPasswordInfo,
			"sshd:144 mode=aggressive":         sshdPasswordInfo,
			"sshd-journal:145":                 sshdPasswordInfo,
			"sshd-journal:145 mode=aggressive": sshdPasswordInfo,
		},
	})
}
