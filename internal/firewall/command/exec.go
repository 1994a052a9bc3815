package command

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrTimeout is wrapped by the error of a command that ran longer than its
// action's timeout; its process group was killed.
var ErrTimeout = errors.New("command timed out")

// maxOutput bounds the output of a command kept for its error.
const maxOutput = 8 << 10

// runner runs commands with /bin/sh -c, at most a bounded number at once.
type runner struct {
	shell string
	env   []string // without GAOL_ variables
	grace time.Duration
	sem   chan struct{}
}

func newRunner(shell string, env []string, parallel int, grace time.Duration) *runner {
	clean := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GAOL_") {
			clean = append(clean, kv)
		}
	}
	return &runner{shell: shell, env: clean, grace: grace, sem: make(chan struct{}, parallel)}
}

// run runs the script in its own process group. When the timeout passes,
// the group gets SIGTERM, and SIGKILL if it is still there after the grace
// period.
func (r *runner) run(sc script, timeout time.Duration) error {
	r.sem <- struct{}{}
	defer func() { <-r.sem }()

	cmd := exec.Command(r.shell, "-c", sc.text)
	cmd.Env = append([]string(nil), r.env...)
	names := make([]string, 0, len(sc.env))
	for n := range sc.env {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		cmd.Env = append(cmd.Env, n+"="+sc.env[n])
	}
	out := &limitedBuffer{max: maxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Output pipes held open by a process that escaped the group must not
	// keep Wait from returning.
	cmd.WaitDelay = r.grace
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", r.shell, err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-done:
	case <-timer.C:
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(r.grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
		// Whatever the group started and left behind goes too.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return fmt.Errorf("%w after %v%s", ErrTimeout, timeout, out.suffix())
	}
	if err != nil {
		return fmt.Errorf("%w%s", err, out.suffix())
	}
	return nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room < len(p) {
		b.buf.Write(p[:max(room, 0)])
		b.truncated = true
		return len(p), nil
	}
	return b.buf.Write(p)
}

// suffix returns the output to append to an error: ": output", or "".
func (b *limitedBuffer) suffix() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.buf.String())
	if s == "" {
		return ""
	}
	if b.truncated {
		s += " [...]"
	}
	return ": " + s
}
