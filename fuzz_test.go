package orgtree

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The fuzz targets of the engine. Each compares against a reference (the
// reference model, a brute-force scan, a second round trip), not only
// "does not panic". See fuzz/README.md for how to run them; corpora live in
// testdata/fuzz/<target>.

// byteSource is a rand.Source that plays back fuzz input, so the fuzzer
// steers every choice the reference-model driver makes.
// Once the input is used up it continues with a fixed pseudo-random stream:
// a constant stream would make rand's rejection sampling loop forever.
type byteSource struct {
	data []byte
	tail uint64
}

func (b *byteSource) Uint64() uint64 {
	if len(b.data) == 0 {
		b.tail += 0x9e3779b97f4a7c15 // splitmix64
		z := b.tail
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		return z ^ z>>31
	}
	var buf [8]byte
	n := copy(buf[:], b.data)
	b.data = b.data[n:]
	return binary.LittleEndian.Uint64(buf[:])
}

func (b *byteSource) more() bool { return len(b.data) > 0 }

// FuzzOperations decodes bytes into a script of add, move, delete, update,
// member and main-department operations (with bad ids, bad names, duplicate
// and reserved codes, cycles and limits among them), applies it to the
// engine and to the reference model, and compares every answer, every
// error kind and Check after every step.
func FuzzOperations(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"))
	r := rand.New(rand.NewPCG(1, 2))
	for range 4 {
		seed := make([]byte, 512)
		for i := range seed {
			seed[i] = byte(r.Uint32())
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src := &byteSource{data: data}
		runReferenceModel(t, rand.New(src), 200, src.more)
	})
}

var stampRE = regexp.MustCompile(`"(createdAt|updatedAt|joinedAt)":"[^"]*"`)

// FuzzImportJSON feeds arbitrary bytes to ImportJSON. It must never panic;
// a refused document leaves the tree unchanged; an accepted one exports to a
// document that imports back to the same export (ids kept, timestamps aside).
func FuzzImportJSON(f *testing.F) {
	for _, seed := range []string{
		`[{"name":"总公司","code":"hq","children":[{"name":"研发部","code":"rd","members":[{"name":"张三","email":"z@example.com"}]}]}]`,
		`{"name":"Acme","children":[{"name":"a/b"},{"name":"c\\d","order":3}]}`,
		`[{"name":"x","children":[{"name":"y","children":[{"name":"z"}]}]}]`,
		`[{"name":"dup","code":"a"},{"name":"dup","code":"a"}]`,
		`{"name":"A","name":"B"}`, `[`, `[]`, `null`, `{"name":5}`, `[{"name":"ok"}] trailing`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := newTestTree(t, WithLimits(Limits{MaxImportNodes: 2000, MaxDepth: 50}))
		before := tr.Snapshot().Dump()
		if _, err := tr.ImportJSON(bytes.NewReader(data), ImportOptions{}); err != nil {
			require.Equal(t, before, tr.Snapshot().Dump(), "a refused import changed the tree")
			return
		}
		require.NoError(t, tr.Check())
		var first bytes.Buffer
		require.NoError(t, tr.ExportJSON(&first, "", ExportOptions{}))
		again := newTestTree(t, WithLimits(Limits{MaxImportNodes: 2000, MaxDepth: 50}))
		_, err := again.ImportJSON(bytes.NewReader(first.Bytes()), ImportOptions{KeepIDs: true})
		require.NoError(t, err, "the export of an accepted import is refused:\n%s", first.String())
		require.NoError(t, again.Check())
		var second bytes.Buffer
		require.NoError(t, again.ExportJSON(&second, "", ExportOptions{}))
		require.Equal(t, stampRE.ReplaceAllString(first.String(), "_"), stampRE.ReplaceAllString(second.String(), "_"))
	})
}

// FuzzSearch builds nodes from '|'-separated names and compares Search with
// the brute-force scan for the query, over Unicode case folding edge cases.
func FuzzSearch(f *testing.F) {
	for _, seed := range [][2]string{
		{"İstanbul|istanbul|ISTANBUL|ıi", "i̇"}, {"Straße|STRASSE|strasse", "ß"}, {"ſales|Sales|SALES", "sa"},
		{"Kelvin|kelvin", "K"}, {"ΣΊΣΥΦΟΣ|σίσυφος|ς", "σ"}, {"研发部|后端研发|研", "研发"}, {"café|cafe\u0301", "e\u0301"},
		{"😀 team|team 😀", "😀"}, {"a|ab|abc|abcd", "bc"}, {"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, names, query string) {
		tr := newTestTree(t)
		org, err := tr.CreateOrg(OrgInput{Name: "root"})
		require.NoError(t, err)
		for i, name := range strings.Split(names, "|") {
			if i == 40 {
				break
			}
			in := NodeInput{ParentID: org.RootID, Name: name}
			if i%5 == 4 {
				in.NameI18n = map[string]string{"en": name + "x"}
			}
			_, _ = tr.AddNode(in) // bad names are refused; that is fine here
		}
		hits, err := tr.Search(query, SearchOptions{})
		if err != nil {
			require.True(t, errors.Is(err, ErrInvalidArgument), "untyped search error %v", err)
			return
		}
		got := make([]string, 0, len(hits))
		for _, h := range hits {
			got = append(got, h.Node.ID)
		}
		slices.Sort(got)
		want := bruteSearch(t, tr, query)
		if want == nil {
			want = []string{}
		}
		require.Equal(t, want, got, "query %q", query)
	})
}

// FuzzPaths checks that FormatPath and ParsePath are inverse, so name paths
// are unambiguous: any element list round-trips, and any string ParsePath
// accepts is exactly the format of what it returns. Names with "/", "\" and
// escapes also go through a real tree's NamePath.
func FuzzPaths(f *testing.F) {
	for _, seed := range []string{"a/b", `a\b`, `\/`, `\\/\\`, "研发/后端", "", "/", `\`, "a\x00b\x00c"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		elems := strings.Split(s, "\x00")
		back, err := ParsePath(FormatPath(elems))
		require.NoError(t, err)
		require.Equal(t, elems, back)
		if parsed, err := ParsePath(s); err == nil {
			require.Equal(t, s, FormatPath(parsed), "two strings parse to the same path")
		} else {
			require.ErrorIs(t, err, ErrInvalidArgument)
		}
		tr := newTestTree(t)
		org, err := tr.CreateOrg(OrgInput{Name: "root"})
		require.NoError(t, err)
		parent := org.RootID
		want := []string{"root"}
		for _, e := range elems {
			n, err := tr.AddNode(NodeInput{ParentID: parent, Name: e})
			if err != nil {
				continue
			}
			parent = n.ID
			want = append(want, n.Name)
		}
		names, err := tr.NamePath(parent)
		require.NoError(t, err)
		require.Equal(t, want, names)
		back, err = ParsePath(FormatPath(names))
		require.NoError(t, err)
		require.Equal(t, names, back)
	})
}

// FuzzMoves runs byte-chosen moves on a 40-node tree: a move under the node
// itself or a descendant must fail with ErrCycle, a move of the root with
// ErrRootNode; no move creates a cycle or an orphan or changes the count.
func FuzzMoves(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0, 1, 1, 0, 2, 2, 39, 0, 0, 39})
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := newTestTree(t, WithLimits(Limits{MaxDepth: -1}))
		org, err := tr.CreateOrg(OrgInput{Name: "root"})
		require.NoError(t, err)
		ids := []string{org.RootID}
		parent := map[string]string{org.RootID: ""}
		for i := 1; i < 40; i++ {
			p := ids[(i*7)%len(ids)]
			n, err := tr.AddNode(NodeInput{ParentID: p, Name: "n"})
			require.NoError(t, err)
			ids = append(ids, n.ID)
			parent[n.ID] = p
		}
		under := func(anc, id string) bool {
			for ; id != ""; id = parent[id] {
				if id == anc {
					return true
				}
			}
			return false
		}
		for len(data) >= 2 {
			id, target := ids[int(data[0])%len(ids)], ids[int(data[1])%len(ids)]
			data = data[2:]
			_, err := tr.MoveNode(id, target)
			switch {
			case id == org.RootID:
				require.ErrorIs(t, err, ErrRootNode)
			case under(id, target):
				require.ErrorIs(t, err, ErrCycle)
			default:
				require.NoError(t, err)
				parent[id] = target
			}
			require.NoError(t, tr.Check())
			require.Equal(t, len(ids), tr.Snapshot().Stats().Nodes)
			for _, n := range ids {
				got, err := tr.Node(n)
				require.NoError(t, err)
				require.Equal(t, parent[n], got.ParentID)
				path, err := tr.Path(n)
				require.NoError(t, err)
				require.Equal(t, org.RootID, path[0], "every node reaches the root")
			}
		}
	})
}

// FuzzScanner compares the hand-written JSON scanner with encoding/json:
// the same token stream for every valid document, an error for every
// invalid one.
func FuzzScanner(f *testing.F) {
	for _, seed := range []string{`{}`, `[1,-0.5e+3,true,null]`, `{"a":{"b":[{}, [], "x"]}}`, `"\ud83d\ude00"`, `"\ud800"`, "\"\xff\"", `[1,]`, `{} {}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		want, werr := stdTokens(doc)
		got, gerr := ourTokens(doc)
		if werr != nil || !json.Valid(doc) {
			require.Error(t, gerr, "accepted invalid JSON %q", doc)
			return
		}
		require.NoError(t, gerr, "rejected valid JSON %q", doc)
		require.Equal(t, want, got, "token streams differ for %q", doc)
	})
}
