package defaults_test

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/match"
	"github.com/gaol-project/gaol/internal/match/pyre"
	"github.com/gaol-project/gaol/internal/testutil/f2btree"
)

// webFilters are the web family's filters, with each of their modes.
var webFilters = []string{
	"nginx-http-auth", "nginx-http-auth[mode=aggressive]",
	"nginx-limit-req", "nginx-limit-req[mode=requests]", "nginx-limit-req[mode=connections]",
	"nginx-bad-request", "nginx-bad-request[mode=aggressive]",
	"apache-auth", "apache-auth[mode=aggressive]",
	"apache-bad-request", "apache-bad-request[mode=aggressive]",
	"apache-limit",
	"web-probes", "web-probes[mode=wordpress]",
	"wordpress", "wordpress[mode=login]", "wordpress[mode=xmlrpc]",
}

// TestWebFiltersRE2 checks that every expression of the web filters runs
// on RE2 (linear time whatever the line).
func TestWebFiltersRE2(t *testing.T) {
	for _, spec := range webFilters {
		f := compileFilter(t, spec)
		for _, e := range f.Exprs() {
			if e.Engine != pyre.RE2 {
				t.Errorf("%s: %s #%d needs %s: %s", spec, e.Kind, e.Index, e.Engine, e.Source)
			}
		}
		if !f.RE2() {
			t.Errorf("%s: not entirely RE2", spec)
		}
	}
}

// f2bCheck runs filter spec over one of fail2ban's sample logs (every
// section, whatever its options) and compares with fail2ban's
// annotations: every difference must be in known (by "SAMPLE:LINE"),
// and every known difference must occur. Unlike TestFail2banSamples it
// sets no minimum rate: it is for samples of fail2ban filters that count
// more than gaol's do by design.
func f2bCheck(t *testing.T, spec, sample string, known map[string]string) (theirTrue, caught int) {
	t.Helper()
	tree := f2btree.Get(t)
	seen := map[string]bool{}
	for _, sec := range readF2BSamples(t, filepath.Join(tree.Logs(), sample)) {
		m := sampleMatcher(t, spec)
		for _, l := range sec.lines {
			_, fs := m.MatchRaw(l.text)
			if l.c == nil {
				continue
			}
			hosts := failureHosts(fs)
			id := fmt.Sprintf("%s:%d", sample, l.n)
			var diff string
			switch {
			case l.c.match:
				a, err := netip.ParseAddr(l.c.host)
				if err != nil {
					continue
				}
				theirTrue++
				if len(hosts) > 0 && hosts[0] == a.Unmap().String() {
					caught++
				} else {
					diff = fmt.Sprintf("missed %s (got %v)", l.c.host, hosts)
				}
			case len(hosts) > 0:
				diff = fmt.Sprintf("false match %v", hosts)
			}
			if diff == "" {
				continue
			}
			seen[id] = true
			if _, ok := known[id]; !ok {
				t.Errorf("%s on %s: unlisted difference %s: %s\n\t%s", spec, sample, id, diff, l.text)
			}
		}
	}
	var stale []string
	for id := range known {
		if !seen[id] {
			stale = append(stale, id)
		}
	}
	sort.Strings(stale)
	for _, id := range stale {
		t.Errorf("%s on %s: known difference %q no longer occurs: remove it", spec, sample, id)
	}
	t.Logf("%s on fail2ban's %s: caught %d of %d failure lines", spec, sample, caught, theirTrue)
	return theirTrue, caught
}

// TestWebProbesOnApacheBotsearch runs web-probes over fail2ban's
// apache-botsearch samples. fail2ban's filter counts every missing path at
// the web root that starts with "mail" (its webmail list is
// "(ext)?mail"), and "pma" as a prefix; gaol counts webmail packages by
// their directory names only, so the comparison has no minimum rate.
func TestWebProbesOnApacheBotsearch(t *testing.T) {
	generic := "a missing path named by a common word (fail2ban counts any web-root path starting with \"mail\"): " +
		"a site's own broken link can look the same, so gaol does not count it"
	f2bCheck(t, "web-probes", "apache-botsearch", map[string]string{
		"apache-botsearch:11": generic,
		"apache-botsearch:17": generic,
		"apache-botsearch:19": generic,
		"apache-botsearch:33": generic,
		"apache-botsearch:21": "p.mapper, a map server, is not phpMyAdmin (fail2ban takes any path starting with \"pma\")",
		"apache-botsearch:43": "a request for .htaccess, which gaol counts (web-probe:credentials): no visitor asks for it; " +
			"fail2ban's apache-botsearch does not read \"client denied\" lines",
	})
}

// TestApacheAuthNormalOnFail2banSamples runs apache-auth's normal mode
// over fail2ban's apache-auth samples (TestFail2banSamples compares our
// aggressive mode, which counts what fail2ban's normal mode counts): the
// only lines it does not count are refusals by configuration, TLS virtual
// host mismatches and mod_evasive's refusals.
func TestApacheAuthNormalOnFail2banSamples(t *testing.T) {
	denied := "client denied by server configuration: not an authentication failure; apache-auth[mode=aggressive] counts it (http-denied)"
	sni := "TLS virtual host mismatch: not an authentication failure; apache-auth[mode=aggressive] counts it (http-protocol)"
	f2bCheck(t, "apache-auth", "apache-auth", map[string]string{
		"apache-auth:19":  denied,
		"apache-auth:22":  denied,
		"apache-auth:25":  denied,
		"apache-auth:148": denied,
		"apache-auth:150": denied,
		"apache-auth:152": denied,
		"apache-auth:129": sni,
		"apache-auth:132": sni,
		"apache-auth:135": sni,
		"apache-auth:143": "mod_evasive's refusal: rate limiting, counted by apache-limit",
	})
}

// webLineTemplate is a log line of one web server format with the fields
// a client controls left open, and the filters that read that format.
type webLineTemplate struct {
	name    string
	filters []string
	// line builds the line from the client's fields, written as the
	// server writes them.
	line func(f webFields) string
}

// webFields are the texts a client chooses: its user name (Basic
// Authorization), request method and target, host, referrer, user agent.
type webFields struct {
	user, method, target, host, ref, ua string
	status                              string
}

// webClient is the address of the client in every fuzzed line; any
// failure must be of this address.
const webClient = "203.0.113.5"

// escapeNginx writes s as nginx writes a variable in an access log:
// '"', '\' and bytes outside 0x20-0x7e as \xHH.
func escapeNginx(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
			fmt.Fprintf(&b, `\x%02X`, c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// escapeApache writes s as Apache's ap_escape_logitem: '"' and '\' with
// a backslash, control bytes and bytes above 0x7e as \xhh.
func escapeApache(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// keep returns s without the bytes drop rejects (a server refuses them or
// never writes them in that field).
func keep(s string, drop func(byte) bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if !drop(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func nonPrintable(c byte) bool   { return c < 0x20 || c > 0x7e }
func spaceOrControl(c byte) bool { return c <= 0x20 || c > 0x7e }

// webTemplates are the formats whose injection safety FuzzWebInjection
// checks. Each writes the client's fields within the limits the server
// sets for them (modern nginx: no spaces in the request target or the
// host; an auth_basic user name never holds a colon).
var webTemplates = []webLineTemplate{
	{"nginx access", []string{"web-probes", "web-probes[mode=wordpress]", "wordpress", "nginx-bad-request", "nginx-bad-request[mode=aggressive]"}, func(f webFields) string {
		return fmt.Sprintf(`%s - %s [22/Nov/2026:10:00:00 +0000] "%s %s HTTP/1.1" %s 153 "%s" "%s"`, webClient,
			escapeNginx(f.user), escapeNginx(f.method), escapeNginx(f.target), f.status, escapeNginx(f.ref), escapeNginx(f.ua))
	}},
	{"apache access", []string{"web-probes", "wordpress", "apache-bad-request", "apache-bad-request[mode=aggressive]"}, func(f webFields) string {
		return fmt.Sprintf(`www.example.com:443 %s - %s [22/Nov/2026:10:00:00 +0000] "%s" %s 437 "%s" "%s"`, webClient,
			escapeApache(f.user), escapeApache(f.method+" "+f.target+" HTTP/1.1"), f.status, escapeApache(f.ref), escapeApache(f.ua))
	}},
	{"nginx auth_basic", []string{"nginx-http-auth", "nginx-http-auth[mode=aggressive]"}, func(f webFields) string {
		return fmt.Sprintf(`2026/11/22 10:00:00 [error] 2211#2211: *41 user "%s": password mismatch, client: %s, server: www.example.com, request: "%s %s HTTP/1.1", host: "%s", referrer: "%s"`,
			keep(f.user, func(c byte) bool { return c == ':' || nonPrintable(c) }), webClient,
			keep(f.method, spaceOrControl), keep(f.target, spaceOrControl), keep(f.host, spaceOrControl), keep(f.ref, nonPrintable))
	}},
	{"nginx limit_req", []string{"nginx-limit-req"}, func(f webFields) string {
		return fmt.Sprintf(`2026/11/22 10:00:00 [error] 2211#2211: *41 limiting requests, excess: 5.120 by zone "login", client: %s, server: www.example.com, request: "%s %s HTTP/1.1", host: "%s", referrer: "%s"`,
			webClient, keep(f.method, spaceOrControl), keep(f.target, spaceOrControl), keep(f.host, spaceOrControl), keep(f.ref, nonPrintable))
	}},
	{"nginx open() failed", []string{"web-probes", "web-probes[mode=wordpress]", "nginx-bad-request"}, func(f webFields) string {
		// The file path is the decoded target: any printable text.
		return fmt.Sprintf(`2026/11/22 10:00:00 [error] 2211#2211: *41 open() "/var/www/html%s" failed (2: No such file or directory), client: %s, server: www.example.com, request: "%s %s HTTP/1.1", host: "%s", referrer: "%s"`,
			keep(f.user, nonPrintable), webClient, keep(f.method, spaceOrControl), keep(f.target, spaceOrControl), keep(f.host, spaceOrControl), keep(f.ref, nonPrintable))
	}},
	{"apache auth", []string{"apache-auth", "apache-auth[mode=aggressive]", "apache-bad-request", "apache-limit", "web-probes"}, func(f webFields) string {
		return fmt.Sprintf(`[Sun Nov 22 10:00:00.123456 2026] [auth_basic:error] [pid 4121:tid 4133] [client %s:51234] AH01617: user %s: authentication failure for "%s": Password Mismatch, referer: %s`,
			webClient, keep(f.user, nonPrintable), keep(f.target, nonPrintable), keep(f.ref, nonPrintable))
	}},
	{"apache file", []string{"web-probes", "web-probes[mode=wordpress]", "apache-auth[mode=aggressive]", "apache-bad-request"}, func(f webFields) string {
		return fmt.Sprintf(`[Sun Nov 22 10:00:00.123456 2026] [core:info] [pid 4121:tid 4133] [client %s:51234] AH00128: File does not exist: /var/www/html%s, referer: %s`,
			webClient, keep(f.target, nonPrintable), keep(f.ref, nonPrintable))
	}},
}

// FuzzWebInjection writes what a client controls (user name, request,
// host, referrer, user agent) into the web servers' log formats, as the
// servers write it, and checks that no web filter takes another address
// than the client's from the line.
func FuzzWebInjection(f *testing.F) {
	for _, seed := range []string{
		"x\x00GET\x00/.env\x00h\x00-\x00Mozilla/5.0",
		"198.51.100.9 - - [] \"GET /.env HTTP/1.1\" 404\x00POST\x00/wp-login.php\x00h\x00x\" 198.51.100.9 - - [] \"GET /.git/config HTTP/1.1\" 404\x00ua",
		"a\": password mismatch, client: 198.51.100.9, server: x\x00GET\x00/x\",client:198.51.100.9\x00h\x00x\": password mismatch, client: 198.51.100.9, server: s, request: \"GET / HTTP/1.1\", host: \"h\x00ua",
		"/.env\" failed (2: No such file or directory), client: 198.51.100.9, server: x, request: \"GET /.env HTTP/1.1\", host: \"x/.env\x00GET\x00/.env\x00h\x00r\" failed (2: No such file or directory), client: 198.51.100.9, server: s, request: \"GET /.env HTTP/1.1\", host: \"h\x00ua",
		"[client 198.51.100.9] user root\x00GET\x00/[client 198.51.100.9:1] AH01618: user x not found\x00h\x00[client 198.51.100.9:2] client denied by server configuration: /\x00ua",
		"[01/Jan/2020:00:00:00 +0000]\x00\\x16\\x03\x00/\x00h\x00-\x00-",
		"limiting requests, excess: 1.0 by zone \"login\", client: 198.51.100.9, server: x\x00GET\x00/\x00h\x00limiting requests, excess: 1.0 by zone \"login\", client: 198.51.100.9\x00ua",
		"/.env\x00GET\x00/.env\x00www.example.com\x00https://www.example.com/\x00ua",
	} {
		f.Add(seed, "404")
	}
	f.Add("-\x00POST\x00/blog/wp-login.php\x00h\x00\" 198.51.100.9 - - [] \"POST /wp-login.php HTTP/1.1\" 200\x00ua", "200")
	f.Add("-\x00\x16\x03\x01\x00\x00h\x00-\x00-", "400")
	// One matcher per filter, reused: each fuzzing process calls the
	// target sequentially, and the filters are single-line.
	matchers := map[string]*match.Matcher{}
	for _, tpl := range webTemplates {
		for _, spec := range tpl.filters {
			if matchers[spec] != nil {
				continue
			}
			m, err := compileFilter(f, spec).NewMatcher(match.MatcherOptions{Now: func() time.Time { return defaultNow }, Location: time.UTC})
			if err != nil {
				f.Fatal(err)
			}
			matchers[spec] = m
		}
	}
	want := netip.MustParseAddr(webClient)
	f.Fuzz(func(t *testing.T, fields, status string) {
		parts := strings.SplitN(fields, "\x00", 6)
		for len(parts) < 6 {
			parts = append(parts, "")
		}
		if len(status) != 3 || strings.Trim(status, "0123456789") != "" {
			status = "404"
		}
		wf := webFields{user: parts[0], method: parts[1], target: parts[2], host: parts[3], ref: parts[4], ua: parts[5], status: status}
		for _, tpl := range webTemplates {
			line := tpl.line(wf)
			if strings.ContainsAny(line, "\n\r") {
				continue
			}
			for _, spec := range tpl.filters {
				_, fs := matchers[spec].MatchRaw(line)
				for _, fl := range fs {
					if fl.Addr.IsValid() && fl.Addr != want {
						t.Errorf("%s (%s): took %s, not the client %s\n\t%s", spec, tpl.name, fl.Addr, webClient, line)
					}
				}
			}
		}
	})
}

// TestNginxBadRequestNormalOnFail2banSamples runs nginx-bad-request's
// normal mode over fail2ban's nginx-bad-request samples
// (TestFail2banSamples compares our aggressive mode, which counts every
// 400 as fail2ban's filter does): it leaves out empty requests and
// well-formed requests answered 400.
func TestNginxBadRequestNormalOnFail2banSamples(t *testing.T) {
	empty := "an empty request: Chrome's unused preconnected connections look the same; counted in aggressive mode"
	wellFormed := "a well-formed request answered 400, as applications answer their users; counted in aggressive mode " +
		"(and by web-probes, for this path)"
	f2bCheck(t, "nginx-bad-request", "nginx-bad-request", map[string]string{
		"nginx-bad-request:2":  empty,
		"nginx-bad-request:5":  empty,
		"nginx-bad-request:11": wellFormed,
		"nginx-bad-request:23": wellFormed,
	})
	// The well-formed ones are probes web-probes counts.
	f2bCheck(t, "web-probes", "nginx-bad-request", map[string]string{
		"nginx-bad-request:2":  "not a probe: an empty request (nginx-bad-request's)",
		"nginx-bad-request:5":  "not a probe: an empty request (nginx-bad-request's)",
		"nginx-bad-request:8":  "not a probe: RDP sent to the HTTP port (nginx-bad-request's)",
		"nginx-bad-request:14": "not a probe: a word that is not HTTP (nginx-bad-request's)",
		"nginx-bad-request:17": "not a probe: a word that is not HTTP (nginx-bad-request's)",
		"nginx-bad-request:20": "not a probe: a CONNECT request (nginx-bad-request's)",
	})
}
