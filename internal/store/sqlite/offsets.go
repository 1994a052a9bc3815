package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/gaol-project/gaol/internal/store"
)

// Offset returns the saved read position of a log file, and false if none
// was saved.
func (s *Store) Offset(ctx context.Context, path string) (store.Offset, bool, error) {
	var inode, pos, head int64
	var cursor string
	err := s.db.QueryRowContext(ctx, `SELECT inode, pos, head, cursor FROM offsets WHERE path = ?`, path).
		Scan(&inode, &pos, &head, &cursor)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Offset{}, false, nil
	}
	if err != nil {
		return store.Offset{}, false, s.errorf("reading the read position of %s: %w", path, err)
	}
	return store.Offset{Path: path, Inode: uint64(inode), Offset: pos, Head: uint64(head), Cursor: cursor}, true, nil
}

// SaveOffsets records read positions, replacing earlier ones of the same
// files, in one transaction.
func (s *Store) SaveOffsets(ctx context.Context, offs []store.Offset) error {
	return s.write(ctx, "saving read positions", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO offsets (path, inode, pos, head, cursor) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (path) DO UPDATE SET inode = excluded.inode, pos = excluded.pos, head = excluded.head, cursor = excluded.cursor`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, o := range offs {
			// SQLite integers are signed 64-bit: store the bits.
			if _, err := stmt.ExecContext(ctx, o.Path, int64(o.Inode), o.Offset, int64(o.Head), o.Cursor); err != nil {
				return err
			}
		}
		return nil
	})
}
