package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/store"
	"github.com/gaol-project/gaol/internal/store/sqlite"
)

const crashChildEnv = "GAOL_SQLITE_CRASH_CHILD"

// crashBatch is the n-th batch the child writes: 20 addresses of its own.
func crashBatch(n int) []store.Ban {
	var out []store.Ban
	for i := range 20 {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 10: byte(n >> 8), 11: byte(n), 15: byte(i)})
		out = append(out, store.Ban{
			Jail: "sshd", Prefix: netip.PrefixFrom(a, 128), Start: t0, End: t0.Add(time.Hour),
			Failures: 3, Matches: []string{fmt.Sprintf("batch %d ban %d", n, i)},
		})
	}
	return out
}

// runCrashChild writes batches until it is killed, reporting on stdout
// each batch whose AddBans returned.
func runCrashChild(path string) {
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for n := 0; ; n++ {
		ids, err := s.AddBans(context.Background(), crashBatch(n))
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Printf("written %d %d\n", n, ids[len(ids)-1])
	}
}

// TestSurvivesSIGKILL kills a process that writes bans with SIGKILL and
// checks that every ban whose AddBans had returned is in the database.
func TestSurvivesSIGKILL(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		runCrashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "gaol.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const batches = 40
	written, lastID := -1, int64(0)
	sc := bufio.NewScanner(out)
	read := func(until int) {
		for written < until && sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "error:") {
				t.Fatalf("child: %s", line)
			}
			var n int
			var id int64
			if _, err := fmt.Sscanf(line, "written %d %d", &n, &id); err != nil {
				continue // test framework output
			}
			written, lastID = n, id
		}
	}
	read(batches - 1)
	// Kill it while it writes the next batch.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// It may have reported more batches meanwhile (on a busy machine,
	// many): they count as reported.
	read(math.MaxInt)
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v before it was killed (read %d batches)", err, written+1)
	}

	s := open(t, path)
	active, err := s.ActiveBans(context.Background(), t0)
	if err != nil {
		t.Fatal(err)
	}
	have := make(map[netip.Prefix]store.Ban, len(active))
	for _, b := range active {
		have[b.Prefix] = b
	}
	for n := 0; n <= written; n++ {
		for _, b := range crashBatch(n) {
			got, ok := have[b.Prefix]
			if !ok {
				t.Fatalf("ban %v of batch %d, reported written, is missing", b.Prefix, n)
			}
			if len(got.Matches) != 1 || got.Matches[0] != b.Matches[0] {
				t.Errorf("ban %v: matches %q, want %q", b.Prefix, got.Matches, b.Matches)
			}
		}
	}
	if _, ok := have[crashBatch(written)[19].Prefix]; !ok || have[crashBatch(written)[19].Prefix].ID != lastID {
		t.Errorf("last reported ban does not have ID %d", lastID)
	}
	// Batches are all or nothing.
	if extra := len(active) - 20*(written+1); extra != 0 && extra != 20 {
		t.Errorf("%d bans beyond the reported batches, want 0 or 20", extra)
	}
	t.Logf("%d batches reported, %d bans found after SIGKILL", written+1, len(active))
}

// TestNotWritable opens a database the process may read but not write.
func TestNotWritable(t *testing.T) {
	const env = "GAOL_SQLITE_NOT_WRITABLE_CHILD"
	if path := os.Getenv(env); path != "" {
		if err := syscall.Setgid(65534); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Setuid(65534); err != nil {
			t.Fatal(err)
		}
		notWritable(t, path)
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "gaol.db")
	s := open(t, path)
	s.Close()
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		notWritable(t, path)
		return
	}
	// Root may write anything: try as nobody.
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNotWritable$", "-test.v")
	cmd.Env = append(os.Environ(), env+"="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func notWritable(t *testing.T, path string) {
	s, err := sqlite.Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a read-only file succeeded")
	}
	if !strings.Contains(err.Error(), path+" is not writable") {
		t.Fatalf("error %q does not say the file is not writable", err)
	}
}
