package orgtree

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

// benchTree builds a realistic org: fan-out 5–15 down to n nodes, ASCII and
// Chinese names, users in random departments. Built once per size.
type benchFixture struct {
	tr    *Tree
	org   Org
	ids   []string
	codes []string
	deep  string // a deepest node
	users []string
}

var benchCache = map[int]*benchFixture{}

func benchFix(b *testing.B, n int) *benchFixture {
	if f, ok := benchCache[n]; ok {
		return f
	}
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	tr := New(WithLimits(Limits{MaxChildren: -1}))
	f := &benchFixture{tr: tr}
	words := []string{"研发", "运营", "市场", "Sales", "Platform", "后端", "前端", "Finance", "支持", "Design"}
	err := tr.Update(func(tx *Tx) error {
		org, err := tx.CreateOrg(OrgInput{Name: "Bench", Code: "c0"})
		if err != nil {
			return err
		}
		f.org = org
		f.ids = append(f.ids, org.RootID)
		f.codes = append(f.codes, "c0")
		depth := map[string]int{org.RootID: 0}
		for queue := []string{org.RootID}; len(f.ids) < n && len(queue) > 0; queue = queue[1:] {
			parent := queue[0]
			if depth[parent] >= 11 {
				continue
			}
			for k := 5 + rng.IntN(11); k > 0 && len(f.ids) < n; k-- {
				code := fmt.Sprintf("c%d", len(f.ids))
				node, err := tx.AddNode(NodeInput{ParentID: parent, Code: code, Name: fmt.Sprintf("%s %d", words[rng.IntN(len(words))], len(f.ids))})
				if err != nil {
					return err
				}
				f.ids = append(f.ids, node.ID)
				f.codes = append(f.codes, code)
				depth[node.ID] = depth[parent] + 1
				if depth[node.ID] > depth[f.deep] {
					f.deep = node.ID
				}
				queue = append(queue, node.ID)
			}
		}
		for i := 0; i < n*3; i++ {
			u, err := tx.CreateUser(User{Name: fmt.Sprintf("user %d", i)})
			if err != nil {
				return err
			}
			f.users = append(f.users, u.ID)
			if err := tx.AddMembers(f.ids[rng.IntN(len(f.ids))], u.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	benchCache[n] = f
	return f
}

const benchNodes = 100000

func BenchmarkLookup(b *testing.B) {
	f := benchFix(b, benchNodes)
	plain := make(map[string]int, len(f.ids))
	for i, id := range f.ids {
		plain[id] = i
	}
	s := f.tr.Snapshot()
	b.Run("builtin-map", func(b *testing.B) {
		b.ReportAllocs()
		sum := 0
		for i := 0; b.Loop(); i++ {
			sum += plain[f.ids[i%len(f.ids)]]
		}
		_ = sum
	})
	b.Run("handle-by-id", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, r, ok := s.st.nodeByID(f.ids[i%len(f.ids)]); !ok || r == nil {
				b.Fatal("missing")
			}
		}
	})
	// A loaded (or imported) tree has its id index folded into one built-in
	// map; a tree grown by many small writes keeps up to 1/16 of its ids in
	// the persistent delta in front of it.
	loaded := New()
	if err := loaded.Load(s.Dump()); err != nil {
		b.Fatal(err)
	}
	ls := loaded.Snapshot()
	b.Run("handle-by-id-loaded", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, r, ok := ls.st.nodeByID(f.ids[i%len(f.ids)]); !ok || r == nil {
				b.Fatal("missing")
			}
		}
	})
	b.Run("Node", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := f.tr.Node(f.ids[i%len(f.ids)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("NodeByCode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := f.tr.NodeByCode(f.org.ID, f.codes[i%len(f.codes)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPath(b *testing.B) {
	f := benchFix(b, benchNodes)
	d, _ := f.tr.Depth(f.deep)
	b.ReportMetric(float64(d), "depth")
	for name, fn := range map[string]func(string) ([]string, error){"ids": f.tr.Path, "names": f.tr.NamePath, "codes": f.tr.CodePath} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fn(f.deep); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMove(b *testing.B) {
	f := benchFix(b, benchNodes)
	kids, _ := f.tr.ChildIDs(f.org.RootID)
	big, other := kids[0], kids[1]
	home, _ := f.tr.Node(big)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		dest := other
		if i%2 == 1 {
			dest = home.ParentID
		}
		if _, err := f.tr.MoveNode(big, dest); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMoveLeaf moves a small subtree near the leaves: the common case,
// O(depth).
func BenchmarkMoveLeaf(b *testing.B) {
	f := benchFix(b, benchNodes)
	leaf := f.ids[len(f.ids)-1]
	home, _ := f.tr.Node(leaf)
	other := f.ids[len(f.ids)/2]
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		dest := other
		if i%2 == 1 {
			dest = home.ParentID
		}
		if _, err := f.tr.MoveNode(leaf, dest); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSubtreeMembers(b *testing.B) {
	f := benchFix(b, benchNodes)
	b.Run("count-root", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.tr.MemberCount(f.org.RootID, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first-page-root", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.tr.ListMembers(f.org.RootID, ListMembersOptions{IncludeDescendants: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSearch(b *testing.B) {
	f := benchFix(b, benchNodes)
	for _, kw := range []string{"platform 12", "研", "后端"} {
		b.Run(kw, func(b *testing.B) {
			for b.Loop() {
				if _, err := f.tr.Search(kw, SearchOptions{Limit: 20}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkExportJSON(b *testing.B) {
	f := benchFix(b, benchNodes)
	var n countingWriter
	_ = f.tr.ExportJSON(&n, f.org.ID, ExportOptions{})
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		if err := f.tr.ExportJSON(io.Discard, f.org.ID, ExportOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddNode(b *testing.B) {
	f := benchFix(b, benchNodes)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := f.tr.AddNode(NodeInput{ParentID: f.ids[i%len(f.ids)], Name: "new"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImportJSON parses and imports the bench org's export: with
// members (parse, import, parse+import) and, as go run ./bench does, nodes
// only with the document's ids kept (nodes/...).
func BenchmarkImportJSON(b *testing.B) {
	f := benchFix(b, benchNodes)
	for _, c := range []struct {
		prefix string
		export ExportOptions
		opt    ImportOptions
	}{
		{"", ExportOptions{OmitPaths: true}, ImportOptions{}},
		{"nodes/", ExportOptions{OmitPaths: true, OmitMembers: true}, ImportOptions{KeepIDs: true}},
	} {
		var doc bytesBuffer
		if err := f.tr.ExportJSON(&doc, f.org.ID, c.export); err != nil {
			b.Fatal(err)
		}
		b.Run(c.prefix+"parse", func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := ParseTreeJSON(doc.reader(), Limits{MaxChildren: -1}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.prefix+"import", func(b *testing.B) {
			roots, _, err := ParseTreeJSON(doc.reader(), Limits{MaxChildren: -1})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				tr := New(WithLimits(Limits{MaxChildren: -1}))
				if _, err := tr.Import(roots, c.opt); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.prefix+"parse+import", func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				tr := New(WithLimits(Limits{MaxChildren: -1}))
				if _, err := tr.ImportJSON(doc.reader(), c.opt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type bytesBuffer []byte

func (b *bytesBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }
func (b bytesBuffer) reader() io.Reader            { return bytes.NewReader(b) }

// BenchmarkMemory reports heap bytes per node (names, codes, indexes) and
// per membership, measured by building 100k nodes and then 1M memberships
// for 300k users in one transaction each.
func BenchmarkMemory(b *testing.B) {
	for b.Loop() {
		heap := func() uint64 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return m.HeapAlloc
		}
		rng := rand.New(rand.NewPCG(1, 2))
		tr := New(WithLimits(Limits{MaxChildren: -1}))
		base := heap()
		var ids []string
		_ = tr.Update(func(tx *Tx) error {
			org, _ := tx.CreateOrg(OrgInput{Name: "Bench"})
			ids = append(ids, org.RootID)
			for len(ids) < benchNodes {
				n, err := tx.AddNode(NodeInput{ParentID: ids[rng.IntN(len(ids))], Name: fmt.Sprintf("研发 Platform %d", len(ids)), Code: fmt.Sprintf("c%d", len(ids))})
				if err != nil {
					return err
				}
				ids = append(ids, n.ID)
			}
			return nil
		})
		nodes := heap()
		var users []string
		_ = tr.Update(func(tx *Tx) error {
			for i := 0; i < 3*benchNodes; i++ {
				u, _ := tx.CreateUser(User{Name: fmt.Sprintf("user %d", i)})
				users = append(users, u.ID)
			}
			return nil
		})
		withUsers := heap()
		_ = tr.Update(func(tx *Tx) error {
			for i := 0; i < 10*benchNodes; {
				u := users[rng.IntN(len(users))]
				n := ids[rng.IntN(len(ids))]
				if ok, _ := tx.HasMember(n, u); !ok {
					if err := tx.AddMembers(n, u); err != nil {
						return err
					}
					i++
				}
			}
			return nil
		})
		done := heap()
		b.ReportMetric(float64(nodes-base)/benchNodes, "B/node")
		b.ReportMetric(float64(withUsers-nodes)/(3*benchNodes), "B/user")
		b.ReportMetric(float64(done-withUsers)/(10*benchNodes), "B/membership")
		runtime.KeepAlive(tr)
	}
}

// BenchmarkRename renames a random node back and forth: the n-gram index
// update is most of its cost.
func BenchmarkRename(b *testing.B) {
	f := benchFix(b, benchNodes)
	rng := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		id := f.ids[1+rng.IntN(len(f.ids)-1)]
		name := fmt.Sprintf("Renamed %d", i)
		if _, err := f.tr.UpdateNode(id, NodeUpdate{Name: &name}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemberAddRemove adds a user to a random node and removes it
// again: two transactions, each updating the rollups of one root path.
func BenchmarkMemberAddRemove(b *testing.B) {
	f := benchFix(b, benchNodes)
	rng := rand.New(rand.NewPCG(5, 6))
	b.ReportAllocs()
	for b.Loop() {
		n, u := f.ids[rng.IntN(len(f.ids))], f.users[rng.IntN(len(f.users))]
		if ok, _ := f.tr.HasMember(n, u); ok {
			continue
		}
		if err := f.tr.AddMembers(n, u); err != nil {
			b.Fatal(err)
		}
		if err := f.tr.RemoveMembers(n, u); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefuseCycle asks for a move of a node under its own child.
func BenchmarkRefuseCycle(b *testing.B) {
	f := benchFix(b, benchNodes)
	kids, _ := f.tr.ChildIDs(f.org.RootID)
	grand, _ := f.tr.ChildIDs(kids[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.tr.MoveNode(kids[0], grand[0]); !errors.Is(err, ErrCycle) {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearchLimit asks for the first 10 hits of queries that match
// many nodes: a top-k search must not pay for every hit.
func BenchmarkSearchLimit(b *testing.B) {
	f := benchFix(b, benchNodes)
	for _, kw := range []string{"platform", "研", "后端", "e", "1"} {
		b.Run(kw, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.tr.Search(kw, SearchOptions{Limit: 10}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheck verifies every invariant of a 100k-node tree.
func BenchmarkCheck(b *testing.B) {
	f := benchFix(b, benchNodes)
	b.ReportAllocs()
	for b.Loop() {
		if err := f.tr.Check(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeepChain builds a chain one AddNode at a time: AddNode must not
// walk to the root, so the time per node stays flat however deep the chain.
func BenchmarkDeepChain(b *testing.B) {
	const depth = 20000
	b.ReportAllocs()
	for b.Loop() {
		tr := New(WithLimits(Limits{MaxDepth: depth + 1}))
		err := tr.Update(func(tx *Tx) error {
			org, err := tx.CreateOrg(OrgInput{Name: "Deep"})
			if err != nil {
				return err
			}
			parent := org.RootID
			for range depth {
				n, err := tx.AddNode(NodeInput{ParentID: parent, Name: "level"})
				if err != nil {
					return err
				}
				parent = n.ID
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*depth), "ns/node")
}

// BenchmarkSearchAll asks for every hit of queries matching ~10% of nodes.
func BenchmarkSearchAll(b *testing.B) {
	f := benchFix(b, benchNodes)
	for _, kw := range []string{"platform", "后端"} {
		b.Run(kw, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.tr.Search(kw, SearchOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBulkLoad builds 20k nodes, 60k users and 200k memberships in one
// Update, the way a service loads its org at start.
func BenchmarkBulkLoad(b *testing.B) {
	const nodes, users, members = 20000, 60000, 200000
	b.ReportAllocs()
	for b.Loop() {
		rng := rand.New(rand.NewPCG(9, 9))
		tr := New(WithLimits(Limits{MaxChildren: -1}))
		err := tr.Update(func(tx *Tx) error {
			org, err := tx.CreateOrg(OrgInput{Name: "Bulk"})
			if err != nil {
				return err
			}
			ids := []string{org.RootID}
			for len(ids) < nodes {
				n, err := tx.AddNode(NodeInput{ParentID: ids[rng.IntN(len(ids))], Name: fmt.Sprintf("Dept %d", len(ids)), Code: fmt.Sprintf("c%d", len(ids))})
				if err != nil {
					return err
				}
				ids = append(ids, n.ID)
			}
			uids := make([]string, users)
			for i := range uids {
				u, err := tx.CreateUser(User{Name: fmt.Sprintf("user %d", i)})
				if err != nil {
					return err
				}
				uids[i] = u.ID
			}
			for range members {
				if err := tx.AddMembers(ids[rng.IntN(len(ids))], uids[rng.IntN(len(uids))]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApply replays one-node ChangeSets committed on a fork of the
// 100k-node tree on another fork (a replica): a rename, a leaf move and a
// new membership. Only Apply is timed; it costs what the original write
// cost, not the size of the tree (compare BenchmarkApplyRebuild).
func BenchmarkApply(b *testing.B) {
	f := benchFix(b, benchNodes)
	for _, kind := range []string{"rename", "move-leaf", "add-member"} {
		b.Run(kind, func(b *testing.B) {
			var last *ChangeSet
			src := f.tr.Fork(WithCommitHook(func(cs *ChangeSet) error { last = cs; return nil }))
			dst := f.tr.Fork()
			rng := rand.New(rand.NewPCG(5, 6))
			leaf := src.Snapshot().Dump().Nodes[0].ID
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				var err error
				switch kind {
				case "rename":
					_, err = src.UpdateNode(f.ids[1+rng.IntN(len(f.ids)-1)], NodeUpdate{Name: Ptr(fmt.Sprintf("Renamed %d", i))})
				case "move-leaf":
					if i == 0 {
						n, _ := src.AddNode(NodeInput{ParentID: f.org.RootID, Name: "leaf"})
						leaf = n.ID
						if err := dst.Apply(last); err != nil {
							b.Fatal(err)
						}
					}
					_, err = src.MoveNode(leaf, f.ids[rng.IntN(len(f.ids))])
				case "add-member":
					err = src.AddMembers(f.ids[rng.IntN(len(f.ids))], f.users[rng.IntN(len(f.users))])
				}
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := dst.Apply(last); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyRebuild is what Apply cost before it was incremental: the
// merged Dump of the whole tree loaded again, for a one-node rename.
func BenchmarkApplyRebuild(b *testing.B) {
	f := benchFix(b, benchNodes)
	var last *ChangeSet
	src := f.tr.Fork(WithCommitHook(func(cs *ChangeSet) error { last = cs; return nil }))
	dst := f.tr.Fork()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		if _, err := src.UpdateNode(f.ids[1+i], NodeUpdate{Name: Ptr(fmt.Sprintf("Renamed %d", i))}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := dst.Replace(MergeChangeSet(dst.Snapshot().Dump(), last)); err != nil {
			b.Fatal(err)
		}
	}
}
