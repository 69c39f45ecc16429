package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

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
CREATE TABLE nodes(id TEXT PRIMARY KEY, parent_id TEXT, name TEXT NOT NULL, code TEXT, ord INTEGER NOT NULL, created INTEGER NOT NULL);
CREATE INDEX nodes_parent ON nodes(parent_id);
CREATE UNIQUE INDEX nodes_code ON nodes(code);
CREATE TABLE users(id TEXT PRIMARY KEY, name TEXT, created INTEGER NOT NULL);
CREATE TABLE members(node_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY(node_id, user_id)) WITHOUT ROWID;
CREATE INDEX members_user ON members(user_id);
`

const subtreeCTE = `WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.parent_id = sub.id) `

var sqliteQueries = map[string]string{
	"lookupID":   `SELECT name FROM nodes WHERE id = ?`,
	"lookupCode": `SELECT id FROM nodes WHERE code = ?`,
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
	"search":       `SELECT id FROM nodes WHERE name LIKE '%' || ? || '%'`,
	"addMember":    `INSERT OR IGNORE INTO members(node_id, user_id) VALUES (?, ?)`,
	"removeMember": `DELETE FROM members WHERE node_id = ? AND user_id = ?`,
	"rename":       `UPDATE nodes SET name = ? WHERE id = ?`,
}

func newSQLite(file bool, dir string) (*sqliteBackend, error) {
	b := &sqliteBackend{label: "sqlite-mem", stmts: map[string]*sql.Stmt{}}
	dsn := "file::memory:"
	if file {
		f, err := os.CreateTemp(dir, "bench-*.sqlite")
		if err != nil {
			return nil, err
		}
		f.Close()
		b.label, b.file = "sqlite-file", f.Name()
		dsn = "file:" + filepath.ToSlash(b.file) + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
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

func (b *sqliteBackend) name() string { return b.label }

func (b *sqliteBackend) load(o *synthOrg) error {
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
			if _, err := ins.Exec(n.id, parent, n.name, n.code, n.order, i); err != nil {
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

const insertNode = `INSERT INTO nodes(id, parent_id, name, code, ord, created) VALUES (?, ?, ?, ?, ?, ?)`

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

func (b *sqliteBackend) one(stmt string, args ...any) (string, bool) {
	var s string
	if err := b.stmts[stmt].QueryRow(args...).Scan(&s); err != nil {
		return "", false
	}
	return s, true
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

func (b *sqliteBackend) lookupID(id string) (string, bool)     { return b.one("lookupID", id) }
func (b *sqliteBackend) lookupCode(code string) (string, bool) { return b.one("lookupCode", code) }
func (b *sqliteBackend) path(id string) []string               { return b.strings("path", id) }
func (b *sqliteBackend) children(id string) []string           { return b.strings("children", id) }
func (b *sqliteBackend) search(q string) []string              { return b.strings("search", q) }

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
	_, err := b.stmts["rename"].Exec(name, id)
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
	byID := map[string]*jsonNode{}
	parents := map[string]string{}
	var order []string
	for rows.Next() {
		j := &jsonNode{Children: []*jsonNode{}}
		var parent string
		if err := rows.Scan(&j.ID, &parent, &j.Name, &j.Code, &j.Order); err != nil {
			return err
		}
		byID[j.ID], parents[j.ID] = j, parent
		order = append(order, j.ID)
	}
	var roots []*jsonNode
	for _, id := range order {
		if p := parents[id]; p == "" {
			roots = append(roots, byID[id])
		} else {
			byID[p].Children = append(byID[p].Children, byID[id])
		}
	}
	return json.NewEncoder(w).Encode(roots)
}

func (b *sqliteBackend) importJSON(r io.Reader) error {
	var roots []*jsonNode
	if err := json.NewDecoder(r).Decode(&roots); err != nil {
		return err
	}
	return b.inTx(func(tx *sql.Tx) error {
		ins, err := tx.Prepare(insertNode)
		if err != nil {
			return err
		}
		type item struct {
			j      *jsonNode
			parent any
		}
		stack := []item{{roots[0], nil}}
		for seq := 0; len(stack) > 0; seq++ {
			it := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			var code any
			if it.j.Code != "" {
				code = it.j.Code
			}
			if _, err := ins.Exec(it.j.ID, it.parent, it.j.Name, code, it.j.Order, seq); err != nil {
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
