package main

import (
	"context"
	"os"
	"testing"
)

// TestMain lets the test binary act as the gaol command: the end-to-end
// tests start it with GAOL_TEST_MAIN=1 (inside network namespaces) instead
// of building a separate binary.
func TestMain(m *testing.M) {
	if os.Getenv("GAOL_TEST_MAIN") == "1" {
		os.Args = append([]string{"gaol"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	// No test looks a host name up in the real DNS.
	hostLookup = testHosts
	os.Exit(m.Run())
}

// runCLI runs a gaol command in-process and returns its output and error.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytesBuffer
	err := run(context.Background(), args, &out, &errb)
	return out.String() + errb.String(), err
}
