package main

import (
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/orgtree/orgtree"

	_ "modernc.org/sqlite"
)

// sqliteBackend is the adjacency list most services keep in a database:
// nodes(id, parent_id, …) with the indexes a competent engineer adds, and
// recursive CTEs for paths, subtrees and the cycle check. It runs on
// modernc.org/sqlite (pure Go), in memory or in a file (WAL).
type sqliteBackend struct {
	label string
	file  string // "" for :memory:
	db    *sql.DB
	stmts map[string]*sql.Stmt
}

const sqliteSchema = `
CREATE TABLE nodes(id TEXT PRIMARY KEY, parent_id TEXT, name TEXT NOT NULL, code TEXT, ord INTEGER NOT NULL, created INTEGER NOT NULL,
	description TEXT NOT NULL DEFAULT '', external_id TEXT, leader_user_id TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX nodes_parent ON nodes(parent_id);
CREATE UNIQUE INDEX nodes_code ON nodes(code);
CREATE TABLE users(id TEXT PRIMARY KEY, name TEXT, created INTEGER NOT NULL);
CREATE TABLE members(node_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY(node_id, user_id)) WITHOUT ROWID;
CREATE INDEX members_user ON members(user_id);
`

const subtreeCTE = `WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.parent_id = sub.id) `

var sqliteQueries = map[string]string{
	"lookupID":   `SELECT ` + sqlNodeColumns("nodes") + ` FROM nodes WHERE id = ?`,
	"lookupCode": `SELECT ` + sqlNodeColumns("nodes") + ` FROM nodes WHERE code = ?`,
	"path": `WITH RECURSIVE up(id, parent_id, d) AS (SELECT id, parent_id, 0 FROM nodes WHERE id = ?
	         UNION ALL SELECT n.id, n.parent_id, up.d + 1 FROM nodes n JOIN up ON n.id = up.parent_id)
	         SELECT id FROM up ORDER BY d DESC`,
	"children": `SELECT id FROM nodes WHERE parent_id = ? ORDER BY ord DESC, created, id`,
	"isBelow": `WITH RECURSIVE up(id, parent_id) AS (SELECT id, parent_id FROM nodes WHERE id = ?1
	         UNION ALL SELECT n.id, n.parent_id FROM nodes n JOIN up ON n.id = up.parent_id)
	         SELECT count(*) FROM up WHERE id = ?2`,
	"setParent":    `UPDATE nodes SET parent_id = ? WHERE id = ?`,
	"subtreeCount": subtreeCTE + `SELECT count(DISTINCT user_id) FROM members WHERE node_id IN sub`,
	"firstPage": subtreeCTE + `SELECT u.id FROM users u WHERE u.id IN (SELECT user_id FROM members WHERE node_id IN sub)
	         ORDER BY u.created, u.id LIMIT ?2`,
	"search": `SELECT ` + sqlNodeColumns("n") + `, ` + sqlRank("n", "?1", "instr(lower(n.name), ?1) = 1") + `
	         FROM nodes n WHERE n.name LIKE '%' || ?1 || '%'`,
	// The name paths of the same hits, walking up from each.
	"searchPaths": upWalk(`SELECT id, id, 0 FROM nodes WHERE name LIKE '%' || ?1 || '%'`),
	// Without a depth column (a move would rewrite the whole subtree's),
	// the depth of each hit is counted by walking up from it.
	"searchTop": `WITH RECURSIVE hit(id, name, rank) AS (
	         SELECT id, name, ` + sqlRank("nodes", "?1", "instr(lower(nodes.name), ?1) = 1") + `
	         FROM nodes WHERE name LIKE '%' || ?1 || '%'),
	         up(id, anc) AS (SELECT h.id, n.parent_id FROM hit h JOIN nodes n ON n.id = h.id
	         UNION ALL SELECT up.id, n.parent_id FROM up JOIN nodes n ON n.id = up.anc)
	         SELECT ` + sqlNodeColumns("n") + `, h.rank FROM hit h JOIN (SELECT id, count(*) AS depth FROM up GROUP BY id) d ON d.id = h.id
	         JOIN nodes n ON n.id = h.id ORDER BY h.rank, d.depth, h.name, h.id LIMIT ?2`,
	// The name paths of the top hits, their ids a JSON array.
	"topPaths":     upWalk(`SELECT value, value, 0 FROM json_each(?1)`),
	"addMember":    `INSERT OR IGNORE INTO members(node_id, user_id) VALUES (?, ?)`,
	"removeMember": `DELETE FROM members WHERE node_id = ? AND user_id = ?`,
	"rename":       `UPDATE nodes SET name = ?, updated_at = ? WHERE id = ?`,
}

func newSQLite(file bool, dir string) (*sqliteBackend, error) {
	b := &sqliteBackend{label: "sqlite-mem", stmts: map[string]*sql.Stmt{}}
	var dsn string
	dsn = "file::memory:"
	if file {
		f, err := os.CreateTemp(dir, "bench-*.sqlite")
		if err != nil {
			return nil, err
		}
		f.Close()
		b.label, b.file = "sqlite-file", f.Name()
		dsn = fileDSN(b.file)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	if !file {
		db.SetMaxOpenConns(1) // each connection to :memory: is a database of its own
	}
	b.db = db
	if _, err := db.Exec(sqliteSchema); err != nil {
		return nil, err
	}
	for name, q := range sqliteQueries {
		if b.stmts[name], err = db.Prepare(q); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return b, nil
}

func fileDSN(path string) string {
	return "file:" + filepath.ToSlash(path) + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
}

func (b *sqliteBackend) name() string { return b.label }

// openAndQuery is the "open a store" row for sqlite-file: a new handle on
// the file, the first query (the path of node id) and close. SQLite reads
// only the pages the query touches; the loaded handle stays open beside it,
// so the file is in the page cache, as orgtree's is.
func (b *sqliteBackend) openAndQuery(id string) (int, error) {
	db, err := sql.Open("sqlite", fileDSN(b.file))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	rows, err := db.Query(sqliteQueries["path"], id)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

func (b *sqliteBackend) load(o *synthOrg) error {
	now := time.Now().UnixNano()
	err := b.inTx(func(tx *sql.Tx) error {
		ins, err := tx.Prepare(insertNode)
		if err != nil {
			return err
		}
		for i, n := range o.nodes {
			var parent any
			if n.parent >= 0 {
				parent = o.nodes[n.parent].id
			}
			if _, err := ins.Exec(n.id, parent, n.name, n.code, n.order, i, now, now); err != nil {
				return err
			}
		}
		insU, err := tx.Prepare(`INSERT INTO users(id, name, created) VALUES (?, ?, ?)`)
		if err != nil {
			return err
		}
		for _, u := range o.users {
			if _, err := insU.Exec(u.id, u.name, u.created); err != nil {
				return err
			}
		}
		insM, err := tx.Prepare(`INSERT INTO members(node_id, user_id) VALUES (?, ?)`)
		if err != nil {
			return err
		}
		for _, m := range o.members {
			if _, err := insM.Exec(o.nodes[m[0]].id, o.users[m[1]].id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = b.db.Exec(`ANALYZE`)
	return err
}

const insertNode = `INSERT INTO nodes(id, parent_id, name, code, ord, created, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// upWalk is the query of the name paths of hits: start yields (hit, hit,
// 0) rows; the result is (hit, name) rows, each hit's names root first.
func upWalk(start string) string {
	return `WITH RECURSIVE up(hit, anc, d) AS (` + start + `
	         UNION ALL SELECT up.hit, n.parent_id, up.d + 1 FROM up JOIN nodes n ON n.id = up.anc WHERE n.parent_id IS NOT NULL)
	         SELECT up.hit, a.name FROM up JOIN nodes a ON a.id = up.anc ORDER BY up.hit, up.d DESC`
}

// scanNode reads the sqlNodeColumns of one row, then extra.
func scanNode(row interface{ Scan(...any) error }, extra ...any) (orgtree.Node, bool) {
	n := orgtree.Node{OrgID: orgID}
	var created, updated int64
	if err := row.Scan(append([]any{&n.ID, &n.ParentID, &n.Name, &n.Code, &n.Order, &n.Description, &n.ExternalID, &n.LeaderUserID, &created, &updated}, extra...)...); err != nil {
		return orgtree.Node{}, false
	}
	n.CreatedAt, n.UpdatedAt = time.Unix(0, created), time.Unix(0, updated)
	return n, true
}

// inTx runs fn in a transaction and commits it when fn succeeds.
func (b *sqliteBackend) inTx(fn func(*sql.Tx) error) error {
	tx, err := b.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func (b *sqliteBackend) strings(stmt string, args ...any) []string {
	rows, err := b.stmts[stmt].Query(args...)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if rows.Scan(&s) == nil {
			out = append(out, s)
		}
	}
	return out
}

func (b *sqliteBackend) lookupID(id string) (orgtree.Node, bool) {
	return scanNode(b.stmts["lookupID"].QueryRow(id))
}

func (b *sqliteBackend) lookupCode(code string) (orgtree.Node, bool) {
	return scanNode(b.stmts["lookupCode"].QueryRow(code))
}

func (b *sqliteBackend) path(id string) []string     { return b.strings("path", id) }
func (b *sqliteBackend) children(id string) []string { return b.strings("children", id) }

// hits runs a search statement whose rows are a node and its rank, then
// the statement of their name paths (its argument nil: the hits' ids as a
// JSON array).
func (b *sqliteBackend) hits(pathStmt string, pathArg any, stmt string, args ...any) []orgtree.SearchHit {
	rows, err := b.stmts[stmt].Query(args...)
	if err != nil {
		return nil
	}
	var out []orgtree.SearchHit
	for rows.Next() {
		var h orgtree.SearchHit
		var ok bool
		if h.Node, ok = scanNode(rows, &h.Rank); ok {
			out = append(out, h)
		}
	}
	rows.Close()
	if pathArg == nil {
		pathArg = "[" + strings.Join(quoteAll(hitIDs(out)), ",") + "]"
	}
	if rows, err = b.stmts[pathStmt].Query(pathArg); err != nil {
		return nil
	}
	defer rows.Close()
	paths := map[string][]string{}
	for rows.Next() {
		var id, name string
		if rows.Scan(&id, &name) == nil {
			paths[id] = append(paths[id], name)
		}
	}
	for i := range out {
		out[i].NamePath = paths[out[i].Node.ID]
	}
	return out
}

// quoteAll makes JSON strings of ids (the bench's ids need no escapes).
func quoteAll(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.Quote(id)
	}
	return out
}

func (b *sqliteBackend) search(q string) []orgtree.SearchHit {
	q = strings.ToLower(q)
	return b.hits("searchPaths", q, "search", q)
}

func (b *sqliteBackend) searchTop(q string, k int) []orgtree.SearchHit {
	return b.hits("topPaths", nil, "searchTop", strings.ToLower(q), k)
}

func (b *sqliteBackend) firstPage(id string, limit int) []string {
	return b.strings("firstPage", id, limit)
}

func (b *sqliteBackend) subtreeCount(id string) int {
	var n int
	_ = b.stmts["subtreeCount"].QueryRow(id).Scan(&n)
	return n
}

func (b *sqliteBackend) move(id, parent string) error {
	return b.inTx(func(tx *sql.Tx) error {
		var below int
		if err := tx.Stmt(b.stmts["isBelow"]).QueryRow(parent, id).Scan(&below); err != nil {
			return err
		}
		if below > 0 {
			return errCycle
		}
		_, err := tx.Stmt(b.stmts["setParent"]).Exec(parent, id)
		return err
	})
}

func (b *sqliteBackend) addMember(node, user string) error {
	_, err := b.stmts["addMember"].Exec(node, user)
	return err
}

func (b *sqliteBackend) removeMember(node, user string) error {
	_, err := b.stmts["removeMember"].Exec(node, user)
	return err
}

func (b *sqliteBackend) rename(id, name string) error {
	_, err := b.stmts["rename"].Exec(name, time.Now().UnixNano(), id)
	return err
}

// exportJSON reads every node in one query and nests them in memory, the
// usual way; a recursive query per level would be far slower.
func (b *sqliteBackend) exportJSON(w io.Writer) error {
	rows, err := b.db.Query(`SELECT id, coalesce(parent_id, ''), name, coalesce(code, ''), ord FROM nodes ORDER BY ord DESC, created, id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	return exportRows(w, rows)
}

func (b *sqliteBackend) importJSON(r io.Reader) error {
	root, err := decodeDoc(r)
	if err != nil {
		return err
	}
	now := time.Now().UnixNano()
	return b.inTx(func(tx *sql.Tx) error {
		ins, err := tx.Prepare(insertNode)
		if err != nil {
			return err
		}
		type item struct {
			j      *jsonNode
			parent any
		}
		stack := []item{{root, nil}}
		for seq := 0; len(stack) > 0; seq++ {
			it := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			var code any
			if it.j.Code != "" {
				code = it.j.Code
			}
			if _, err := ins.Exec(it.j.ID, it.parent, it.j.Name, code, it.j.Order, seq, now, now); err != nil {
				return err
			}
			for i := len(it.j.Children) - 1; i >= 0; i-- {
				stack = append(stack, item{it.j.Children[i], it.j.ID})
			}
		}
		return nil
	})
}

func (b *sqliteBackend) close() error {
	err := b.db.Close()
	if b.file != "" {
		os.Remove(b.file)
		os.Remove(b.file + "-wal")
		os.Remove(b.file + "-shm")
	}
	return err
}
