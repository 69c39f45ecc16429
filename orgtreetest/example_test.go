package orgtreetest_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/Authing/authing-go-sdk/lib/management"
	"github.com/Authing/authing-go-sdk/lib/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/orgtreetest"
)

// directory is a small "service" as an application would write it: it
// knows nothing of orgtree and talks to Authing through the official Go SDK.
type directory struct{ c *management.Client }

// headcount is the number of distinct people in a department and all its
// sub-departments.
func (d directory) headcount(nodeID string) (int64, error) {
	n, err := d.c.ListMembers(&model.ListMemberRequest{NodeId: nodeID, IncludeChildrenNodes: true, Limit: 1})
	if err != nil {
		return 0, err
	}
	return n.Users.TotalCount, nil
}

// onboard creates a user and puts them in a department.
func (d directory) onboard(username, nodeID string) (string, error) {
	u, err := d.c.CreateUser(model.CreateUserRequest{UserInfo: model.CreateUserInput{Username: &username}})
	if err != nil {
		return "", err
	}
	if _, err := d.c.AddMembers(nodeID, []string{u.Id}); err != nil {
		return "", err
	}
	return u.Id, nil
}

// TestDirectoryService runs the service against a fake Authing over a
// generated 5,000-person company: no network, no account, the same answers
// every run.
func TestDirectoryService(t *testing.T) {
	tree := orgtreetest.LoadSpec(t, orgtreetest.Company())
	srv := orgtreetest.NewServer(t, tree)
	c, err := management.NewClientWithError(srv.UserPoolID, srv.Secret, srv.URL)
	require.NoError(t, err)
	svc := directory{c}

	got, err := svc.headcount("n0")
	require.NoError(t, err)
	assert.EqualValues(t, 5000, got)
	kids, err := tree.ChildIDs("n0")
	require.NoError(t, err)
	dept := kids[0]
	want, err := tree.MemberCount(dept, true)
	require.NoError(t, err)
	got, err = svc.headcount(dept)
	require.NoError(t, err)
	assert.EqualValues(t, want, got)

	id, err := svc.onboard("newcomer", dept)
	require.NoError(t, err)
	in, err := tree.HasMember(dept, id)
	require.NoError(t, err)
	assert.True(t, in, "the service's write reached the tree")
	got, err = svc.headcount("n0")
	require.NoError(t, err)
	assert.EqualValues(t, 5001, got)
	require.NoError(t, tree.Check())
}

// TestServersShareCredentials starts servers over two forks: the SDK's
// process-wide token cache must not confuse them, and each sees its tree.
func TestServersShareCredentials(t *testing.T) {
	for i := range 2 {
		tree := orgtreetest.LoadSpec(t, orgtreetest.Company())
		if i == 1 {
			require.NoError(t, tree.DeleteNode("n1", orgtree.Cascade))
		}
		srv := orgtreetest.NewServer(t, tree)
		c, err := management.NewClientWithError(srv.UserPoolID, srv.Secret, srv.URL)
		require.NoError(t, err)
		got, err := directory{c}.headcount("n0")
		require.NoError(t, err)
		want, _ := tree.MemberCount("n0", true)
		assert.EqualValues(t, want, got)
	}
}

// TestParallelForks forks one 10,000-node fixture in 100 parallel subtests;
// each rewrites its own copy as it likes.
func TestParallelForks(t *testing.T) {
	spec := orgtreetest.Spec{Nodes: 10_000, Users: 3_000, Memberships: 10_000, Seed: 10}
	fix, err := orgtreetest.GenerateFixture(spec)
	require.NoError(t, err)
	before, err := orgtreetest.Text(fix.Snapshot(), "")
	require.NoError(t, err)
	var mu sync.Mutex
	ids := map[string]bool{}
	t.Run("group", func(t *testing.T) {
		for i := range 100 {
			t.Run(fmt.Sprint("fork", i), func(t *testing.T) {
				t.Parallel()
				tree := orgtreetest.LoadSpec(t, spec)
				node := fmt.Sprintf("n%d", 1+i*97)
				switch i % 4 {
				case 0: // rename
					_, err := tree.UpdateNode(node, orgtree.NodeUpdate{Name: orgtree.Ptr(fmt.Sprint("fork ", i))})
					require.NoError(t, err)
					n, _ := tree.Node(node)
					assert.Equal(t, fmt.Sprint("fork ", i), n.Name)
				case 1: // delete a subtree
					require.NoError(t, tree.DeleteNode(node, orgtree.Cascade))
					_, err := tree.Node(node)
					assert.ErrorIs(t, err, orgtree.ErrNotFound)
				case 2: // move under the root
					_, err := tree.MoveNode(node, "n0")
					require.NoError(t, err)
					d, _ := tree.Depth(node)
					assert.Equal(t, 1, d)
				case 3: // add a department and a member
					n, err := tree.AddNode(orgtree.NodeInput{ParentID: node, Name: "new"})
					require.NoError(t, err)
					require.NoError(t, tree.AddMembers(n.ID, "u1"))
					mu.Lock()
					ids[n.ID] = true
					mu.Unlock()
				}
				if i%25 == 0 {
					require.NoError(t, tree.Check())
				}
			})
		}
	})
	after, err := orgtreetest.Text(fix.Snapshot(), "")
	require.NoError(t, err)
	assert.Equal(t, before, after, "no fork changed the fixture")
	assert.Len(t, ids, 1, "every fork numbers its new nodes the same way")
}

func ExampleText() {
	tree := orgtreetest.New()
	org, _ := tree.CreateOrg(orgtree.OrgInput{Name: "Acme", Code: "acme"})
	dev, _ := tree.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "R&D", Code: "dev", Order: 1})
	be, _ := tree.AddNode(orgtree.NodeInput{ParentID: dev.ID, Name: "Backend"})
	_, _ = tree.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "Ops"})
	u, _ := tree.CreateUser(orgtree.User{Name: "Alice"})
	_ = tree.AddMembers(be.ID, u.ID)

	text, _ := orgtreetest.Text(tree.Snapshot(), org.ID)
	fmt.Print(text)
	fmt.Println(org.ID, be.ID, be.CreatedAt)
	// Output:
	// Acme [acme] (1 member)
	// ├── R&D [dev] (1 member)
	// │   └── Backend (1 member)
	// └── Ops (0 members)
	// id1 id4 2024-01-01 00:00:00.000000002 +0000 UTC
}

func ExampleGenerate() {
	org, _ := orgtreetest.Generate(orgtreetest.Spec{Nodes: 8, MinFanOut: 2, MaxFanOut: 3, Users: 5, Memberships: 7, Seed: 1})
	tree, _ := org.Tree()
	text, _ := orgtreetest.Text(tree.Snapshot(), "")
	fmt.Print(text)
	// Output:
	// Acme [c0] (5 members)
	// ├── Sales 2 [c2] (4 members)
	// │   ├── Design 5 [c5] (3 members)
	// │   │   ├── Data 6 [c6] (0 members)
	// │   │   └── Data 7 [c7] (2 members)
	// │   ├── Marketing 4 [c4] (0 members)
	// │   └── Platform 3 [c3] (1 member)
	// └── QA 1 [c1] (1 member)
}
