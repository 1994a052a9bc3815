package control

import (
	"net"
	"sync"
	"syscall"
)

var umaskMu sync.Mutex

// listenUmask listens on a unix socket created with umask 077.
func listenUmask(path string) (net.Listener, error) {
	umaskMu.Lock()
	defer umaskMu.Unlock()
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}
