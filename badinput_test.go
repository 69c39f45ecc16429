package orgtree

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// badInput is one hostile input: what it does, the sentinel it must fail
// with, and the tree it runs on (the sample of helpers_test.go, with small
// limits where a case needs them).
type badInput struct {
	name  string
	want  error
	lim   Limits              // zero: default limits
	setup func(*sample) error // runs before the tree is recorded
	fn    func(s *sample) error
}

func nestedJSON(depth int) []byte {
	var b bytes.Buffer
	b.WriteString("[")
	for range depth {
		b.WriteString(`{"name":"n","children":[`)
	}
	b.WriteString(strings.Repeat("]}", depth))
	b.WriteString("]")
	return b.Bytes()
}

func otherOrg(s *sample) error {
	var err error
	s.other, err = s.tr.CreateOrg(OrgInput{Name: "Other"})
	return err
}

func importDoc(s *sample, doc []byte, opt ImportOptions) error {
	_, err := s.tr.ImportJSON(bytes.NewReader(doc), opt)
	return err
}

// badInputs is the catalogue: every bad input a user or an attacker could
// send through the public API or an import document.
func badInputs() []badInput {
	add := func(in NodeInput) func(s *sample) error {
		return func(s *sample) error {
			if in.ParentID == "@root" {
				in.ParentID = s.root
			}
			_, err := s.tr.AddNode(in)
			return err
		}
	}
	update := func(u NodeUpdate) func(s *sample) error {
		return func(s *sample) error { _, err := s.tr.UpdateNode(s.dev, u); return err }
	}
	list := func(opt ListMembersOptions) func(s *sample) error {
		return func(s *sample) error { _, err := s.tr.ListMembers(s.root, opt); return err }
	}
	doc := func(d string) func(s *sample) error {
		return func(s *sample) error { return importDoc(s, []byte(d), ImportOptions{}) }
	}
	return []badInput{
		// Ids.
		{name: "add under unknown parent", want: ErrNotFound, fn: add(NodeInput{ParentID: "ghost", Name: "x"})},
		{name: "add under empty parent id", want: ErrInvalidArgument, fn: add(NodeInput{Name: "x"})},
		{name: "add with an id that exists", want: ErrExists, fn: func(s *sample) error {
			_, err := s.tr.AddNode(NodeInput{ID: s.dev, ParentID: s.root, Name: "x"})
			return err
		}},
		{name: "add with an id containing a space", want: ErrInvalidArgument, fn: add(NodeInput{ID: "a b", ParentID: "@root", Name: "x"})},
		{name: "add with a 200-byte id", want: ErrInvalidArgument, fn: add(NodeInput{ID: strings.Repeat("i", 200), ParentID: "@root", Name: "x"})},
		{name: "update unknown node", want: ErrNotFound, fn: func(s *sample) error { _, err := s.tr.UpdateNode("ghost", NodeUpdate{Name: Ptr("x")}); return err }},
		{name: "update empty id", want: ErrNotFound, fn: func(s *sample) error { _, err := s.tr.UpdateNode("", NodeUpdate{Name: Ptr("x")}); return err }},
		{name: "delete unknown node", want: ErrNotFound, fn: func(s *sample) error { return s.tr.DeleteNode("ghost", Cascade) }},
		{name: "add member: unknown user", want: ErrNotFound, fn: func(s *sample) error { return s.tr.AddMembers(s.ops, "nobody") }},
		{name: "add member: unknown node", want: ErrNotFound, fn: func(s *sample) error { return s.tr.AddMembers("ghost", s.alice) }},
		{name: "add member: one of two unknown", want: ErrNotFound, fn: func(s *sample) error { return s.tr.AddMembers(s.ops, s.alice, "nobody") }},
		// Leaders: like a main department, a leader must exist.
		{name: "add with an unknown leader", want: ErrNotFound, fn: add(NodeInput{ParentID: "@root", Name: "x", LeaderUserID: "ghost"})},
		{name: "set an unknown leader", want: ErrNotFound, fn: update(NodeUpdate{LeaderUserID: Ptr("ghost")})},
		{name: "org with an unknown leader", want: ErrNotFound, fn: func(s *sample) error {
			_, err := s.tr.CreateOrg(OrgInput{Name: "x", LeaderUserID: "ghost"})
			return err
		}},
		{name: "import: unknown leader", want: ErrNotFound, fn: doc(`[{"name":"a","children":[{"name":"b","leaderUserId":"ghost"}]}]`)},
		{name: "load: unknown leader", want: ErrNotFound, fn: func(s *sample) error {
			d := s.tr.Snapshot().Dump()
			d.Nodes[0].LeaderUserID = "ghost"
			return New().Load(d)
		}},
		// Names.
		{name: "empty name", want: ErrInvalidName, fn: add(NodeInput{ParentID: "@root", Name: ""})},
		{name: "blank name", want: ErrInvalidName, fn: add(NodeInput{ParentID: "@root", Name: " \t "})},
		{name: "65-rune name", want: ErrInvalidName, fn: add(NodeInput{ParentID: "@root", Name: strings.Repeat("名", 65)})},
		{name: "name with a control character", want: ErrInvalidName, fn: add(NodeInput{ParentID: "@root", Name: "a\x07b"})},
		{name: "name with a newline", want: ErrInvalidName, fn: add(NodeInput{ParentID: "@root", Name: "a\nb"})},
		{name: "name that is not UTF-8", want: ErrInvalidName, fn: add(NodeInput{ParentID: "@root", Name: "a\xffb"})},
		{name: "i18n name too long", want: ErrInvalidName, fn: add(NodeInput{ParentID: "@root", Name: "x", NameI18n: map[string]string{"en": strings.Repeat("n", 65)}})},
		{name: "i18n with a bad locale key", want: ErrInvalidArgument, fn: add(NodeInput{ParentID: "@root", Name: "x", NameI18n: map[string]string{"e n": "x"}})},
		{name: "rename to empty", want: ErrInvalidName, fn: update(NodeUpdate{Name: Ptr("")})},
		{name: "50 MB description", want: ErrLimitExceeded, fn: add(NodeInput{ParentID: "@root", Name: "x", Description: strings.Repeat("d", 50<<20)})},
		// Codes.
		{name: "duplicate code", want: ErrDuplicateCode, fn: add(NodeInput{ParentID: "@root", Name: "x", Code: "dev"})},
		{name: "recode to a taken code", want: ErrDuplicateCode, fn: update(NodeUpdate{Code: Ptr("ops")})},
		{name: "reserved code prefix", want: ErrInvalidCode, fn: add(NodeInput{ParentID: "@root", Name: "x", Code: "sys:admin"})},
		{name: "reserved code prefix, other case", want: ErrInvalidCode, fn: add(NodeInput{ParentID: "@root", Name: "x", Code: "SYS:admin"})},
		{name: "code with a space", want: ErrInvalidCode, fn: add(NodeInput{ParentID: "@root", Name: "x", Code: "a b"})},
		// Structure.
		{name: "move under itself", want: ErrCycle, fn: func(s *sample) error { _, err := s.tr.MoveNode(s.dev, s.dev); return err }},
		{name: "move under a descendant", want: ErrCycle, fn: func(s *sample) error { _, err := s.tr.MoveNode(s.dev, s.backend); return err }},
		{name: "move the root", want: ErrRootNode, fn: func(s *sample) error { _, err := s.tr.MoveNode(s.root, s.ops); return err }},
		{name: "move to another org", want: ErrCrossOrg, setup: otherOrg, fn: func(s *sample) error {
			_, err := s.tr.MoveNode(s.dev, s.other.RootID)
			return err
		}},
		{name: "move under unknown node", want: ErrNotFound, fn: func(s *sample) error { _, err := s.tr.MoveNode(s.dev, "ghost"); return err }},
		{name: "delete the root node", want: ErrRootNode, fn: func(s *sample) error { return s.tr.DeleteNode(s.root, Cascade) }},
		{name: "delete a non-empty node, refusing", want: ErrNotEmpty, fn: func(s *sample) error { return s.tr.DeleteNode(s.dev, RefuseNonEmpty) }},
		{name: "org id that is not the parent's org", want: ErrCrossOrg, setup: otherOrg, fn: func(s *sample) error {
			_, err := s.tr.AddNode(NodeInput{OrgID: s.other.ID, ParentID: s.root, Name: "x"})
			return err
		}},
		{name: "org id that does not exist", want: ErrNotFound, fn: add(NodeInput{OrgID: "ghost-org", ParentID: "@root", Name: "x"})},
		// Limits.
		{name: "deeper than MaxDepth", want: ErrLimitExceeded, lim: Limits{MaxDepth: 2}, fn: func(s *sample) error {
			_, err := s.tr.AddNode(NodeInput{ParentID: s.backend, Name: "x"})
			return err
		}},
		{name: "move making the tree too deep", want: ErrLimitExceeded, lim: Limits{MaxDepth: 2}, fn: func(s *sample) error {
			_, err := s.tr.MoveNode(s.dev, s.ops)
			return err
		}},
		{name: "more children than MaxChildren", want: ErrLimitExceeded, lim: Limits{MaxChildren: 2}, fn: add(NodeInput{ParentID: "@root", Name: "third"})},
		// Members.
		{name: "add the same user twice", want: ErrInvalidArgument, fn: func(s *sample) error { return s.tr.AddMembers(s.ops, s.alice, s.alice) }},
		{name: "add the same user twice in a long list", want: ErrInvalidArgument, setup: func(s *sample) error {
			for i := range 10 {
				if _, err := s.tr.CreateUser(User{ID: "long-" + strconv.Itoa(i), Name: "u"}); err != nil {
					return err
				}
			}
			return nil
		}, fn: func(s *sample) error {
			ids := []string{s.alice, s.carol}
			for i := range 10 {
				ids = append(ids, "long-"+strconv.Itoa(i))
			}
			return s.tr.AddMembers(s.ops, append(ids, s.carol)...)
		}},
		{name: "remove the same member twice", want: ErrInvalidArgument, fn: func(s *sample) error { return s.tr.RemoveMembers(s.backend, s.alice, s.bob, s.alice) }},
		{name: "move the same member twice", want: ErrInvalidArgument, fn: func(s *sample) error { return s.tr.MoveMembers(s.backend, s.ops, s.alice, s.alice) }},
		{name: "import: a user listed twice in one node", want: ErrInvalidArgument, fn: func(s *sample) error {
			return importDoc(s, []byte(`[{"name":"a","members":["`+s.alice+`","`+s.alice+`"]}]`), ImportOptions{})
		}},
		{name: "import: main department outside the document", want: ErrNotFound, fn: doc(`[{"id":"d1","name":"a","members":[{"id":"new-u","name":"N","mainDepartmentId":"elsewhere"}]}]`)},
		{name: "import: main department of an existing user elsewhere", want: ErrNotFound, fn: func(s *sample) error {
			return importDoc(s, []byte(`[{"name":"a","members":[{"id":"`+s.alice+`","mainDepartmentId":"`+s.ops+`"}]}]`), ImportOptions{})
		}},
		{name: "reserved code prefix, mixed case", want: ErrInvalidCode, fn: add(NodeInput{ParentID: "@root", Name: "x", Code: "Sys:x"})},
		{name: "import: reserved code prefix, upper case", want: ErrInvalidCode, fn: doc(`[{"name":"a","code":"SYS:root"}]`)},
		{name: "remove a non-member", want: ErrNotMember, fn: func(s *sample) error { return s.tr.RemoveMembers(s.ops, s.alice) }},
		{name: "main department without membership", want: ErrNotMember, fn: func(s *sample) error { return s.tr.SetMainDepartment(s.alice, s.ops) }},
		{name: "move members a node does not have", want: ErrNotMember, fn: func(s *sample) error { return s.tr.MoveMembers(s.ops, s.dev, s.carol) }},
		{name: "create user with a taken external id", want: ErrExists, setup: func(s *sample) error {
			_, err := s.tr.UpdateUser(s.alice, UserUpdate{ExternalID: Ptr("ext-1")})
			return err
		}, fn: func(s *sample) error {
			_, err := s.tr.CreateUser(User{Name: "x", ExternalID: "ext-1"})
			return err
		}},
		{name: "create user with a main department", want: ErrInvalidArgument, fn: func(s *sample) error {
			_, err := s.tr.CreateUser(User{Name: "x", MainDepartmentID: s.dev})
			return err
		}},
		// Paging.
		{name: "page 0", want: ErrInvalidArgument, fn: list(ListMembersOptions{Page: -1})},
		{name: "negative limit", want: ErrInvalidArgument, fn: list(ListMembersOptions{Limit: -5})},
		{name: "huge limit", want: ErrLimitExceeded, fn: list(ListMembersOptions{Limit: 1 << 30})},
		{name: "limit over MaxPageSize", want: ErrLimitExceeded, lim: Limits{MaxPageSize: 10}, fn: list(ListMembersOptions{Limit: 11})},
		{name: "forged cursor", want: ErrInvalidArgument, fn: list(ListMembersOptions{Cursor: "not-a-cursor"})},
		{name: "cursor and page together", want: ErrInvalidArgument, fn: func(s *sample) error {
			p, err := s.tr.ListMembers(s.root, ListMembersOptions{IncludeDescendants: true, Limit: 1})
			if err != nil {
				return err
			}
			_, err = s.tr.ListMembers(s.root, ListMembersOptions{IncludeDescendants: true, Limit: 1, Page: 2, Cursor: p.NextCursor})
			return err
		}},
		{name: "unknown sort order", want: ErrInvalidArgument, fn: list(ListMembersOptions{SortBy: 99})},
		{name: "org listing page -1", want: ErrInvalidArgument, fn: func(s *sample) error { _, err := s.tr.ListOrgs(-1, 10); return err }},
		{name: "org listing huge limit", want: ErrLimitExceeded, fn: func(s *sample) error { _, err := s.tr.ListOrgs(1, 1<<30); return err }},
		// Resources and search.
		{name: "grant with an unknown type", want: ErrInvalidArgument, fn: func(s *sample) error {
			return s.tr.GrantResource(s.dev, Resource{Namespace: "n", Code: "c", Type: "ROOTKIT"})
		}},
		{name: "resources of an unknown code", want: ErrNotFound, fn: func(s *sample) error {
			_, err := s.tr.AuthorizedResourcesByCode(s.org.ID, "ghost", ResourceFilter{})
			return err
		}},
		{name: "empty search", want: ErrInvalidArgument, fn: func(s *sample) error { _, err := s.tr.Search("  ", SearchOptions{}); return err }},
		{name: "search that is not UTF-8", want: ErrInvalidArgument, fn: func(s *sample) error { _, err := s.tr.Search("\xff\xfe", SearchOptions{}); return err }},
		{name: "path with a dangling escape", want: ErrInvalidArgument, fn: func(*sample) error { _, err := ParsePath(`a\`); return err }},
		// Transactions.
		{name: "Tx used after Update returned", want: ErrTxClosed, fn: func(s *sample) error {
			var kept *Tx
			if err := s.tr.Update(func(tx *Tx) error { kept = tx; return nil }); err != nil {
				return err
			}
			_, err := kept.AddNode(NodeInput{ParentID: s.root, Name: "late"})
			return err
		}},
		// Import documents.
		{name: "JSON nested 100,000 deep", want: ErrLimitExceeded, fn: func(s *sample) error { return importDoc(s, nestedJSON(100_000), ImportOptions{}) }},
		{name: "JSON with a 50 MB name", want: ErrInvalidName, fn: func(s *sample) error {
			return importDoc(s, []byte(`[{"name":"`+strings.Repeat("x", 50<<20)+`"}]`), ImportOptions{})
		}},
		{name: "JSON with duplicate keys", want: ErrInvalidJSON, fn: doc(`[{"name":"a","name":"b"}]`)},
		{name: "JSON with a wrong type", want: ErrInvalidJSON, fn: doc(`[{"name":5}]`)},
		{name: "JSON children not a list", want: ErrInvalidJSON, fn: doc(`[{"name":"a","children":{"name":"b"}}]`)},
		{name: "JSON with trailing garbage", want: ErrInvalidJSON, fn: doc(`[{"name":"a"}] xyz`)},
		{name: "JSON truncated", want: ErrInvalidJSON, fn: doc(`[{"name":"a","children":[`)},
		{name: "empty document", want: ErrInvalidJSON, fn: doc(``)},
		{name: "JSON with NaN", want: ErrInvalidJSON, fn: doc(`[{"name":"a","order":NaN}]`)},
		{name: "JSON order out of range", want: ErrInvalidJSON, fn: doc(`[{"name":"a","order":1e999}]`)},
		{name: "JSON with a control character in a string", want: ErrInvalidJSON, fn: doc("[{\"name\":\"a\x01b\"}]")},
		{name: "JSON name in Latin-1, not UTF-8", want: ErrInvalidJSON, fn: doc("[{\"name\":\"caf\xe9\"}]")},
		{name: "JSON key that is not UTF-8", want: ErrInvalidJSON, fn: doc("[{\"name\":\"a\",\"x\xff\":1}]")},
		{name: "JSON two bad codes that U+FFFD would merge", want: ErrInvalidJSON, fn: doc("[{\"name\":\"a\",\"children\":[{\"name\":\"b\",\"code\":\"c\xfe\"},{\"name\":\"c\",\"code\":\"c\xff\"}]}]")},
		{name: "JSON UTF-8-encoded surrogate", want: ErrInvalidJSON, fn: doc("[{\"name\":\"\xed\xa0\x80\"}]")},
		{name: "JSON lone high surrogate escape", want: ErrInvalidJSON, fn: doc(`[{"name":"\ud800"}]`)},
		{name: "JSON lone low surrogate escape", want: ErrInvalidJSON, fn: doc(`[{"name":"a\udc00b"}]`)},
		{name: "JSON high surrogate escape before a letter", want: ErrInvalidJSON, fn: doc(`[{"name":"\ud83d\u0041"}]`)},
		{name: "JSON byte order mark twice", want: ErrInvalidJSON, fn: doc("\xef\xbb\xbf\xef\xbb\xbf[{\"name\":\"a\"}]")},
		{name: "JSON byte order mark after the first byte", want: ErrInvalidJSON, fn: doc(" \xef\xbb\xbf[{\"name\":\"a\"}]")},
		{name: "JSON UTF-16 byte order mark", want: ErrInvalidJSON, fn: doc("\xff\xfe[\x00]\x00")},
		{name: "import: reserved code", want: ErrInvalidCode, fn: doc(`[{"name":"a","code":"sys:root"}]`)},
		{name: "import: duplicate codes in one document", want: ErrDuplicateCode, fn: doc(`[{"name":"a","children":[{"name":"b","code":"x"},{"name":"c","code":"x"}]}]`)},
		{name: "import: bad name deep inside", want: ErrInvalidName, fn: doc(`[{"name":"a","children":[{"name":"b","children":[{"name":""}]}]}]`)},
		{name: "import: more nodes than MaxImportNodes", want: ErrLimitExceeded, lim: Limits{MaxImportNodes: 3}, fn: doc(`[{"name":"a","children":[{"name":"b"},{"name":"c"},{"name":"d"}]}]`)},
		{name: "import: kept ids that collide", want: ErrExists, fn: func(s *sample) error {
			return importDoc(s, []byte(`[{"id":"`+s.dev+`","name":"a"}]`), ImportOptions{KeepIDs: true})
		}},
		{name: "import under an unknown parent", want: ErrNotFound, fn: func(s *sample) error {
			return importDoc(s, []byte(`[{"name":"a"}]`), ImportOptions{ParentID: "ghost"})
		}},
		{name: "import: a 1,000,000-node chain past MaxDepth", want: ErrLimitExceeded, lim: Limits{MaxImportNodes: -1}, fn: func(s *sample) error {
			root := &TreeNode{Name: "n"}
			cur := root
			for range 999_999 {
				next := &TreeNode{Name: "n"}
				cur.Children = []*TreeNode{next}
				cur = next
			}
			_, err := s.tr.Import([]*TreeNode{root}, ImportOptions{})
			return err
		}},
	}
}

// TestBadInputCatalogue runs every case of badInputs on a fresh sample and
// requires its sentinel error and an unchanged tree (same version, same
// records, Check clean).
func TestBadInputCatalogue(t *testing.T) {
	cases := badInputs()
	require.GreaterOrEqual(t, len(cases), 40)
	seen := map[string]bool{}
	for _, c := range cases {
		require.False(t, seen[c.name], "duplicate case %q", c.name)
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && strings.Contains(c.name, "1,000,000") {
				t.Skip("builds a million nodes")
			}
			s := newSample(t, WithLimits(c.lim))
			if c.setup != nil {
				require.NoError(t, c.setup(s))
			}
			unchanged(t, s.tr, c.want, func() error { return c.fn(s) })
		})
	}
	t.Logf("%d bad inputs, each refused with its sentinel and no change", len(cases))
}

// TestImportJSONRefusesBadUTF8 pins where a bad byte is reported: the JSON
// path of the element and the byte offset of the first bad byte (or of the
// escape), counted from the start of the file, a byte order mark included.
func TestImportJSONRefusesBadUTF8(t *testing.T) {
	for _, c := range []struct {
		doc, path string
		offset    int
	}{
		{"[{\"name\":\"caf\xe9\"}]", "[0].name", 13},
		{"\xef\xbb\xbf[{\"name\":\"caf\xe9\"}]", "[0].name", 16},
		{`[{"name":"a","children":[{"name":"b\ud800"}]}]`, "[0].children[0].name", 35},
		{`{"name":"a","members":[{"id":"u","name":"\udfff\ud800"}]}`, ".members[0].name", 41},
		{"[{\"name\":\"a\",\"k\xff\":1}]", "[0]", 15},
	} {
		_, _, err := ParseTreeJSON(strings.NewReader(c.doc), Limits{})
		require.ErrorIs(t, err, ErrInvalidJSON, "%q", c.doc)
		require.Contains(t, err.Error(), c.path, "%q", c.doc)
		require.Contains(t, err.Error(), "at byte "+strconv.Itoa(c.offset)+")", "%q", c.doc)
	}
}

// TestImportJSONAcceptsBOM: a leading UTF-8 byte order mark (some editors
// write one) is skipped; the import equals the one without it.
func TestImportJSONAcceptsBOM(t *testing.T) {
	const body = `[{"name":"Acme","code":"acme","children":[{"name":"Café ☕"}]}]`
	plain, _, err := ParseTreeJSON(strings.NewReader(body), Limits{})
	require.NoError(t, err)
	withBOM, _, err := ParseTreeJSON(strings.NewReader("\xef\xbb\xbf"+body), Limits{})
	require.NoError(t, err)
	require.Equal(t, plain, withBOM)
	tr := New()
	orgs, err := tr.ImportJSON(strings.NewReader("\xef\xbb\xbf"+body), ImportOptions{})
	require.NoError(t, err)
	require.Len(t, orgs, 1)
	require.Equal(t, 2, tr.Snapshot().Stats().Nodes)
	checked(t, tr)
}

// TestCodesAreCaseSensitive pins the documented rule: codes compare
// exactly ("Ops" and "ops" are two codes), the reserved prefix in any case.
func TestCodesAreCaseSensitive(t *testing.T) {
	s := newSample(t)
	upper, err := s.tr.AddNode(NodeInput{ParentID: s.root, Name: "Ops upper", Code: "Ops"})
	require.NoError(t, err, "ops exists; Ops is another code")
	got, err := s.tr.NodeByCode(s.org.ID, "Ops")
	require.NoError(t, err)
	assert.Equal(t, upper.ID, got.ID)
	got, err = s.tr.NodeByCode(s.org.ID, "ops")
	require.NoError(t, err)
	assert.Equal(t, s.ops, got.ID)
	_, err = s.tr.NodeByCode(s.org.ID, "OPS")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.tr.ImportJSON(strings.NewReader(`{"name":"r","code":"R","children":[{"name":"a","code":"x"},{"name":"b","code":"X"}]}`), ImportOptions{})
	require.NoError(t, err, "one document may hold x and X")
	for _, code := range []string{"sys:a", "SYS:a", "Sys:a", "sYs:a"} {
		_, err := s.tr.AddNode(NodeInput{ParentID: s.root, Name: "n", Code: code})
		require.ErrorIs(t, err, ErrInvalidCode, code)
	}
	_, err = s.tr.AddNode(NodeInput{ParentID: s.root, Name: "n", Code: "system"})
	require.NoError(t, err, "only the prefix with its colon is reserved")
	checked(t, s.tr)
}
