// Package netnsrun runs code inside another network namespace, on an OS
// thread of its own.
package netnsrun

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// Do runs fn on an OS thread switched into the network namespace ns and
// returns fn's error. Sockets fn creates belong to the namespace; goroutines
// fn starts do not run in it. If the thread cannot be switched back it is
// discarded rather than reused.
func Do(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored := false
		defer func() {
			// A thread that may still be in the namespace must not run
			// other goroutines: leaving it locked makes the runtime
			// terminate it when this goroutine exits.
			if restored {
				runtime.UnlockOSThread()
			}
		}()
		orig, err := netns.Get()
		if err != nil {
			restored = true
			errc <- fmt.Errorf("getting the current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("entering network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leaving network namespace: %w", err))
			return
		}
		restored = true
		errc <- ferr
	}()
	return <-errc
}
