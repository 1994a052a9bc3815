package source

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkTailFile measures how long 50,000 auth.log lines appended in one
// write take to arrive, and the latency of a single line.
func BenchmarkTailFile(b *testing.B) {
	var data strings.Builder
	const n = 50000
	for i := range n {
		fmt.Fprintf(&data, "Nov 22 02:15:46 web1 sshd[%d]: Failed password for invalid user admin from 203.0.%d.%d port %d ssh2\n", 1000+i, i/250%256, i%250, 30000+i%30000)
	}
	path := filepath.Join(b.TempDir(), "auth.log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan Batch, 16)
	started := make(chan struct{})
	opts := FileOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Started: func() { close(started) }}
	done := make(chan error, 1)
	go func() { done <- TailFile(ctx, path, opts, out) }()
	<-started
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var latency time.Duration
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.WriteString(data.String()); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < n; {
			got += len((<-out).Lines)
		}
		t0 := time.Now()
		if _, err := f.WriteString("Nov 22 02:15:47 web1 sshd[1]: one more line\n"); err != nil {
			b.Fatal(err)
		}
		<-out
		latency += time.Since(t0)
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(latency.Microseconds())/float64(b.N), "µs/latency")
	cancel()
	<-done
}
