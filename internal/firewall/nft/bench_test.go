package nft_test

import (
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/firewall/nft"
	"github.com/gaol-project/gaol/internal/netnstest"
)

// BenchmarkBan10000 bans 10,000 IPv6 addresses in one call, as the daemon
// does when an attack from that many addresses is found at once, into a
// set emptied before each round. The jail bans by address: they go to its
// hash set.
func BenchmarkBan10000(b *testing.B) {
	benchmarkBan(b, 128, 128)
}

// BenchmarkBan10000Prefixes bans 10,000 IPv6 /64 prefixes in one call in a
// jail that bans IPv6 attackers by /64 (the daemon's default,
// banprefix.ipv6 = 64). They go to the jail's hash set, looked up through
// a mask.
func BenchmarkBan10000Prefixes(b *testing.B) {
	benchmarkBan(b, 64, 64)
}

// BenchmarkBan10000PrefixesInterval bans the same /64s in a jail that bans
// by address: they go to its interval set.
func BenchmarkBan10000PrefixesInterval(b *testing.B) {
	benchmarkBan(b, 128, 64)
}

// benchmarkBan bans 10,000 prefixes of length bits in a jail banning IPv6
// attackers by jailBits.
func benchmarkBan(b *testing.B, jailBits, bits int) {
	ns := netnstest.New(b)
	f, err := os.Open(ns.Path())
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	be, err := nft.Open(nft.Options{NetNS: int(f.Fd())})
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	jail := sshd
	jail.BanPrefix6 = jailBits
	if err := be.Setup([]firewall.Jail{jail}); err != nil {
		b.Fatal(err)
	}
	els := make([]firewall.Element, 10000)
	for i := range els {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 4: byte(i >> 16), 5: byte(i >> 8), 6: byte(i), 15: byte(i%251 + 1)})
		p, _ := a.Prefix(bits)
		els[i] = firewall.Element{Prefix: p, Timeout: time.Hour}
	}
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		if err := be.Replace("sshd", nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c := cpuTime()
		if err := be.Ban("sshd", els); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// cpuTime returns the CPU time the process has used, in user and kernel
// mode: the kernel's work on a batch counts.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
