package replicate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/internal/recordcodec"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A snapshot is the Dump of the tree after some log entry, stored as the
// value of P/snap (its snapMeta, JSON) and the data in P/snapdata/N/K
// chunks of at most the chunk size. The data is a dump stream of the
// record codec persist stores its log with (internal/recordcodec): the
// loader decodes each part of it as soon as its bytes are in, while the
// next page of chunks is on its way. Older builds stored the Dump as JSON
// (snapMeta.Format empty); those snapshots still load.

// ErrBadSnapshot means the snapshot stored in etcd could not be loaded:
// its metadata or data are damaged, incomplete or of an unknown format.
// Nothing of it is loaded: a running replica keeps the state it had and
// reports the error in Freshness.Err until a newer snapshot (written by
// any replica at its next WithSnapshotEvery interval, or by Snapshot)
// replaces the damaged one; Open fails with it.
var ErrBadSnapshot = errors.New("replicate: snapshot damaged")

// Snapshot formats (snapMeta.Format).
const (
	snapFormatJSON    = ""        // JSON of the Dump, as older builds wrote
	snapFormatRecords = "records" // the record codec, see above
)

// snapPage is how many chunks one read of a snapshot fetches: a few
// mebibytes at the default chunk size, so that decoding one page overlaps
// with fetching the next.
const snapPage = 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snapMeta is the value of the snapshot key.
type snapMeta struct {
	Index  uint64 `json:"index"`
	Chunks int    `json:"chunks"`
	Bytes  int    `json:"bytes"`
	Format string `json:"format,omitempty"`
	CRC    uint32 `json:"crc32c,omitempty"` // of the data, in the record format
}

// decodeSnapMeta reads the value of the snapshot key.
func decodeSnapMeta(val []byte) (snapMeta, error) {
	var m snapMeta
	if err := json.Unmarshal(val, &m); err != nil {
		return m, fmt.Errorf("%w: snapshot key: %w", ErrBadSnapshot, err)
	}
	if m.Chunks < 0 || m.Bytes < 0 || (m.Chunks == 0) != (m.Bytes == 0) {
		return m, fmt.Errorf("%w: snapshot key: %d bytes in %d chunks", ErrBadSnapshot, m.Bytes, m.Chunks)
	}
	return m, nil
}

// snapDecoder decodes the data of a snapshot in the record format from
// pieces of any size (the chunks as they arrive from etcd) and checks it
// against its checksum. Its errors wrap recordcodec.ErrRecord or
// errSnapData; loadSnapshot adds ErrBadSnapshot.
type snapDecoder struct {
	index uint64
	crc   uint32
	dec   *recordcodec.DumpDecoder
}

func newSnapDecoder(index uint64, total int) *snapDecoder {
	return &snapDecoder{index: index, dec: recordcodec.NewDumpDecoder(total)}
}

var errSnapData = errors.New("malformed snapshot data")

// write takes the next piece of the data and decodes what it completes.
func (d *snapDecoder) write(b []byte) error {
	d.crc = crc32.Update(d.crc, castagnoli, b)
	return d.dec.Write(b)
}

// finish checks that the data was complete and whole and returns its Dump.
func (d *snapDecoder) finish(crc uint32) (*orgtree.Dump, error) {
	if d.crc != crc {
		return nil, fmt.Errorf("%w: checksum mismatch", errSnapData)
	}
	dump, err := d.dec.Finish()
	if err != nil {
		return nil, err
	}
	dump.Seq = d.index
	return dump, nil
}

// loadSnapshot replaces the replica's tree with the snapshot meta names,
// read at revision rev. Errors that the data causes wrap ErrBadSnapshot;
// the others are etcd's (a compacted revision, a lost connection), worth
// another try. Either way the tree is left as it was.
func (r *Replica) loadSnapshot(ctx context.Context, meta snapMeta, rev int64) error {
	var d *orgtree.Dump
	var err error
	switch meta.Format {
	case snapFormatJSON:
		d, err = r.loadJSONSnapshot(ctx, meta, rev)
	case snapFormatRecords:
		d, err = r.loadRecordSnapshot(ctx, meta, rev)
	default:
		err = fmt.Errorf("%w: snapshot %d: format %q", ErrBadSnapshot, meta.Index, meta.Format)
	}
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.index >= meta.Index {
		return nil // caught up meanwhile (its own writes): never go back
	}
	// Replace checks the records and builds the tree aside: a dump it
	// refuses leaves the tree as it was.
	if err := r.tree.Replace(d); err != nil {
		return fmt.Errorf("%w: snapshot %d: %w", ErrBadSnapshot, meta.Index, err)
	}
	r.index = meta.Index
	r.loads++
	r.cond.Broadcast()
	return nil
}

func (r *Replica) loadJSONSnapshot(ctx context.Context, meta snapMeta, rev int64) (*orgtree.Dump, error) {
	data, err := r.readChunks(ctx, r.snapData(meta.Index), meta.Chunks, rev)
	if err != nil {
		if errors.Is(err, errMissingChunks) {
			return nil, fmt.Errorf("%w: snapshot %d: %w", ErrBadSnapshot, meta.Index, err)
		}
		return nil, fmt.Errorf("snapshot %d: %w", meta.Index, err)
	}
	if len(data) != meta.Bytes {
		return nil, fmt.Errorf("%w: snapshot %d: %d bytes, %d announced", ErrBadSnapshot, meta.Index, len(data), meta.Bytes)
	}
	var d orgtree.Dump
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%w: snapshot %d: %w", ErrBadSnapshot, meta.Index, err)
	}
	return &d, nil
}

// loadRecordSnapshot reads the chunks a page at a time, the next page
// fetched while the last one is decoded.
func (r *Replica) loadRecordSnapshot(ctx context.Context, meta snapMeta, rev int64) (*orgtree.Dump, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dir := r.snapData(meta.Index)
	pages := make(chan *clientv3.GetResponse, 1)
	var fetchErr error
	go func() {
		defer close(pages)
		key, end := dir, clientv3.GetPrefixRangeEnd(dir)
		for {
			resp, err := r.cli.Get(ctx, key, clientv3.WithRange(end), clientv3.WithRev(rev), clientv3.WithLimit(snapPage),
				clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
			if err != nil {
				fetchErr = err
				return
			}
			select {
			case pages <- resp:
			case <-ctx.Done():
				return
			}
			if !resp.More || len(resp.Kvs) == 0 {
				return
			}
			key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		}
	}()
	bad := func(err error) error { return fmt.Errorf("%w: snapshot %d: %w", ErrBadSnapshot, meta.Index, err) }
	dec := newSnapDecoder(meta.Index, meta.Bytes)
	n := 0
	var err error
	for resp := range pages {
		if err != nil {
			continue // drain: the fetcher stops at the cancel below
		}
		if n == 0 {
			// The first page counts the chunks there are, and every chunk
			// but the last is as long as the first: the metadata's size is
			// checked against the data before anything is allocated for it.
			switch {
			case resp.Count != int64(meta.Chunks):
				err = bad(fmt.Errorf("%w: %d chunks, want %d", errMissingChunks, resp.Count, meta.Chunks))
			case len(resp.Kvs) > 0 && meta.Bytes > meta.Chunks*len(resp.Kvs[0].Value):
				err = bad(fmt.Errorf("%w: %d bytes announced in %d chunks of %d", errSnapData, meta.Bytes, meta.Chunks, len(resp.Kvs[0].Value)))
			}
		}
		for _, kv := range resp.Kvs {
			if err != nil {
				break
			}
			if string(kv.Key) != chunkKey(dir, n) {
				err = bad(fmt.Errorf("%w: chunk %q, want %q", errMissingChunks, kv.Key, chunkKey(dir, n)))
				break
			}
			n++
			if err = dec.write(kv.Value); err != nil {
				err = bad(err)
			}
		}
		if err != nil {
			cancel()
		}
	}
	if err != nil {
		return nil, err
	}
	if fetchErr != nil {
		return nil, fmt.Errorf("snapshot %d: %w", meta.Index, fetchErr)
	}
	if n != meta.Chunks {
		return nil, bad(fmt.Errorf("%w: %d chunks, want %d", errMissingChunks, n, meta.Chunks))
	}
	d, err := dec.finish(meta.CRC)
	if err != nil {
		return nil, bad(err)
	}
	return d, nil
}

// wantSnapshot returns the snapshot to store after a successful write of
// an entry whose index is a multiple of the snapshot interval. Caller
// holds r.mu, so the tree's newest version is the one at r.index.
func (r *Replica) wantSnapshot(err error) *pendingSnap {
	k := r.cfg.snapshotEvery
	if err != nil || k == 0 || r.index%k != 0 || r.snapping {
		return nil
	}
	r.snapping = true
	return &pendingSnap{index: r.index, snap: r.tree.Snapshot()}
}

type pendingSnap struct {
	index uint64
	snap  orgtree.Snapshot
}

// saveSnapshot stores p, then deletes what it makes unnecessary.
func (r *Replica) saveSnapshot(p *pendingSnap) {
	defer r.wg.Done()
	defer func() { r.mu.Lock(); r.snapping = false; r.mu.Unlock() }()
	_ = r.saveSnapshotAt(r.ctx, p.index, p.snap)
}

// Snapshot stores a snapshot of the replica's current state in etcd now
// (as WithSnapshotEvery does periodically) and deletes the log up to it.
func (r *Replica) Snapshot(ctx context.Context) error {
	r.mu.Lock()
	i, s := r.index, r.tree.Snapshot()
	r.mu.Unlock()
	return r.saveSnapshotAt(ctx, i, s)
}

// saveSnapshotAt stores s, which must be this replica's tree after index
// log entries, unless etcd already holds a snapshot as new. A snapshot key
// that does not decode is replaced: the new snapshot heals the cluster.
func (r *Replica) saveSnapshotAt(ctx context.Context, index uint64, s orgtree.Snapshot) error {
	if index == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*r.cfg.timeout)
	defer cancel()
	cur, err := r.cli.Get(ctx, r.snapKey())
	if err != nil {
		return unavailable("snapshot", err)
	}
	var old snapMeta
	var oldRev int64
	if len(cur.Kvs) > 0 {
		old, _ = decodeSnapMeta(cur.Kvs[0].Value) // damaged: index 0, replaced
		oldRev = cur.Kvs[0].ModRevision
	}
	if old.Index >= index {
		return nil
	}
	data := recordcodec.EncodeDump(s.Dump())
	meta := snapMeta{Index: index, Bytes: len(data), Format: snapFormatRecords, CRC: crc32.Checksum(data, castagnoli)}
	dir := r.snapData(index)
	if meta.Chunks, err = r.putChunks(ctx, dir, data); err != nil {
		return unavailable("snapshot", err)
	}
	mv, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	guard := clientv3.Compare(clientv3.ModRevision(r.snapKey()), "=", oldRev)
	resp, err := r.cli.Txn(ctx).If(guard).Then(
		clientv3.OpPut(r.snapKey(), string(mv)),
		clientv3.OpDelete(r.logKey(0), clientv3.WithRange(r.logKey(index+1))),
		clientv3.OpDelete(r.chunkDir(0, ""), clientv3.WithRange(r.chunkDir(index+1, ""))),
		clientv3.OpDelete(r.snapData(0), clientv3.WithRange(dir)),
	).Commit()
	if err != nil {
		return unavailable("snapshot", err)
	}
	if !resp.Succeeded { // another replica stored one meanwhile
		_, _ = r.cli.Delete(ctx, dir, clientv3.WithPrefix())
		return nil
	}
	if r.cfg.compact {
		if _, err := r.cli.Compact(ctx, resp.Header.Revision); err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
			return unavailable("compact", err)
		}
	}
	return nil
}
