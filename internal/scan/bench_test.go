package scan

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeAuthLog writes n lines of a busy server's auth.log: for every
// failure line two lines of other traffic. Attackers come from
// 2001:db8::/32 and 198.51.100.0/24, in bursts.
func writeAuthLog(tb testing.TB, n int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "auth.log")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	t := time.Date(2026, 11, 1, 0, 0, 0, 0, time.Local)
	for i := range n {
		t = t.Add(50 * time.Millisecond)
		stamp := t.Format(time.Stamp)
		pid := 1000 + i%30000
		// Attackers come in bursts of 24 lines (8 failures).
		a := i / 24 % 20000
		addr := fmt.Sprintf("2001:db8:%x:%x::%x", a/100, a%100, i%13)
		if a%7 == 0 {
			addr = fmt.Sprintf("198.51.100.%d", a%250+1)
		}
		switch i % 3 {
		case 0:
			fmt.Fprintf(w, "%s web1 sshd[%d]: Failed password for invalid user admin%d from %s port %d ssh2\n", stamp, pid, i%50, addr, 1024+i%60000)
		case 1:
			fmt.Fprintf(w, "%s web1 sshd[%d]: Connection closed by %s port %d [preauth]\n", stamp, pid, addr, 1024+i%60000)
		default:
			fmt.Fprintf(w, "%s web1 CRON[%d]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n", stamp, pid)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return path
}

// BenchmarkScan1M replays a 1,000,000-line auth.log through the sshd jail.
func BenchmarkScan1M(b *testing.B) {
	path := writeAuthLog(b, 1_000_000)
	jails := defaultJails(b, "")
	fi, _ := os.Stat(path)
	b.SetBytes(fi.Size())
	lines := 0
	for b.Loop() {
		res, err := Run(context.Background(), jails, []string{path}, Options{Now: time.Date(2026, 11, 30, 0, 0, 0, 0, time.Local)})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Bans) == 0 {
			b.Fatal("no bans")
		}
		lines += res.Lines
	}
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
}
