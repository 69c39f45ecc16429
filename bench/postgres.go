package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/orgtree/orgtree"
)

// postgresBackend is the org in PostgreSQL as a competent team keeps it:
// one schema holding an adjacency list (parent_id, with indexes on parent,
// org+code and members) and an ltree path per node (a GiST index) that
// answers the subtree questions with `path <@ subtree`; substring search
// uses a pg_trgm GIN index. It connects with pgx through a pool; each
// instance is a schema of its own, dropped on close. Writes are durable
// (the server's defaults: synchronous_commit on).
type postgresBackend struct {
	pool   *pgxpool.Pool
	schema string
}

var pgSchemas atomic.Int64

const pgTables = `
CREATE TABLE nodes(id text PRIMARY KEY, org_id text NOT NULL, parent_id text, name text NOT NULL, code text,
	ord int NOT NULL, created bigint NOT NULL, path ltree NOT NULL, description text NOT NULL DEFAULT '',
	external_id text, leader_user_id text, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE users(id text PRIMARY KEY, name text, created bigint NOT NULL);
CREATE TABLE members(node_id text NOT NULL, user_id text NOT NULL, PRIMARY KEY(node_id, user_id));
`

// pgIndexes are built after a bulk load, which is how one loads fast. The
// trigram index takes its updates at once (fastupdate off): with the
// default pending list, every search after a large move scanned the
// move's whole backlog (search went from 17 ms to 320 ms at 10k nodes
// until a vacuum).
const pgIndexes = `
CREATE INDEX nodes_parent ON nodes(parent_id);
CREATE UNIQUE INDEX nodes_code ON nodes(org_id, code);
CREATE INDEX nodes_path ON nodes USING gist(path);
CREATE INDEX nodes_name_trgm ON nodes USING gin(lower(name) gin_trgm_ops) WITH (fastupdate = off);
CREATE INDEX members_user ON members(user_id);
CREATE INDEX users_created ON users(created, id);
ANALYZE;
`

// pgNamePath is a lateral subquery: the names of n's path, root first,
// found by the ids its ltree labels are.
const pgNamePath = `LATERAL (SELECT array_agg(a.name ORDER BY o.i) AS names
		FROM unnest(string_to_array(n.path::text, '.')) WITH ORDINALITY o(aid, i) JOIN nodes a ON a.id = o.aid) np`

// pgRank is a hit's MatchRank; $2 is the lower-cased query.
var pgRank = sqlRank("n", "$2", "starts_with(lower(n.name), $2)")

// pgHitOrder is orgtree's order of search hits.
const pgHitOrder = `rank, nlevel(n.path), n.name COLLATE "C", n.id COLLATE "C"`

// The subtree queries take the subtree's path as a parameter, read first:
// with the path inside the query (a sub-select) the planner cannot tell
// the root from a leaf and picks one plan for both, seconds for one of
// them; with the path known, and a custom plan per call
// (plan_cache_mode), ltree's statistics choose a plan per subtree.
const pgSubtree = `$1::ltree`

var pgQueries = struct {
	lookupID, lookupCode, path, children, subtreeCount, firstPage, search, searchTop, move, addMember, removeMember, rename string
}{
	lookupID:   `SELECT ` + sqlNodeColumns("nodes") + ` FROM nodes WHERE id = $1`,
	lookupCode: `SELECT ` + sqlNodeColumns("nodes") + ` FROM nodes WHERE org_id = $1 AND code = $2`,
	path:       `SELECT path::text FROM nodes WHERE id = $1`,
	children:   `SELECT id FROM nodes WHERE parent_id = $1 ORDER BY ord DESC, created, id COLLATE "C"`,
	subtreeCount: `SELECT count(DISTINCT m.user_id) FROM members m JOIN nodes n ON n.id = m.node_id
		WHERE n.path <@ ` + pgSubtree,
	// The member set first, then the page: left to itself the planner may
	// walk users in creation order probing each for membership, quick for
	// the root and seconds for a small subtree whose members come late.
	firstPage: `WITH s AS MATERIALIZED (SELECT DISTINCT m.user_id FROM members m JOIN nodes n ON n.id = m.node_id
		WHERE n.path <@ ` + pgSubtree + `) SELECT u.id FROM s JOIN users u ON u.id = s.user_id ORDER BY u.created, u.id COLLATE "C" LIMIT $2`,
	search: `SELECT ` + sqlNodeColumns("n") + `, ` + pgRank + `, np.names FROM nodes n, ` + pgNamePath + `
		WHERE lower(n.name) LIKE $1`,
	// The best k first, then their name paths.
	searchTop: `WITH top AS (SELECT n.*, ` + pgRank + ` AS rank FROM nodes n WHERE lower(n.name) LIKE $1
		ORDER BY ` + pgHitOrder + ` LIMIT $3)
		SELECT ` + sqlNodeColumns("n") + `, n.rank, np.names FROM top n, ` + pgNamePath + ` ORDER BY ` + pgHitOrder,
	// One statement, atomic: rewrite the paths of the subtree unless the
	// new parent is inside it, and say which it was.
	move: `WITH n AS (SELECT path FROM nodes WHERE id = $1), p AS (SELECT path FROM nodes WHERE id = $2),
		u AS (UPDATE nodes SET path = p.path || subpath(nodes.path, nlevel(n.path) - 1),
			parent_id = CASE WHEN nodes.id = $1 THEN $2 ELSE nodes.parent_id END, updated_at = now()
			FROM n, p WHERE nodes.path <@ n.path AND NOT p.path <@ n.path RETURNING 1)
		SELECT (SELECT p.path <@ n.path FROM n, p), (SELECT count(*) FROM u)`,
	addMember:    `INSERT INTO members(node_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
	removeMember: `DELETE FROM members WHERE node_id = $1 AND user_id = $2`,
	rename:       `UPDATE nodes SET name = $1, updated_at = now() WHERE id = $2`,
}

// newPostgres makes a fresh schema on the server at url.
func newPostgres(url string) (*postgresBackend, error) {
	ctx := context.Background()
	b := &postgresBackend{schema: fmt.Sprintf("bench_%d_%d", time.Now().UnixNano()%1e9, pgSchemas.Add(1))}
	setup, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer setup.Close(ctx)
	if err := pgExtensions(ctx, setup); err != nil {
		return nil, err
	}
	if _, err := setup.Exec(ctx, `CREATE SCHEMA `+b.schema+`;`+strings.ReplaceAll(pgTables, "TABLE ", "TABLE "+b.schema+".")); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = b.schema + ", public"
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	// JIT compiles a query whose estimated cost crosses jit_above_cost:
	// after large moves leave dead row versions behind, a search's
	// estimate does, and each search then spent 130 ms compiling for 15 ms
	// of work. Short OLTP queries are run with JIT off.
	cfg.ConnConfig.RuntimeParams["jit"] = "off"
	cfg.MaxConns = 4
	// pgx knows ltree's codec but not the type's oid, which the extension
	// picks: COPY sends paths in the binary format, which needs both.
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		var oid uint32
		if err := conn.QueryRow(ctx, `SELECT 'ltree'::regtype::oid`).Scan(&oid); err != nil {
			return err
		}
		conn.TypeMap().RegisterType(&pgtype.Type{Name: "ltree", OID: oid, Codec: pgtype.LtreeCodec{}})
		return nil
	}
	if b.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, err
	}
	return b, nil
}

// pgExtensions installs ltree and pg_trgm once per database. Two sessions
// creating an extension at once can collide on the catalog's unique index
// even with IF NOT EXISTS: the loser tries again.
func pgExtensions(ctx context.Context, conn *pgx.Conn) error {
	var err error
	for range 3 {
		if _, err = conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS ltree; CREATE EXTENSION IF NOT EXISTS pg_trgm`); err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
			break
		}
	}
	return fmt.Errorf("postgres: the ltree and pg_trgm extensions (in Debian's postgresql package): %w", err)
}

func (b *postgresBackend) name() string { return "postgres" }

// pgNodeRow is a row of the nodes table as COPY sends it.
func pgNodeRow(id, parent, name, code, path string, order int, seq int64, now time.Time) []any {
	var p, c any
	if parent != "" {
		p = parent
	}
	if code != "" {
		c = code
	}
	return []any{id, orgID, p, name, c, order, seq, path, now, now}
}

var pgNodeCopyColumns = []string{"id", "org_id", "parent_id", "name", "code", "ord", "created", "path", "created_at", "updated_at"}

// bulk loads rows with COPY and builds the indexes, in one transaction.
func (b *postgresBackend) bulk(nodes, users, members [][]any) error {
	ctx := context.Background()
	return pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		for _, t := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"nodes", pgNodeCopyColumns, nodes},
			{"users", []string{"id", "name", "created"}, users},
			{"members", []string{"node_id", "user_id"}, members},
		} {
			if len(t.rows) == 0 {
				continue
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{b.schema, t.table}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
				return fmt.Errorf("copy %s: %w", t.table, err)
			}
		}
		_, err := tx.Exec(ctx, pgIndexes)
		return err
	})
}

// ltreeLabel checks that an id can be an ltree label, which the paths are
// made of.
func ltreeLabel(id string) error {
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return fmt.Errorf("postgres: id %q cannot be an ltree label", id)
		}
	}
	return nil
}

func (b *postgresBackend) load(o *synthOrg) error {
	now := time.Now()
	paths := make([]string, len(o.nodes))
	nodes := make([][]any, len(o.nodes))
	for i, n := range o.nodes {
		if err := ltreeLabel(n.id); err != nil {
			return err
		}
		parent := ""
		paths[i] = n.id
		if n.parent >= 0 {
			parent = o.nodes[n.parent].id
			paths[i] = paths[n.parent] + "." + n.id
		}
		nodes[i] = pgNodeRow(n.id, parent, n.name, n.code, paths[i], n.order, int64(i), now)
	}
	users := make([][]any, len(o.users))
	for i, u := range o.users {
		users[i] = []any{u.id, u.name, u.created}
	}
	members := make([][]any, len(o.members))
	for i, m := range o.members {
		members[i] = []any{o.nodes[m[0]].id, o.users[m[1]].id}
	}
	return b.bulk(nodes, users, members)
}

// pgScanNode reads the sqlNodeColumns of one row, then extra.
func pgScanNode(row pgx.Row, extra ...any) (orgtree.Node, bool) {
	n := orgtree.Node{OrgID: orgID}
	err := row.Scan(append([]any{&n.ID, &n.ParentID, &n.Name, &n.Code, &n.Order,
		&n.Description, &n.ExternalID, &n.LeaderUserID, &n.CreatedAt, &n.UpdatedAt}, extra...)...)
	if err != nil {
		return orgtree.Node{}, false
	}
	return n, true
}

func (b *postgresBackend) node(q string, args ...any) (orgtree.Node, bool) {
	return pgScanNode(b.pool.QueryRow(context.Background(), q, args...))
}

// hits runs a search query whose rows are a node, its rank and name path.
func (b *postgresBackend) hits(q string, args ...any) []orgtree.SearchHit {
	rows, err := b.pool.Query(context.Background(), q, args...)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out []orgtree.SearchHit
	for rows.Next() {
		var h orgtree.SearchHit
		var rank int
		var ok bool
		if h.Node, ok = pgScanNode(rows, &rank, &h.NamePath); ok {
			h.Rank = orgtree.MatchRank(rank)
			out = append(out, h)
		}
	}
	return out
}

func (b *postgresBackend) lookupID(id string) (orgtree.Node, bool) {
	return b.node(pgQueries.lookupID, id)
}

func (b *postgresBackend) lookupCode(code string) (orgtree.Node, bool) {
	return b.node(pgQueries.lookupCode, orgID, code)
}

func (b *postgresBackend) strings(q string, args ...any) []string {
	rows, err := b.pool.Query(context.Background(), q, args...)
	if err != nil {
		return nil
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil
	}
	return out
}

func (b *postgresBackend) path(id string) []string {
	if p := b.pathOf(id); p != "" {
		return strings.Split(p, ".") // labels are the ids
	}
	return nil
}

func (b *postgresBackend) children(id string) []string { return b.strings(pgQueries.children, id) }

func (b *postgresBackend) move(id, parent string) error {
	var cycle *bool
	var moved int64
	if err := b.pool.QueryRow(context.Background(), pgQueries.move, id, parent).Scan(&cycle, &moved); err != nil {
		return err
	}
	switch {
	case cycle == nil:
		return fmt.Errorf("move %s under %s: no such node", id, parent)
	case *cycle:
		return errCycle
	}
	return nil
}

// pathOf reads the ltree path of a node, "" when there is no such node.
func (b *postgresBackend) pathOf(id string) string {
	var p string
	_ = b.pool.QueryRow(context.Background(), pgQueries.path, id).Scan(&p)
	return p
}

func (b *postgresBackend) subtreeCount(id string) int {
	var n int
	if p := b.pathOf(id); p != "" {
		_ = b.pool.QueryRow(context.Background(), pgQueries.subtreeCount, p).Scan(&n)
	}
	return n
}

func (b *postgresBackend) firstPage(id string, limit int) []string {
	p := b.pathOf(id)
	if p == "" {
		return nil
	}
	return b.strings(pgQueries.firstPage, p, limit)
}

// likeContains is the LIKE pattern of a substring, its wildcards escaped.
func likeContains(q string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q) + "%"
}

func (b *postgresBackend) search(q string) []orgtree.SearchHit {
	q = strings.ToLower(q)
	return b.hits(pgQueries.search, likeContains(q), q)
}

func (b *postgresBackend) searchTop(q string, k int) []orgtree.SearchHit {
	q = strings.ToLower(q)
	return b.hits(pgQueries.searchTop, likeContains(q), q, k)
}

func (b *postgresBackend) exec(q string, args ...any) error {
	_, err := b.pool.Exec(context.Background(), q, args...)
	return err
}

func (b *postgresBackend) addMember(node, user string) error {
	return b.exec(pgQueries.addMember, node, user)
}

func (b *postgresBackend) removeMember(node, user string) error {
	return b.exec(pgQueries.removeMember, node, user)
}

func (b *postgresBackend) rename(id, name string) error { return b.exec(pgQueries.rename, name, id) }

// exportJSON reads every node in one query and nests them in memory.
func (b *postgresBackend) exportJSON(w io.Writer) error {
	rows, err := b.pool.Query(context.Background(), `SELECT id, coalesce(parent_id, ''), name, coalesce(code, ''), ord FROM nodes ORDER BY ord DESC, created, id COLLATE "C"`)
	if err != nil {
		return err
	}
	defer rows.Close()
	return exportRows(w, rows)
}

func (b *postgresBackend) importJSON(r io.Reader) error {
	root, err := decodeDoc(r)
	if err != nil {
		return err
	}
	now := time.Now()
	type item struct {
		j            *jsonNode
		parent, path string
	}
	var rows [][]any
	stack := []item{{root, "", ""}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if err := ltreeLabel(it.j.ID); err != nil {
			return err
		}
		path := it.j.ID
		if it.path != "" {
			path = it.path + "." + it.j.ID
		}
		rows = append(rows, pgNodeRow(it.j.ID, it.parent, it.j.Name, it.j.Code, path, it.j.Order, int64(len(rows)), now))
		for i := len(it.j.Children) - 1; i >= 0; i-- {
			stack = append(stack, item{it.j.Children[i], it.j.ID, path})
		}
	}
	return b.bulk(rows, nil, nil)
}

func (b *postgresBackend) close() error {
	_, err := b.pool.Exec(context.Background(), `DROP SCHEMA `+b.schema+` CASCADE`)
	b.pool.Close()
	return err
}
