package replicate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/internal/recordcodec"
	"github.com/orgtree/orgtree/orgtreetest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// sampleDump is a tree with every kind of record, for the codec tests.
func sampleDump(t testing.TB, nodes int) *orgtree.Dump {
	t.Helper()
	o, err := orgtreetest.Generate(orgtreetest.Spec{Nodes: nodes, Users: 3 * nodes, Memberships: 10 * nodes, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	tr := orgtree.New(orgtree.WithLimits(orgtree.Limits{MaxChildren: -1, MaxImportNodes: -1}))
	if err := tr.Update(func(tx *orgtree.Tx) error {
		root := o.Nodes[0]
		if _, err := tx.CreateOrg(orgtree.OrgInput{ID: "org", RootID: root.ID, Name: root.Name, Code: root.Code}); err != nil {
			return err
		}
		for _, n := range o.Nodes[1:] {
			if _, err := tx.AddNode(orgtree.NodeInput{ID: n.ID, ParentID: o.Nodes[n.Parent].ID, Name: n.Name, Code: n.Code, Order: n.Order,
				NameI18n: map[string]string{"en": n.Name}}); err != nil {
				return err
			}
		}
		for _, u := range o.Users {
			if _, err := tx.CreateUser(u); err != nil {
				return err
			}
		}
		for _, m := range o.Memberships {
			if err := tx.AddMembers(o.Nodes[m.Node].ID, o.Users[m.User].ID); err != nil {
				return err
			}
		}
		return tx.SetMainDepartment(o.Users[0].ID, o.Nodes[o.Memberships[0].Node].ID)
	}); err != nil {
		t.Fatal(err)
	}
	return tr.Snapshot().Dump()
}

// decodeStream decodes snapshot data fed in pieces of the given sizes
// (cycled), as loadRecordSnapshot feeds it the chunks it fetches.
func decodeStream(data []byte, index uint64, crc uint32, sizes ...int) (*orgtree.Dump, error) {
	dec := newSnapDecoder(index, len(data))
	for i := 0; len(data) > 0; i++ {
		n := min(len(data), max(1, sizes[i%len(sizes)]))
		if err := dec.write(data[:n]); err != nil {
			return nil, err
		}
		data = data[n:]
	}
	return dec.finish(crc)
}

func TestSnapshotCodec(t *testing.T) {
	d := sampleDump(t, 400)
	data := recordcodec.EncodeDump(d)
	js, _ := json.Marshal(d)
	t.Logf("%d nodes, %d users: %d bytes, JSON %d", len(d.Nodes), len(d.Users), len(data), len(js))
	crc := crc32.Checksum(data, castagnoli)
	for _, sizes := range [][]int{{len(data)}, {1}, {1024}, {7, 300, 70_000}} {
		got, err := decodeStream(data, d.Seq, crc, sizes...)
		if err != nil {
			t.Fatalf("pieces %v: %v", sizes, err)
		}
		if !sameRecords(d, got) {
			t.Fatalf("pieces %v: decoded dump differs", sizes)
		}
	}
	// Damage: every change of the bytes is refused (the checksum at the
	// latest), never a panic.
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 100 {
		bad := bytes.Clone(data)
		if i%3 == 0 {
			bad = bad[:r.IntN(len(bad))]
		} else {
			bad[r.IntN(len(bad))] ^= byte(1 + r.IntN(255))
		}
		if _, err := decodeStream(bad, d.Seq, crc, 1+r.IntN(5000)); err == nil {
			t.Fatalf("damage %d accepted", i)
		}
	}
}

// putJSONSnapshot stores r's state as builds before the record format
// did: the Dump as JSON, metadata without a format.
func putJSONSnapshot(t *testing.T, r *Replica) uint64 {
	t.Helper()
	ctx := context.Background()
	r.mu.Lock()
	index, s := r.index, r.tree.Snapshot()
	r.mu.Unlock()
	data, err := json.Marshal(s.Dump())
	if err != nil {
		t.Fatal(err)
	}
	n, err := r.putChunks(ctx, r.snapData(index), data)
	if err != nil {
		t.Fatal(err)
	}
	mv, _ := json.Marshal(map[string]any{"index": index, "chunks": n, "bytes": len(data)})
	if _, err := r.cli.Txn(ctx).Then(
		clientv3.OpPut(r.snapKey(), string(mv)),
		clientv3.OpDelete(r.logKey(0), clientv3.WithRange(r.logKey(index+1))),
	).Commit(); err != nil {
		t.Fatal(err)
	}
	return index
}

// TestSnapshotFormatsAndDamage: a JSON snapshot of an older build loads;
// a damaged one, of either format, or damaged metadata, is refused with
// ErrBadSnapshot and nothing of it loaded; the next snapshot heals it.
func TestSnapshotFormatsAndDamage(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	cli := client(t, c.eps...)
	a := open(t, cli, "/fmt", WithSnapshotEvery(0), WithChunkSize(1024), WithEtcdCompaction())
	createOrg(t, a)
	add := func(n int) {
		t.Helper()
		for i := range n {
			if err := addNode(ctx, a, fmt.Sprintf("n%d-%d", a.Tree().Snapshot().Stats().Nodes, i), "root"); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(30)
	openFails := func(what string) {
		t.Helper()
		o, err := Open(ctx, client(t, c.eps...), "/fmt", testOpts...)
		if err == nil {
			o.Close()
			t.Fatalf("%s: open succeeded", what)
		}
		if !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("%s: open: %v, want ErrBadSnapshot", what, err)
		}
	}
	// damage flips a bit of the value under key, or cuts it short: a
	// flipped bit can leave JSON valid.
	damage := func(key string, cut bool) {
		t.Helper()
		resp, err := cli.Get(ctx, key)
		if err != nil || len(resp.Kvs) == 0 {
			t.Fatalf("%s: %v", key, err)
		}
		v := bytes.Clone(resp.Kvs[0].Value)
		if cut {
			v = v[:len(v)/2]
		} else {
			v[len(v)/2] ^= 0x20
		}
		if _, err := cli.Put(ctx, key, string(v)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("JSON snapshot of an older build", func(t *testing.T) {
		index := putJSONSnapshot(t, a)
		b := open(t, client(t, c.eps...), "/fmt")
		converged(t, a, b)
		if _, f := b.Read(); f.SnapshotLoads != 1 || f.Index != index {
			t.Fatalf("loaded %d snapshots, at %d, want 1 at %d", f.SnapshotLoads, f.Index, index)
		}
		damage(chunkKey(a.snapData(index), 1), true)
		openFails("damaged JSON snapshot")
		add(1)
		if err := a.Snapshot(ctx); err != nil {
			t.Fatal(err)
		}
		converged(t, a, open(t, client(t, c.eps...), "/fmt"))
	})

	t.Run("damaged record snapshot", func(t *testing.T) {
		// A replica that falls behind while the snapshot it then needs is
		// damaged keeps its state and says why it is behind.
		p := newProxy(t, c.eps[0])
		slow := open(t, client(t, p.url()), "/fmt", WithSnapshotEvery(0))
		converged(t, a, slow)
		before := slow.Tree().Snapshot().Dump()
		p.setCut(true)
		add(20)
		if err := a.Snapshot(ctx); err != nil { // cuts the log and compacts etcd
			t.Fatal(err)
		}
		resp, err := cli.Get(ctx, a.snapKey())
		if err != nil {
			t.Fatal(err)
		}
		meta, err := decodeSnapMeta(resp.Kvs[0].Value)
		if err != nil || meta.Format != snapFormatRecords || meta.Chunks < 2 {
			t.Fatalf("snapshot %+v, %v: want the record format in several chunks", meta, err)
		}
		damage(chunkKey(a.snapData(meta.Index), meta.Chunks/2), false)
		openFails("damaged record snapshot")
		p.setCut(false)
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, f := slow.Read()
			if errors.Is(f.Err, ErrBadSnapshot) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("behind a damaged snapshot: %+v", f)
			}
			time.Sleep(20 * time.Millisecond)
		}
		sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if err := slow.Sync(sctx); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("sync behind a damaged snapshot: %v", err)
		}
		s := slow.Tree().Snapshot()
		if err := s.Check(); err != nil || !sameRecords(before, s.Dump()) {
			t.Fatalf("the state behind a damaged snapshot changed (check: %v)", err)
		}
		// The next snapshot replaces the damaged one.
		add(1)
		if err := a.Snapshot(ctx); err != nil {
			t.Fatal(err)
		}
		converged(t, a, slow)
		if _, f := slow.Read(); f.Err != nil || f.SnapshotLoads != 2 || f.WatchReloads < 1 {
			t.Fatalf("after the next snapshot: %+v", f)
		}
	})

	t.Run("damaged snapshot key", func(t *testing.T) {
		if _, err := cli.Put(ctx, a.snapKey(), `{"index":`); err != nil {
			t.Fatal(err)
		}
		openFails("damaged snapshot key")
		add(1)
		if err := a.Snapshot(ctx); err != nil {
			t.Fatal(err)
		}
		b := open(t, client(t, c.eps...), "/fmt")
		converged(t, a, b)
	})
}

// TestEntryValue: publish's hand-made log entry is what json.Marshal
// makes of it.
func TestEntryValue(t *testing.T) {
	cs := &orgtree.ChangeSet{Seq: 3, DeletedNodes: []string{"a\"b", "ü"}}
	change, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(entry{Index: 12, Writer: newWriteID(), Change: cs})
	var e entry
	_ = json.Unmarshal(want, &e)
	if got := entryValue(12, e.Writer, change); !bytes.Equal(got, want) {
		t.Fatalf("entryValue\n%s\nwant\n%s", got, want)
	}
}
