package ignore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults of a Command's options.
const (
	DefaultCommandTimeout = 10 * time.Second
	DefaultCacheTTL       = 5 * time.Minute
	DefaultCacheSize      = 10000
	DefaultMaxRunning     = 4
	// errorTTL caps how long a failed run (exit status other than 0 and 1,
	// timeout) is remembered as "not ignored".
	errorTTL = time.Minute
	// maxOutput is how much of the command's output an error quotes.
	maxOutput = 512
)

// ReverseResolver looks up the names of an address, for the <ip-host> tag;
// *net.Resolver satisfies it.
type ReverseResolver interface {
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// CommandConfig configures a Command.
type CommandConfig struct {
	// Command is the ignorecommand: a /bin/sh script with tags. The tags are
	// fail2ban's: <ip>, <family> (inet4 or inet6), <ip-rev> (the reversed
	// address as in a PTR name, ending in "."), <ip-host> (its reverse DNS
	// name), <fq-hostname> and <sh-hostname> (this host's name), <br> and
	// <sp> (a new line and a space), <F-NAME> (a value captured by the filter,
	// empty when none was), and any other tag given to IgnoredTags. Unknown
	// tags are left as written, as fail2ban does.
	Command string
	// Timeout limits each run; on expiry the command's whole process group
	// is killed. Zero means DefaultCommandTimeout.
	Timeout time.Duration
	// CacheTTL is how long an answer is remembered. Zero means
	// DefaultCacheTTL; negative disables the cache.
	CacheTTL time.Duration
	// CacheSize bounds the number of cached answers (least recently used
	// ones go first). Zero means DefaultCacheSize.
	CacheSize int
	// CacheKey is the key answers are cached under, with tags as in Command
	// (fail2ban's ignorecache key, e.g. "<F-USER>@<ip>"). Empty means the
	// address together with the values of every other non-derived tag the
	// command uses, which is always correct.
	CacheKey string
	// MaxRunning bounds the runs at once. Zero means DefaultMaxRunning.
	MaxRunning int
	// Shell runs the command as Shell -c COMMAND. Empty means /bin/sh.
	Shell string
	// Env is the command's environment; nil means the daemon's.
	Env []string
	// Now is the clock of the cache; nil means time.Now.
	Now func() time.Time
	// Reverse resolves <ip-host>; nil means net.DefaultResolver.
	Reverse ReverseResolver
	// Hostname returns this host's name for <fq-hostname> and
	// <sh-hostname>; nil means os.Hostname.
	Hostname func() (string, error)
}

// Command runs fail2ban's ignorecommand to decide whether an address must not
// be banned: exit status 0 means ignore it, 1 means do not, anything else
// (or a timeout) is an error and the address is not ignored. Answers are
// cached per address, and concurrent checks of the same key share one run,
// so that a flood of failures runs the command once per address.
//
// Tag values never become shell code: a value made only of characters
// without meaning to the shell (as every address is) is written into the
// script as is, and any other is passed in an environment variable the
// script expands in double quotes. A Command is safe for concurrent use.
type Command struct {
	cfg     CommandConfig
	script  []piece
	key     []piece
	ttl     time.Duration
	timeout time.Duration
	sem     chan struct{}

	mu       sync.Mutex
	cache    *lru
	inflight map[string]*call
}

type call struct {
	done    chan struct{}
	ignored bool
	err     error
}

// quoting is the shell quoting context of a tag in the command.
type quoting int

const (
	unquoted quoting = iota
	singleQuoted
	doubleQuoted
)

// piece is a literal part of a command or a tag.
type piece struct {
	lit string
	tag string
	q   quoting
}

// NewCommand checks cfg and returns a Command.
func NewCommand(cfg CommandConfig) (*Command, error) {
	if strings.TrimSpace(cfg.Command) == "" {
		return nil, errors.New("ignorecommand is empty")
	}
	if strings.ContainsRune(cfg.Command, 0) {
		return nil, errors.New("ignorecommand contains a NUL byte")
	}
	c := &Command{
		cfg:      cfg,
		script:   parseTemplate(cfg.Command),
		ttl:      orDefault(cfg.CacheTTL, DefaultCacheTTL),
		timeout:  orDefault(cfg.Timeout, DefaultCommandTimeout),
		inflight: make(map[string]*call),
	}
	if cfg.CacheKey != "" {
		c.key = parseTemplate(cfg.CacheKey)
	}
	if cfg.CacheTTL < 0 {
		c.ttl = 0
	} else {
		size := cfg.CacheSize
		if size <= 0 {
			size = DefaultCacheSize
		}
		c.cache = newLRU(size)
	}
	n := cfg.MaxRunning
	if n <= 0 {
		n = DefaultMaxRunning
	}
	c.sem = make(chan struct{}, n)
	if c.cfg.Shell == "" {
		c.cfg.Shell = "/bin/sh"
	}
	if c.cfg.Now == nil {
		c.cfg.Now = time.Now
	}
	if c.cfg.Reverse == nil {
		c.cfg.Reverse = net.DefaultResolver
	}
	if c.cfg.Hostname == nil {
		c.cfg.Hostname = os.Hostname
	}
	return c, nil
}

// parseTemplate splits a command into literal text and tags, noting the
// shell quoting each tag stands in. Tags are <NAME> with NAME free of white
// space, quotes, '<', '>', '\\', '$' and '`'.
func parseTemplate(s string) []piece {
	var out []piece
	var lit strings.Builder
	q := unquoted
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '<' {
			if end := tagEnd(s, i+1); end > 0 {
				if lit.Len() > 0 {
					out = append(out, piece{lit: lit.String()})
					lit.Reset()
				}
				out = append(out, piece{tag: s[i+1 : end], q: q})
				i = end
				continue
			}
		}
		lit.WriteByte(c)
		switch q {
		case unquoted:
			switch c {
			case '\\':
				if i+1 < len(s) {
					i++
					lit.WriteByte(s[i])
				}
			case '\'':
				q = singleQuoted
			case '"':
				q = doubleQuoted
			}
		case singleQuoted:
			if c == '\'' {
				q = unquoted
			}
		case doubleQuoted:
			switch c {
			case '\\':
				if i+1 < len(s) {
					i++
					lit.WriteByte(s[i])
				}
			case '"':
				q = unquoted
			}
		}
	}
	if lit.Len() > 0 {
		out = append(out, piece{lit: lit.String()})
	}
	return out
}

// tagEnd returns the index of the '>' closing a tag name starting at i, or
// -1.
func tagEnd(s string, i int) int {
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '>':
			if j == i {
				return -1
			}
			return j
		case ' ', '\t', '\n', '\r', '<', '\'', '"', '\\', '$', '`':
			return -1
		}
	}
	return -1
}

// Ignored reports whether the command says addr must not be banned. A run
// that fails (exit status other than 0 and 1, a timeout, a command that
// cannot start) returns false and an error; that answer is cached for at
// most a minute, and later hits return false without the error.
func (c *Command) Ignored(ctx context.Context, addr netip.Addr) (bool, error) {
	return c.IgnoredTags(ctx, addr, nil)
}

// IgnoredTags is Ignored with further tag values, keyed by tag name as
// written in the command ("F-USER", "matches", ...).
func (c *Command) IgnoredTags(ctx context.Context, addr netip.Addr, tags map[string]string) (bool, error) {
	if !addr.IsValid() {
		return false, errors.New("ignorecommand: invalid address")
	}
	addr = addr.Unmap()
	v := &values{c: c, ctx: ctx, addr: addr, extra: tags}
	key := c.cacheKey(v)

	c.mu.Lock()
	if c.cache != nil {
		if ignored, ok := c.cache.get(key, c.cfg.Now()); ok {
			c.mu.Unlock()
			return ignored, nil
		}
	}
	if cl, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-cl.done:
			return cl.ignored, cl.err
		case <-ctx.Done():
			return false, fmt.Errorf("ignorecommand for %v: %w", addr, ctx.Err())
		}
	}
	cl := &call{done: make(chan struct{})}
	c.inflight[key] = cl
	c.mu.Unlock()

	cl.ignored, cl.err = c.run(ctx, v)

	c.mu.Lock()
	delete(c.inflight, key)
	if c.cache != nil && ctx.Err() == nil {
		ttl := c.ttl
		if cl.err != nil {
			ttl = min(ttl, errorTTL)
		}
		c.cache.put(key, cl.ignored, c.cfg.Now().Add(ttl))
	}
	c.mu.Unlock()
	close(cl.done)
	return cl.ignored, cl.err
}

// derivedTags are computed from the address or the host: they need not be
// part of a cache key.
var derivedTags = map[string]bool{
	"ip": true, "family": true, "ip-rev": true, "ip-host": true,
	"fq-hostname": true, "sh-hostname": true, "br": true, "sp": true,
}

func (c *Command) cacheKey(v *values) string {
	var b strings.Builder
	if c.key != nil {
		for _, p := range c.key {
			if p.tag == "" {
				b.WriteString(p.lit)
			} else if val, ok := v.get(p.tag); ok {
				b.WriteString(val)
			} else {
				b.WriteString("<" + p.tag + ">")
			}
		}
		return b.String()
	}
	b.WriteString(v.addr.String())
	var used []string
	for _, p := range c.script {
		if p.tag != "" && !derivedTags[p.tag] && !slices.Contains(used, p.tag) {
			used = append(used, p.tag)
		}
	}
	slices.Sort(used)
	for _, t := range used {
		val, _ := v.get(t)
		b.WriteString("\x00" + t + "=" + val)
	}
	return b.String()
}

// values computes tag values lazily (<ip-host> costs a DNS lookup).
type values struct {
	c     *Command
	ctx   context.Context
	addr  netip.Addr
	extra map[string]string
	host  *string
}

func (v *values) get(tag string) (string, bool) {
	switch tag {
	case "ip":
		return v.addr.String(), true
	case "family":
		if v.addr.Is4() {
			return "inet4", true
		}
		return "inet6", true
	case "ip-rev":
		return reverseName(v.addr), true
	case "ip-host":
		if v.host == nil {
			h := ""
			ctx, cancel := context.WithTimeout(v.ctx, DefaultLookupTimeout)
			names, err := v.c.cfg.Reverse.LookupAddr(ctx, v.addr.String())
			cancel()
			if err == nil && len(names) > 0 {
				h = strings.TrimSuffix(names[0], ".")
			}
			v.host = &h
		}
		return *v.host, true
	case "fq-hostname", "sh-hostname":
		h, err := v.c.cfg.Hostname()
		if err != nil {
			return "", true
		}
		if tag == "sh-hostname" {
			h, _, _ = strings.Cut(h, ".")
		}
		return h, true
	case "br":
		return "\n", true
	case "sp":
		return " ", true
	}
	if val, ok := v.extra[tag]; ok {
		return val, true
	}
	if strings.HasPrefix(tag, "F-") {
		return "", true
	}
	return "", false
}

// reverseName returns the address reversed as in its PTR name, without the
// in-addr.arpa/ip6.arpa suffix but with the final dot, as fail2ban's
// <ip-rev>: "5.113.0.203." for 203.0.113.5.
func reverseName(a netip.Addr) string {
	var b strings.Builder
	if a.Is4() {
		o := a.As4()
		for i := 3; i >= 0; i-- {
			b.WriteString(strconv.Itoa(int(o[i])))
			b.WriteByte('.')
		}
		return b.String()
	}
	const hex = "0123456789abcdef"
	o := a.As16()
	for i := 15; i >= 0; i-- {
		b.WriteByte(hex[o[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[o[i]>>4])
		b.WriteByte('.')
	}
	return b.String()
}

// Render returns the script and the extra environment the command runs with
// for addr and tags, without running it.
func (c *Command) Render(ctx context.Context, addr netip.Addr, tags map[string]string) (script string, env []string) {
	v := &values{c: c, ctx: ctx, addr: addr.Unmap(), extra: tags}
	return c.render(v)
}

func (c *Command) render(v *values) (string, []string) {
	var b strings.Builder
	var env []string
	vars := make(map[string]string) // tag -> variable
	usedVars := make(map[string]bool)
	for _, p := range c.script {
		if p.tag == "" {
			b.WriteString(p.lit)
			continue
		}
		val, ok := v.get(p.tag)
		switch {
		case !ok:
			b.WriteString("<" + p.tag + ">")
			continue
		case p.tag == "br" || p.tag == "sp" || shellSafe(val):
			// Constants, and values with no meaning to the shell.
			b.WriteString(val)
			continue
		}
		name, ok := vars[p.tag]
		if !ok {
			name = varName(p.tag, usedVars)
			vars[p.tag] = name
			usedVars[name] = true
			env = append(env, name+"="+val)
		}
		switch p.q {
		case unquoted:
			b.WriteString(`"${` + name + `}"`)
		case doubleQuoted:
			b.WriteString(`${` + name + `}`)
		case singleQuoted:
			b.WriteString(`'"${` + name + `}"'`)
		}
	}
	return b.String(), env
}

// shellSafe reports whether s can stand in a shell script as is, quoted or
// not: it is not empty, does not start with '-' or '~', and holds only
// letters, digits and . _ : / @ + , %.
func shellSafe(s string) bool {
	if s == "" || s[0] == '-' || s[0] == '~' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("._:/@+,%-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// varName returns the environment variable a tag's value is passed in:
// GAOL_TAG_ and the tag with every character other than a letter or digit
// replaced by '_', numbered if that name is taken.
func varName(tag string, used map[string]bool) string {
	var b strings.Builder
	b.WriteString("GAOL_TAG_")
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	name := b.String()
	for i := 2; used[name]; i++ {
		name = b.String() + "_" + strconv.Itoa(i)
	}
	return name
}

// run executes the command once.
func (c *Command) run(ctx context.Context, v *values) (bool, error) {
	select {
	case c.sem <- struct{}{}:
		defer func() { <-c.sem }()
	case <-ctx.Done():
		return false, fmt.Errorf("ignorecommand for %v: %w", v.addr, ctx.Err())
	}
	script, extraEnv := c.render(v)
	env := c.cfg.Env
	if env == nil {
		env = os.Environ()
	}
	env = append(slices.Clip(env), extraEnv...)

	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, c.cfg.Shell, "-c", script)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The process has not been waited for: its pid is still its group's.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = time.Second
	var out limitedBuffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()

	if ctx.Err() != nil {
		return false, fmt.Errorf("ignorecommand for %v: %w", v.addr, ctx.Err())
	}
	ps := cmd.ProcessState
	switch {
	case ps != nil && ps.Exited():
		switch code := ps.ExitCode(); code {
		case 0:
			return true, nil
		case 1:
			return false, nil
		default:
			return false, fmt.Errorf("ignorecommand for %v exited with status %d (want 0 to ignore the address or 1 not to)%s", v.addr, code, out.quote())
		}
	case rctx.Err() != nil:
		return false, fmt.Errorf("ignorecommand for %v timed out after %v; its process group was killed", v.addr, c.timeout)
	case ps != nil:
		return false, fmt.Errorf("ignorecommand for %v ended: %v%s", v.addr, ps, out.quote())
	}
	return false, fmt.Errorf("running ignorecommand for %v: %w", v.addr, err)
}

// limitedBuffer keeps the first maxOutput bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxOutput - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *limitedBuffer) quote() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(string(b.buf))
	if s == "" {
		return ""
	}
	return fmt.Sprintf(": %q", s)
}
