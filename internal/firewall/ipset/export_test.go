package ipset

import "time"

// SetClock replaces the backend's clock and timer, for tests.
func SetClock(b *Backend, now func() time.Time, afterFunc func(time.Duration, func()) func() bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now, b.afterFunc = now, afterFunc
}

// MaxTimeout is the kernel's longest element timeout.
const MaxTimeout = maxTimeout * time.Second

// RefreshMargin is how long before the kernel's expiry a long ban is renewed.
const RefreshMargin = refreshMargin

// Update reports whether golden files are to be rewritten (-update).
func Update() bool { return *update }
