package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gaol-project/gaol/internal/netprefix"
	"github.com/gaol-project/gaol/internal/store"
)

// End reasons the store writes by itself.
const (
	reasonExpired  = "expired"
	reasonReplaced = "replaced"
	reasonUnbanned = "unbanned"
)

const banColumns = `id, jail, lo, bits, start_ns, until_ns, failures, matches, manual, category, ban_count, ` + geoColumns + `, ended_ns, end_reason`

const geoColumns = `country, asn, org, city, lat, lon, rdns`

// insertChunk is how many bans one INSERT statement carries; per-statement
// costs dominate otherwise.
const insertChunk = 200

// banKey identifies a prefix in a jail: the active ban a new ban replaces.
type banKey struct {
	jail string
	lo   [16]byte
	bits int
}

// newBan is a ban checked and encoded for AddBans.
type newBan struct {
	b   store.Ban
	key banKey
	m   sql.NullString
}

// AddBans records new bans in one transaction and returns their IDs, in
// order. A ban of a jail and prefix that already have an active ban ends
// that one: "replaced" at the new ban's start, or "expired" at its own end
// if that came first. Prefixes are stored masked, IPv4-mapped addresses as
// IPv4.
func (s *Store) AddBans(ctx context.Context, bans []store.Ban) ([]int64, error) {
	rows := make([]newBan, len(bans))
	for i, b := range bans {
		p, err := normalize(b.Prefix)
		if err != nil {
			return nil, fmt.Errorf("adding ban %d (%s %v): %w", i, b.Jail, b.Prefix, err)
		}
		if b.Jail == "" {
			return nil, fmt.Errorf("adding ban %d (%v): no jail", i, b.Prefix)
		}
		if b.Start.IsZero() {
			return nil, fmt.Errorf("adding ban %d (%s %v): no start time", i, b.Jail, b.Prefix)
		}
		r := newBan{b: b, key: keyOf(b.Jail, p)}
		if len(b.Matches) > 0 {
			r.m = sql.NullString{String: encodeMatches(b.Matches), Valid: true}
		}
		rows[i] = r
	}
	var ids []int64
	err := s.write(ctx, "adding bans", func(tx *sql.Tx) error {
		a := adder{ctx: ctx, tx: tx, stmts: map[int]*sql.Stmt{}, ids: make([]int64, 0, len(rows))}
		defer a.close()
		// The IDs are assigned here: the transaction is the only writer.
		if err := tx.QueryRowContext(ctx, `SELECT ifnull(max(id), 0) + 1 FROM bans`).Scan(&a.next); err != nil {
			return err
		}
		for chunk := range slices.Chunk(rows, insertChunk) {
			if err := a.add(chunk); err != nil {
				return err
			}
		}
		ids = a.ids
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// adder inserts bans for AddBans, in one transaction.
type adder struct {
	ctx   context.Context
	tx    *sql.Tx
	next  int64
	ids   []int64
	end   *sql.Stmt         // ends an active ban
	stmts map[int]*sql.Stmt // INSERTs by number of rows
}

func (a *adder) close() {
	if a.end != nil {
		a.end.Close()
	}
	for _, st := range a.stmts {
		st.Close()
	}
}

// add inserts a chunk of bans, ending the active bans they replace. Most
// bans replace none: the chunk is inserted at once, and only if the unique
// index of active bans objects is each ban checked.
func (a *adder) add(chunk []newBan) error {
	err := a.insert(chunk)
	var se *sqlite.Error
	if !errors.As(err, &se) || se.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return err
	}
	// One row at a time: a ban of the chunk may replace another of the
	// chunk, which must be in the table to be ended.
	for _, r := range chunk {
		if err := a.endActive(r); err != nil {
			return err
		}
		if err := a.insert([]newBan{r}); err != nil {
			return err
		}
	}
	return nil
}

func (a *adder) endActive(r newBan) error {
	if a.end == nil {
		var err error
		a.end, err = a.tx.PrepareContext(a.ctx, `UPDATE bans SET
				ended_ns   = CASE WHEN until_ns <= ?1 THEN until_ns ELSE ?1 END,
				end_reason = CASE WHEN until_ns <= ?1 THEN '`+reasonExpired+`' ELSE '`+reasonReplaced+`' END
			WHERE lo = ?2 AND bits = ?3 AND jail = ?4 AND ended_ns IS NULL`)
		if err != nil {
			return err
		}
	}
	_, err := a.end.ExecContext(a.ctx, r.b.Start.UnixNano(), r.key.lo[:], r.key.bits, r.key.jail)
	return err
}

func (a *adder) insert(rows []newBan) error {
	const cols = 18
	st, ok := a.stmts[len(rows)]
	if !ok {
		var err error
		st, err = a.tx.PrepareContext(a.ctx, `INSERT INTO bans
			(id, jail, lo, bits, start_ns, until_ns, failures, matches, manual, category, ban_count, `+geoColumns+`)
			VALUES `+placeholders(len(rows), cols))
		if err != nil {
			return err
		}
		a.stmts[len(rows)] = st
	}
	args := make([]any, 0, cols*len(rows))
	for i := range rows {
		r := &rows[i]
		g := &r.b.Geo
		args = append(args, a.next+int64(i), r.key.jail, r.key.lo[:], r.key.bits,
			r.b.Start.UnixNano(), nullTime(r.b.End), r.b.Failures, r.m, r.b.Manual,
			r.b.Category, max(r.b.Count, 1),
			g.Country, int64(g.ASN), g.Org, g.City, nullFloat(g.Lat, g.HasCoords), nullFloat(g.Lon, g.HasCoords), g.RDNS)
	}
	if _, err := st.ExecContext(a.ctx, args...); err != nil {
		return err
	}
	for range rows {
		a.ids = append(a.ids, a.next)
		a.next++
	}
	return nil
}

// placeholders returns "(?, ?), (?, ?)" for n rows of k columns.
func placeholders(n, k int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", k), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// EndBans ends, in one transaction, the active bans of each End's prefix
// (exactly that prefix) in its jail, or in every jail if Jail is empty, and
// returns how many it ended. A ban whose own end came before End.At is
// recorded as expired then instead. An empty Reason means "unbanned".
func (s *Store) EndBans(ctx context.Context, ends []store.End) (int, error) {
	keys := make([]banKey, len(ends))
	for i, e := range ends {
		p, err := normalize(e.Prefix)
		if err != nil {
			return 0, fmt.Errorf("ending bans of %v: %w", e.Prefix, err)
		}
		if e.At.IsZero() {
			return 0, fmt.Errorf("ending bans of %v: no end time", e.Prefix)
		}
		keys[i] = keyOf(e.Jail, p)
	}
	var n int
	err := s.write(ctx, "ending bans", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE bans SET
				ended_ns   = CASE WHEN until_ns <= ?1 THEN until_ns ELSE ?1 END,
				end_reason = CASE WHEN until_ns <= ?1 THEN '`+reasonExpired+`' ELSE ?2 END
			WHERE lo = ?3 AND bits = ?4 AND (?5 = '' OR jail = ?5) AND ended_ns IS NULL`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, e := range ends {
			reason := e.Reason
			if reason == "" {
				reason = reasonUnbanned
			}
			k := keys[i]
			res, err := stmt.ExecContext(ctx, e.At.UnixNano(), reason, k.lo[:], k.bits, k.jail)
			if err != nil {
				return err
			}
			m, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += int(m)
		}
		return nil
	})
	return n, err
}

// ExpireBans marks every active ban whose end is not after now as ended,
// "expired", at its end, and returns how many.
func (s *Store) ExpireBans(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.write(ctx, "expiring bans", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE bans SET ended_ns = until_ns, end_reason = '`+reasonExpired+`'
			WHERE ended_ns IS NULL AND until_ns <= ?`, now.UnixNano())
		if err != nil {
			return err
		}
		k, err := res.RowsAffected()
		n = int(k)
		return err
	})
	return n, err
}

// ActiveBans returns the bans not ended and not over at now (permanent, or
// ending after now), sorted by prefix and jail.
func (s *Store) ActiveBans(ctx context.Context, now time.Time) ([]store.Ban, error) {
	const where = `FROM bans WHERE ended_ns IS NULL AND (until_ns IS NULL OR until_ns > ?)`
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) `+where, now.UnixNano()).Scan(&n); err != nil {
		return nil, s.errorf("reading active bans: %w", err)
	}
	// Active bans have no end yet: two columns fewer to read. The order
	// is that of the index of active bans.
	rows, err := s.db.QueryContext(ctx, `SELECT id, jail, lo, bits, start_ns, until_ns, failures, matches, manual, category, ban_count, `+geoColumns+` `+
		where+` ORDER BY lo, bits, jail`, now.UnixNano())
	if err != nil {
		return nil, s.errorf("reading active bans: %w", err)
	}
	bans, err := scanBans(rows, false, n, netip.Addr{})
	if err != nil {
		return nil, s.errorf("reading active bans: %w", err)
	}
	return bans, nil
}

// Bans returns every ban, active or ended, that started at or after since
// (all of them for a zero since), oldest first: what reports are made of.
func (s *Store) Bans(ctx context.Context, since time.Time) ([]store.Ban, error) {
	from := int64(math.MinInt64)
	if !since.IsZero() {
		from = since.UnixNano()
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+banColumns+` FROM bans WHERE start_ns >= ? ORDER BY start_ns, id`, from)
	if err != nil {
		return nil, s.errorf("reading bans: %w", err)
	}
	bans, err := scanBans(rows, true, 0, netip.Addr{})
	if err != nil {
		return nil, s.errorf("reading bans: %w", err)
	}
	return bans, nil
}

// BanCounts returns, per jail and prefix, how many bans started at or
// after since, and when the latest started: bantime.increment looks at
// them across restarts.
func (s *Store) BanCounts(ctx context.Context, since time.Time) ([]store.BanCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT jail, lo, bits, count(*), max(start_ns) FROM bans
		WHERE start_ns >= ? GROUP BY jail, lo, bits`, since.UnixNano())
	if err != nil {
		return nil, s.errorf("counting bans: %w", err)
	}
	defer rows.Close()
	var out []store.BanCount
	for rows.Next() {
		var (
			c    store.BanCount
			lo   []byte
			bits int
			last int64
		)
		if err := rows.Scan(&c.Jail, &lo, &bits, &c.Count, &last); err != nil {
			return nil, s.errorf("counting bans: %w", err)
		}
		if c.Prefix, err = prefixOf(lo, bits); err != nil {
			return nil, s.errorf("counting bans: %w", err)
		}
		c.Last = time.Unix(0, last)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.errorf("counting bans: %w", err)
	}
	return out, nil
}

// PurgeHistory deletes the bans that ended before before, and returns how
// many it deleted. Active bans are never deleted.
func (s *Store) PurgeHistory(ctx context.Context, before time.Time) (int, error) {
	var n int
	err := s.write(ctx, "purging ban history", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM bans WHERE ended_ns IS NOT NULL AND ended_ns < ?`, before.UnixNano())
		if err != nil {
			return err
		}
		k, err := res.RowsAffected()
		n = int(k)
		return err
	})
	return n, err
}

// History returns every ban, active or ended, whose prefix contains addr,
// newest first.
func (s *Store) History(ctx context.Context, addr netip.Addr) ([]store.Ban, error) {
	if !addr.IsValid() {
		return nil, fmt.Errorf("ban history: invalid address")
	}
	a := addr.WithZone("").Unmap()
	k := keyOf("", netip.PrefixFrom(a, a.BitLen()))
	// A prefix containing a starts at a masked to the prefix's length:
	// ask the index for each mask, and keep the rows that contain a.
	first := 0
	if a.Is4() {
		first = 96
	}
	args := make([]any, 0, 129-first)
	for l := first; l <= 128; l++ {
		args = append(args, mask16(k.lo, l))
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+banColumns+` FROM bans
		WHERE lo IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")+`)
		ORDER BY start_ns DESC, id DESC`, args...)
	if err != nil {
		return nil, s.errorf("reading ban history of %v: %w", addr, err)
	}
	bans, err := scanBans(rows, true, 0, a)
	if err != nil {
		return nil, s.errorf("reading ban history of %v: %w", addr, err)
	}
	return bans, nil
}

// scanBans reads rows of banColumns, without the last two unless ended;
// size is how many are expected, if known. With a valid within, only the
// bans whose prefix contains it are kept.
func scanBans(rows *sql.Rows, ended bool, size int, within netip.Addr) ([]store.Ban, error) {
	defer rows.Close()
	out := make([]store.Ban, 0, size)
	jails := map[string]string{} // a few jails, many bans: share the strings
	var (
		jail, lo, matches sql.RawBytes
		category          sql.RawBytes
		country, org      sql.RawBytes
		city, rdns        sql.RawBytes
		asn               int64
		lat, lon          sql.NullFloat64
		bits              int
		start             int64
		until, endedAt    sql.NullInt64
		reason            sql.NullString
	)
	for rows.Next() {
		var b store.Ban
		dest := []any{&b.ID, &jail, &lo, &bits, &start, &until, &b.Failures, &matches, &b.Manual, &category, &b.Count,
			&country, &asn, &org, &city, &lat, &lon, &rdns}
		if ended {
			dest = append(dest, &endedAt, &reason)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		p, err := prefixOf(lo, bits)
		if err != nil {
			return nil, fmt.Errorf("ban %d: %w", b.ID, err)
		}
		if within.IsValid() && !p.Contains(within) {
			continue
		}
		b.Prefix = p
		j, ok := jails[string(jail)]
		if !ok {
			j = string(jail)
			jails[j] = j
		}
		b.Jail = j
		b.Start = time.Unix(0, start)
		if until.Valid {
			b.End = time.Unix(0, until.Int64)
		}
		if endedAt.Valid {
			b.EndedAt = time.Unix(0, endedAt.Int64)
		}
		b.EndReason = reason.String
		if len(category) > 0 {
			b.Category = string(category)
		}
		b.Geo = store.Geo{Country: string(country), ASN: uint32(asn), Org: string(org), City: string(city), RDNS: string(rdns)}
		if lat.Valid && lon.Valid {
			b.Geo.Lat, b.Geo.Lon, b.Geo.HasCoords = lat.Float64, lon.Float64, true
		}
		if matches != nil {
			b.Matches = decodeMatches(string(matches))
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// Matches are stored as one text, a line each, so that they read fast and
// show plainly in the sqlite3 shell; a backslash escapes a newline (\n)
// or itself (\\).
var (
	matchEscaper   = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	matchUnescaper = strings.NewReplacer(`\\`, `\`, `\n`, "\n")
)

func encodeMatches(ms []string) string {
	n := len(ms) - 1
	for _, m := range ms {
		n += len(m)
	}
	var sb strings.Builder
	sb.Grow(max(n, 0)) // exact unless a line needs escapes
	for i, m := range ms {
		if i > 0 {
			sb.WriteByte('\n')
		}
		if strings.ContainsAny(m, "\\\n") {
			matchEscaper.WriteString(&sb, m)
		} else {
			sb.WriteString(m)
		}
	}
	return sb.String()
}

func decodeMatches(s string) []string {
	ms := strings.Split(s, "\n")
	if strings.IndexByte(s, '\\') >= 0 {
		for i, m := range ms {
			ms[i] = matchUnescaper.Replace(m)
		}
	}
	return ms
}

// write runs fn in a write transaction and commits it.
func (s *Store) write(ctx context.Context, what string, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.errorf("%s: %w", what, err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(s.errorf("%s: %w", what, err), ignoreDone(tx.Rollback()))
	}
	if err := tx.Commit(); err != nil {
		return s.errorf("%s: %w", what, err)
	}
	return nil
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

func nullFloat(f float64, valid bool) sql.NullFloat64 {
	return sql.NullFloat64{Float64: f, Valid: valid}
}

func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

// normalize returns p in canonical form (package netprefix).
func normalize(p netip.Prefix) (netip.Prefix, error) {
	c, ok := netprefix.Canonical(p)
	if !ok {
		return netip.Prefix{}, errors.New("invalid prefix")
	}
	return c, nil
}

// keyOf returns the key of a normalized prefix in a jail. Prefixes are
// stored in the IPv6 space: the first address as 16 bytes, IPv4 mapped,
// and the prefix length there (an IPv4 /24 is 120).
func keyOf(jail string, p netip.Prefix) banKey {
	k := banKey{jail: jail, lo: p.Addr().As16(), bits: p.Bits()}
	if p.Addr().Is4() {
		k.bits += 96
	}
	return k
}

// prefixOf is the inverse of keyOf.
func prefixOf(lo []byte, bits int) (netip.Prefix, error) {
	a, ok := netip.AddrFromSlice(lo)
	if !ok || len(lo) != 16 || bits < 0 || bits > 128 {
		return netip.Prefix{}, fmt.Errorf("bad prefix %x/%d", lo, bits)
	}
	if a.Is4In6() && bits >= 96 {
		return netip.PrefixFrom(a.Unmap(), bits-96), nil
	}
	return netip.PrefixFrom(a, bits), nil
}

// mask16 returns the 16-byte address a with all but its first bits
// cleared.
func mask16(a [16]byte, bits int) []byte {
	for i := bits; i < 128; i++ {
		a[i/8] &^= 0x80 >> (i % 8)
	}
	return a[:]
}
