package defaults_test

// ngxAuthColonUser is why gaol takes another address than fail2ban from
// fail2ban's nginx-http-auth injection sample.
const ngxAuthColonUser = "a line nginx cannot write: its \"user name\" holds colons, " +
	"and nginx cuts the user name at the first colon of the credentials. Read as nginx " +
	"writes lines, the user is \"test\" and the client 127.0.0.1, which gaol takes; the " +
	"text after that client field (request, host, referrer) is the client's, and taking " +
	"a later \"client:\" would let a referrer choose the banned address " +
	"(testdata/filters/nginx-http-auth.log, injection cases)"

// The web family's comparisons with fail2ban's samples. Not compared here:
//   - apache-botsearch: fail2ban counts every missing web-root path that
//     starts with "mail" or "pma"; TestWebProbesOnApacheBotsearch runs
//     web-probes over it with the differences listed and no minimum rate.
//   - apache-noscript: it counts any missing script (.php, .asp, .exe, .pl),
//     which a site's own broken links produce; web-probes counts only paths
//     no visitor asks for.
//   - apache-nohome (~user directories), apache-pass (a port-knocking URL),
//     apache-shellshock, apache-badbots and apache-fakegooglebot (user
//     agents), apache-modsecurity, php-url-fopen: gaol has no filter for
//     these.
func init() {
	comparisons = append(comparisons,
		comparison{
			ours:   "nginx-http-auth",
			theirs: []string{"nginx-http-auth"},
			// fail2ban's "auth" mode is its "normal"; its "fallback"
			// (TLS handshakes of clients that do not speak TLS) and
			// "aggressive" (both) are within our aggressive mode.
			spec: func(opts map[string]string) (string, bool) {
				switch opts["mode"] {
				case "fallback", "aggressive":
					return "nginx-http-auth[mode=aggressive]", true
				}
				return "nginx-http-auth", true
			},
			known: map[string]string{},
			disputed: map[string]string{
				"nginx-http-auth:14 mode=normal": ngxAuthColonUser,
				"nginx-http-auth:14 mode=auth":   ngxAuthColonUser,
			},
		},
		comparison{
			ours:   "nginx-limit-req",
			theirs: []string{"nginx-limit-req"},
			spec:   defaultSpec("nginx-limit-req"),
			known:  map[string]string{},
		},
		comparison{
			ours:   "nginx-bad-request",
			theirs: []string{"nginx-bad-request"},
			// fail2ban's filter counts every request answered 400, empty
			// ones included, which gaol counts only in its aggressive
			// mode. TestNginxBadRequestNormalOnFail2banSamples checks our
			// normal mode on the same lines.
			spec:  defaultSpec("nginx-bad-request[mode=aggressive]"),
			known: map[string]string{},
		},
		comparison{
			ours:   "apache-auth",
			theirs: []string{"apache-auth"},
			// fail2ban's normal mode counts "client denied by server
			// configuration" and TLS virtual host mismatches, which gaol
			// counts only in its aggressive mode: like is compared with
			// like. TestApacheAuthNormalOnFail2banSamples checks our
			// normal mode on the same lines.
			spec: defaultSpec("apache-auth[mode=aggressive]"),
			known: map[string]string{
				"apache-auth:143 mode=aggressive": "mod_evasive's refusal ([evasive20:error]) is rate limiting, not authentication: gaol's apache-limit filter counts it (category rate-limit)",
			},
		},
		comparison{
			ours:   "web-probes",
			theirs: []string{"nginx-botsearch"},
			spec:   defaultSpec("web-probes"),
			known:  map[string]string{},
		},
		comparison{
			// fail2ban's apache-overflows reads the error log's messages
			// about malformed requests.
			ours:   "apache-bad-request",
			theirs: []string{"apache-overflows"},
			spec:   defaultSpec("apache-bad-request"),
			known:  map[string]string{},
		},
	)
}
