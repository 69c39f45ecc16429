package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/persist"
)

// openAStore measures the "open a store" row: the time from nothing in
// memory to the first answer, the path of a deepest node, as a service
// restart or a CLI command sees it. For orgtree that is persist.Open of a
// store holding the org (read, checksum and decode every record, the
// engine's bulk build) and the query; for sqlite-file a new handle on its
// file and the query. Both files were just written, so both are in the
// page cache. Other backends have no file: zero.
func openAStore(cfg config, e env, b backend, o *synthOrg, w *workload) (time.Duration, int64, error) {
	id := w.deep[0]
	switch b := b.(type) {
	case *orgtreeBackend:
		dir, err := os.MkdirTemp(e.dir, "persist-")
		if err != nil {
			return 0, 0, err
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "org.db")
		opts := persist.WithTreeOptions(benchTreeOptions...)
		db, err := persist.Open(path, opts)
		if err != nil {
			return 0, 0, err
		}
		if err := (&orgtreeBackend{t: db.Tree()}).load(o); err != nil {
			db.Close()
			return 0, 0, err
		}
		if err := db.Close(); err != nil {
			return 0, 0, err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return 0, 0, err
		}
		d := measureBest(cfg.budget, 3, func() {
			db, err := persist.Open(path, opts)
			must(err)
			if p, err := db.Tree().Path(id); err != nil || len(p) == 0 {
				must(fmt.Errorf("path of %s in the opened store: %v %w", id, p, err))
			}
			must(db.Close())
		})
		return d, fi.Size(), nil
	case *sqliteBackend:
		if b.file == "" {
			return 0, 0, nil
		}
		fi, err := os.Stat(b.file)
		if err != nil {
			return 0, 0, err
		}
		size := fi.Size()
		if wal, err := os.Stat(b.file + "-wal"); err == nil {
			size += wal.Size()
		}
		d := measureBest(cfg.budget, 3, func() {
			n, err := b.openAndQuery(id)
			must(err)
			if n == 0 {
				must(fmt.Errorf("path of %s in the opened file: no rows", id))
			}
		})
		return d, size, nil
	}
	return 0, 0, nil
}

// benchTreeOptions make every orgtree tree of the bench: no limit on
// children or import size (the synthetic org is large).
var benchTreeOptions = []orgtree.Option{orgtree.WithLimits(orgtree.Limits{MaxChildren: -1, MaxImportNodes: -1})}
