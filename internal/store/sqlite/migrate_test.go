package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
)

func TestMigrationFromVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	// A database as the first schema left it, with a ban in it.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{migrations[0], fmt.Sprintf("PRAGMA application_id = %d", applicationID), "PRAGMA user_version = 1",
		`INSERT INTO bans (id, jail, lo, bits, start_ns, until_ns, failures) VALUES (1, 'sshd', x'00000000000000000000ffffc0000201', 128, 1, NULL, 5)`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h, err := s.History(context.Background(), netip.MustParseAddr("192.0.2.1"))
	if err != nil || len(h) != 1 || h[0].Count != 1 || h[0].Category != "" || h[0].Failures != 5 {
		t.Fatalf("history after migration: %+v %v", h, err)
	}
}
