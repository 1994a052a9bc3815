package bench

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/control"
	"github.com/gaol-project/gaol/internal/netnstest"
	"github.com/gaol-project/gaol/internal/store"
	"github.com/gaol-project/gaol/internal/store/sqlite"
)

// BenchmarkRestart starts gaol on a database holding 10,000 and 100,000
// active bans and measures, from the start of the process, until all of
// them are back in the kernel's set (the daemon answers its control API
// once it has restored them; one dump of the set then confirms the count).
// GAOL_BENCH_LOG_LEVEL=info shows the daemon's log, with the time the
// restore itself took.
func BenchmarkRestart(b *testing.B) {
	bin := buildGaol(b)
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var secs []float64
			for range b.N {
				secs = append(secs, restart(b, bin, n).Seconds())
			}
			b.ReportMetric(median(secs), "s/restart")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func restart(b *testing.B, bin string, n int) time.Duration {
	b.StopTimer()
	defer b.StartTimer()
	ns := netnstest.New(b)
	dir := b.TempDir()
	db := filepath.Join(dir, "gaol.db")
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	bans := make([]store.Ban, n)
	for i := range bans {
		a := netip.MustParseAddr(attacker(i))
		bans[i] = store.Ban{Jail: "sshd", Prefix: netip.PrefixFrom(a, 64).Masked(), Start: now, End: now.Add(time.Hour), Failures: 5}
	}
	if _, err := st.AddBans(context.Background(), bans); err != nil {
		b.Fatal(err)
	}
	st.Close()
	etc := filepath.Join(dir, "etc")
	os.MkdirAll(etc, 0o755)
	logPath := filepath.Join(dir, "auth.log")
	os.WriteFile(logPath, nil, 0o644)
	os.WriteFile(filepath.Join(etc, "jail.local"), []byte(fmt.Sprintf("[sshd]\nenabled = true\nlogpath = %s\nbantime = 1h\n", logPath)), 0o644)
	sock := filepath.Join(dir, "gaol.sock")
	cmd := ns.Command(bin, "server", "--config", etc, "--db", db, "--socket", sock, "--log-level", cmp.Or(os.Getenv("GAOL_BENCH_LOG_LEVEL"), "warn"))
	logf, _ := os.Create(filepath.Join(dir, "daemon.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	client := control.NewClient(sock)
	b.StartTimer()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		logf.Close()
	}()
	ok := pollUntil(start, 120*time.Second, time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := client.Status(ctx)
		return err == nil
	})
	took := time.Since(start)
	b.StopTimer()
	if !ok {
		msg, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
		b.Fatalf("gaol did not start within 120 s\n%s", msg)
	}
	if got := newSetCounter(b, ns, "gaol", "sshd-v6").count(); got != n {
		b.Fatalf("%d bans restored into nftables, want %d", got, n)
	}
	if os.Getenv("GAOL_BENCH_LOG_LEVEL") != "" {
		msg, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
		b.Logf("%s", msg)
	}
	b.Logf("gaol: %d bans back in nftables %.3f s after the process started (load average before: %s)", n, took.Seconds(), loadavg())
	return took
}
