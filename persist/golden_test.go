package persist

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/internal/recordcodec"
)

// TestEncodingGolden pins the bytes the record and history codecs write:
// the codec lives in internal/recordcodec, shared with package replicate,
// and a store's file must stay byte for byte what earlier builds wrote.
func TestEncodingGolden(t *testing.T) {
	orgs, nodes, users, deleted := codecSample()
	h := sha256.New()
	for _, kind := range []byte{recordcodec.KindFull, recordcodec.KindDelta} {
		for _, p := range recordcodec.EncodeRecord(kind, orgs, nodes, users, deleted) {
			h.Write(p)
		}
	}
	node := orgtree.NodeRecord{Node: orgtree.Node{ID: "n1", OrgID: "o1", Name: "dev", ParentID: "n0", LeaderUserID: "u9", Order: -3}}
	at := time.Date(2026, 12, 3, 15, 0, 0, 1, time.UTC)
	h.Write(appendEntryBody(nil, HistoryEntry{Seq: 9, Time: at, Actor: "a", Reason: "r", Changes: &orgtree.Changes{From: 1, To: 9,
		Orgs:            []orgtree.OrgChange{{Kind: orgtree.Removed, ID: "o7"}, {Kind: orgtree.Added, ID: "o8", New: &orgs[0]}},
		Nodes:           []orgtree.NodeChange{{Kind: orgtree.Updated, ID: "n1", OrgID: "o1", Old: &node, New: &nodes[2], Moved: true}, {Kind: orgtree.Added, ID: "x", OrgID: "o1", New: &nodes[1]}},
		Users:           []orgtree.UserChange{{Kind: orgtree.Updated, ID: "u1", Old: &orgtree.User{ID: "u1", Name: "a"}, New: &users[0].User}},
		Members:         []orgtree.MemberChange{{NodeID: "n1", UserID: "u1", Joined: true, JoinedAt: at}},
		MainDepartments: []orgtree.MainDepartmentChange{{UserID: "u1", OldNodeID: "n0", NewNodeID: "n1"}}}}))
	const want = "b81a479a77e137a86d0215203138066cc47006e62800d050707eec51531d9138"
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Fatalf("encoding changed: sha256 %s, want %s", got, want)
	}
}
