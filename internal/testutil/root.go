// Package testutil holds helpers shared by gaol's tests.
package testutil

import (
	"os"
	"testing"
)

// RequireRoot skips the test when the process is not root, unless the
// environment sets GAOL_REQUIRE_ROOT=1, in which case the missing privilege
// fails the test instead: CI sets it so that kernel tests always run there.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("GAOL_REQUIRE_ROOT") == "1" {
		t.Fatal("this test needs root and GAOL_REQUIRE_ROOT=1 is set")
	}
	t.Skip("needs root (set GAOL_REQUIRE_ROOT=1 to make this a failure)")
}
