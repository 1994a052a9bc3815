package defaults_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/gaol-project/gaol/internal/match"
)

// mailModes are the filter specs of the mail family, every mode.
var mailModes = []string{
	"postfix", "postfix[mode=auth]", "postfix[mode=more]", "postfix[mode=rbl]",
	"postfix[mode=ddos]", "postfix[mode=errors]", "postfix[mode=extra]", "postfix[mode=aggressive]",
	"dovecot", "dovecot[mode=login]", "dovecot[mode=aggressive]",
}

// TestMailFiltersRE2 checks that every mode of the mail filters runs on
// Go's regexp alone, and that every failregex names a category.
func TestMailFiltersRE2(t *testing.T) {
	for _, spec := range mailModes {
		f := compileFilter(t, spec)
		if !f.RE2() {
			for _, e := range f.Exprs() {
				t.Logf("%s: %v %s", spec, e.Engine, e.Source)
			}
			t.Errorf("%s: not entirely RE2", spec)
		}
		for _, e := range f.Exprs() {
			if e.Kind == "failregex" && e.Category == "" {
				t.Errorf("%s: failregex without a category: %s", spec, e.Source)
			}
		}
	}
}

// The injection templates: log lines (without their timestamp) of the mail
// filters' kinds, where {U} and {P} stand for text the client chooses (a
// user name, a HELO name, a command, a password) and {A} for the local
// part of an envelope address (which Postfix writes quoted when it holds
// special characters, as RFC 5321 wants), and the client is 203.0.113.50.
// Whatever that text is, a failure may only be of the client; lines marked
// none give no failure at all.
type injectionTemplate struct {
	spec string // the most inclusive mode that reads the line
	line string
	none bool // no failure whatever the text
}

const (
	injectClient = "203.0.113.50"
	injectDecoy  = "198.51.100.9"
)

var injectionTemplates = []injectionTemplate{
	{spec: "postfix[mode=aggressive]", line: "mx1 postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[203.0.113.50]: 554 5.7.1 <{A}@example.net>: Relay access denied; from=<{A}@example.org> to=<{A}@example.net> proto=ESMTP helo=<{U}>"},
	{spec: "postfix[mode=aggressive]", line: "mx1 postfix/submission/smtpd[1]: warning: unknown[203.0.113.50]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username={U}"},
	{spec: "postfix[mode=aggressive]", line: "mx1 postfix/smtpd[1]: warning: non-SMTP command from unknown[203.0.113.50]: {U}"},
	{spec: "postfix[mode=aggressive]", line: "mx1 postfix/smtpd[1]: improper command pipelining after CONNECT from unknown[203.0.113.50]: {U}"},
	{spec: "postfix[mode=aggressive]", line: "mx1 postfix/postscreen[1]: PREGREET 20 after 0.1 from [203.0.113.50]:4000: {U}"},
	{spec: "postfix[mode=aggressive]", line: "mx1 postfix/postscreen[1]: NON-SMTP COMMAND from [203.0.113.50]:4000 after CONNECT: {U}"},
	{spec: "postfix[mode=aggressive]", line: "mx1 postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[203.0.113.50]: 450 4.7.1 <{U}>: Helo command rejected: Host not found; from=<{A}@example.org> to=<bob@example.com> proto=ESMTP helo=<{U}>"},
	{spec: "postfix[mode=aggressive]", line: "mx1 postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[203.0.113.50]: 550 5.1.1 <{A}@example.com>: Recipient address rejected: User unknown in virtual mailbox table; from=<{A}@example.org> to=<{A}@example.com> proto=ESMTP helo=<{U}>"},
	{spec: "postfix[mode=aggressive]", line: "mx1 postfix/postscreen[1]: NOQUEUE: reject: RCPT from [203.0.113.50]:4000: 550 5.7.1 Service unavailable; client [203.0.113.50] blocked using zen.example.org; from=<{A}@example.org>, to=<{A}@example.com>, proto=ESMTP, helo=<{U}>"},
	{spec: "postfix[mode=aggressive]", line: "mx1 postfix/smtpd[1]: 4XJ2tZ0Bn3z9sX1: client=mail.example.org[192.0.2.25], sasl_method=PLAIN, sasl_username={U}", none: true},
	{spec: "postfix[mode=aggressive]", line: "mx1 postfix/cleanup[1]: 4XJ2tZ0Bn3z9sX1: warning: header Subject: {U} from mail.example.org[192.0.2.25]; from=<{A}@example.org> to=<bob@example.com> proto=ESMTP helo=<{U}>", none: true},
	// A legitimate relay's ordinary rejection: counted in mode more, never
	// as a relay attempt in normal mode.
	{spec: "postfix", line: "mx1 postfix/smtpd[1]: NOQUEUE: reject: RCPT from mail.example.org[192.0.2.25]: 554 5.7.1 <{A}@example.com>: Recipient address rejected: Access denied; from=<a@example.org> to=<{A}@example.com> proto=ESMTP helo=<mail.example.org>", none: true},

	{spec: "dovecot[mode=aggressive]", line: "mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<{U}>, method=PLAIN, rip=203.0.113.50, lip=198.51.100.1, TLS, session=<kJ3vCqH6P2dAwAIo>"},
	{spec: "dovecot[mode=aggressive]", line: "mx1 dovecot[1]: imap-login: Login aborted: Connection closed (auth failed, 1 attempts in 2 secs) (auth_failed): user=<{U}>, method=PLAIN, rip=203.0.113.50, lip=198.51.100.1, TLS, session=<kJ3vCqH6P2dAwAIo>"},
	{spec: "dovecot[mode=aggressive]", line: "mx1 dovecot: pop3-login: Aborted login (tried to use disallowed plaintext auth): user=<{U}>, rip=203.0.113.50, lip=198.51.100.1, session=<kJ3vCqH6P2dAwAIo>"},
	{spec: "dovecot[mode=aggressive]", line: "mx1 dovecot: imap-login: Disconnected (client didn't finish SASL auth, waited 2 secs): user=<{U}>, method=PLAIN, rip=203.0.113.50, lip=198.51.100.1, TLS"},
	{spec: "dovecot[mode=aggressive]", line: "mx1 dovecot: auth: passwd-file({U},203.0.113.50,<kJ3vCqH6P2dAwAIo>): unknown user"},
	{spec: "dovecot[mode=aggressive]", line: "mx1 dovecot: auth-worker(1): pam({U},203.0.113.50): pam_authenticate() failed: Authentication failure (password mismatch?)"},
	{spec: "dovecot[mode=aggressive]", line: "mx1 dovecot: auth: ldap({U},203.0.113.50,<kJ3vCqH6P2dAwAIo>): Password mismatch (for LDAP bind) (SHA1 of given password: 5baa61)"},
	{spec: "dovecot[mode=aggressive]", line: "auth({U},203.0.113.50,sasl:login)<kJ3vCqH6P2dAwAIo>: Info: sql: Password mismatch"},
	{spec: "dovecot[mode=aggressive]", line: "auth-worker({U},203.0.113.50)<1302><kJ3vCqH6P2dAwAIo>: request [12]: Info: sql: unknown user"},
	{spec: "dovecot[mode=aggressive]", line: "auth({U},203.0.113.50,sasl:login)<kJ3vCqH6P2dAwAIo>: Info: sql: Password mismatch (given password: {P})"},
	{spec: "dovecot[mode=aggressive]", line: "mx1 dovecot: auth: passwd-file({U},203.0.113.50,<kJ3vCqH6P2dAwAIo>): Password mismatch (given password: {P})"},
	{spec: "dovecot[mode=aggressive]", line: "mx1 dovecot: auth-worker(1): pam({U},203.0.113.50): pam_authenticate() failed: Authentication failure (password mismatch?) (given password: {P})"},
	{spec: "dovecot[mode=aggressive]", line: "mx1 auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser={U} rhost=203.0.113.50  user={U}"},
	{spec: "dovecot[mode=aggressive]", line: "mx1 dovecot: imap-login: Login: user=<{U}>, method=PLAIN, rip=192.0.2.40, lip=198.51.100.1, mpid=1, TLS, session=<kJ3vCqH6P2dAwAIo>", none: true},
	// A temporary failure of the auth service is never counted, whatever
	// the user name pretends.
	{spec: "dovecot[mode=aggressive]", line: "mx1 dovecot: imap-login: Disconnected: Connection closed (auth service reported temporary failure, 1 attempts in 5 secs): user=<{U}>, method=PLAIN, rip=192.0.2.42, lip=198.51.100.1, TLS, session=<kJ3vCqH6P2dAwAIo>", none: true},
}

// render fills a template in.
func (it injectionTemplate) render(u, p string) string {
	return strings.NewReplacer("{U}", u, "{P}", p, "{A}", localPart(u)).Replace(it.line)
}

// localPart returns s as Postfix logs the local part of an address: as it
// is if it is a dot-atom, else quoted with " and \ escaped.
func localPart(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t<>()[]\\,;:@\"") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// injectionPayloads returns the text an attacker would try: pieces of
// every template's line as it would look for the decoy address, cut at
// every field boundary (what comes before a point, and what comes after
// it), so that each piece imitates part of the structure around an
// address.
func injectionPayloads() (prefixes, suffixes []string) {
	seen := map[string]bool{}
	add := func(list *[]string, s string) {
		if !seen[s] {
			seen[s] = true
			*list = append(*list, s)
		}
	}
	for _, it := range injectionTemplates {
		l := strings.ReplaceAll(it.render("x", "y"), injectClient, injectDecoy)
		l = strings.ReplaceAll(l, "192.0.2.", "198.51.100.")
		for i := 1; i < len(l); i++ {
			if strings.IndexByte(" ,:;<>()[]=", l[i-1]) >= 0 {
				add(&suffixes, l[i:])
				add(&prefixes, l[:i])
			}
		}
	}
	return prefixes, suffixes
}

// checkInjection runs one rendered line through filter f.
func checkInjection(t testing.TB, f *match.Filter, it injectionTemplate, line string) {
	t.Helper()
	r := f.Match(match.Prepare(line, nil))
	if !r.Matched {
		return
	}
	if it.none {
		t.Errorf("%s: failure of %s from a line that has none\n\t%s", it.spec, r.Addr, line)
		return
	}
	if r.Addr != netip.MustParseAddr(injectClient) {
		t.Errorf("%s: took %s, not the client %s\n\t%s", it.spec, r.Addr, injectClient, line)
	}
}

// TestMailInjection feeds every template pieces of the others' structure
// as the client's text: the client's address is the only one ever taken.
func TestMailInjection(t *testing.T) {
	prefixes, suffixes := injectionPayloads()
	filters := map[string]*match.Filter{}
	for _, it := range injectionTemplates {
		f := filters[it.spec]
		if f == nil {
			f = compileFilter(t, it.spec)
			filters[it.spec] = f
		}
		// The template itself must give its failure.
		plain := f.Match(match.Prepare(it.render("x", "y"), nil))
		switch {
		case it.none && plain.Matched:
			t.Errorf("%s: a failure from %q", it.spec, it.line)
		case !it.none && !strings.Contains(it.line, "{P}") && (!plain.Matched || plain.Addr != netip.MustParseAddr(injectClient)):
			t.Errorf("%s: no failure of the client from %q", it.spec, it.line)
		}
		for _, s := range suffixes {
			checkInjection(t, f, it, it.render(s, "y"))
			checkInjection(t, f, it, it.render("x", s))
		}
		for _, s := range prefixes {
			checkInjection(t, f, it, it.render(s, "y"))
		}
		if strings.Contains(it.line, "{P}") {
			// The user name starts an imitation, the password ends it.
			for _, pre := range prefixes {
				for _, suf := range suffixes {
					if strings.HasPrefix(suf, "Password") || strings.HasPrefix(suf, "pam_") || strings.HasPrefix(suf, "sql") || strings.HasPrefix(suf, injectDecoy) {
						checkInjection(t, f, it, it.render(pre, suf))
					}
				}
			}
		}
	}
}

// FuzzMailInjection: whatever text the client chooses, a mail filter takes
// no address but the client's.
func FuzzMailInjection(f *testing.F) {
	f.Add("x>, rip=198.51.100.9, lip=", "y")
	f.Add("x,198.51.100.9,<a>", ",198.51.100.9,sasl:login)<abc>: sql: Password mismatch (given password: z")
	f.Add("a[198.51.100.9]", "from unknown[198.51.100.9]: 554 5.7.1")
	f.Add(`"x>: Relay access denied; "`, "y")
	filters := map[string]*match.Filter{}
	for _, it := range injectionTemplates {
		if filters[it.spec] == nil {
			filters[it.spec] = compileFilter(f, it.spec)
		}
	}
	f.Fuzz(func(t *testing.T, u, p string) {
		if strings.ContainsAny(u+p, "\n\r") {
			return // one log line
		}
		for _, it := range injectionTemplates {
			checkInjection(t, filters[it.spec], it, it.render(u, p))
		}
	})
}
