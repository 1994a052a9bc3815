package pyre

import "testing"

// benchCases are expressions of the shapes fail2ban filters have, each on
// a line it is searched in: a prefregex (a long run of optional parts
// before the content), a failregex with a conditional group and an address,
// and a search that fails.
var benchCases = []struct{ name, expr, line string }{
	{
		"prefix",
		`^(?P<mlfid>(?:\[\])?\s*(?:<[^.]+\.[^.]+>\s+)?(?:\S+\s+)?(?:kernel:\s?\[ *\d+\.\d+\]:?\s+)?(?:@vserver_\S+\s+)?(?:(?:(?:\[\d+\])?:\s+[\[\(]?sshd(?:\(\S+\))?[\]\)]?:?|[\[\(]?sshd(?:\(\S+\))?[\]\)]?:?(?:\[\d+\])?:?)\s+)?(?:\[ID \d+ \S+\]\s+)?)(?:(?:error|fatal): (?:PAM: )?)?(?P<content>.+)$`,
		"web1 sshd[2001]: Failed password for invalid user admin from 2001:db8:3:a::300a port 18965 ssh2\n",
	},
	{
		"failed",
		`^Failed (?:(?P<nofail>publickey)|\S+) for (?P<cond_inv>invalid user )?(?P<user>(?P<cond_user>\S+)|(?(cond_inv)(?:(?! from ).)*?|[^:]+)) from (?:\[?(?:(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})|(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:)))\]?|(?P<dns>[\w\-.^_]*\w))(?: (?:port \d+|on \S+)){0,2}(?: ssh\d*)?(?(cond_user): |(?:(?:(?! from ).)*)$)`,
		"Failed password for invalid user admin from 2001:db8:3:a::300a port 18965 ssh2\n",
	},
	{
		"miss",
		`(?:error: )?Received disconnect from (?P<host>\S+)(?: port \d+)?:\s*11: (?:Bye|disconnected)`,
		"pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n",
	},
}

// BenchmarkFind measures searches of the fast matcher.
func BenchmarkFind(b *testing.B) {
	for _, c := range benchCases {
		re := MustCompile(c.expr, Options{})
		if re.fast == nil {
			b.Fatalf("%s: no fast program", c.name)
		}
		b.Run(c.name, func(b *testing.B) {
			m := NewMachine()
			for b.Loop() {
				re.FindNoLiteral(m, c.line)
			}
		})
	}
}
