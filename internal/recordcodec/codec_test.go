package recordcodec

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/orgtree/orgtree"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sample(n int) ([]orgtree.NodeRecord, []orgtree.UserRecord) {
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	var nodes []orgtree.NodeRecord
	var users []orgtree.UserRecord
	for i := range n {
		nd := orgtree.NodeRecord{Node: orgtree.Node{ID: fmt.Sprintf("n%05d", i), OrgID: "o", Name: fmt.Sprintf("部门 %d", i),
			Description: "a description long enough to fill several parts", CreatedAt: at.Add(time.Duration(i))}}
		if i > 0 {
			nd.ParentID = fmt.Sprintf("n%05d", (i*7919)%i)
		}
		nodes = append(nodes, nd)
		u := orgtree.UserRecord{User: orgtree.User{ID: fmt.Sprintf("u%05d", i), Email: fmt.Sprintf("u%d@example.com", i), CreatedAt: at}}
		for k := range 3 {
			u.Memberships = append(u.Memberships, orgtree.Membership{NodeID: fmt.Sprintf("n%05d", (i*31+k*977)%n), JoinedAt: at.Add(time.Duration(k))})
		}
		users = append(users, u)
	}
	return nodes, users
}

// TestParserStreams feeds a record part by part, decoding each chunk as
// its part arrives, and gets what ParseRecord gets from all parts at once.
func TestParserStreams(t *testing.T) {
	nodes, users := sample(20_000)
	orgs := []orgtree.OrgRecord{{ID: "o", RootID: "n00000"}}
	parts := EncodeRecord(KindFull, orgs, nodes, users, [3][]string{})
	require.Greater(t, len(parts), 3)
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	p, chunks, err := newParser(1, parts[0], total)
	require.NoError(t, err)
	decode := func(cs []*Chunk) {
		for _, c := range cs {
			require.NoError(t, c.Decode())
		}
	}
	decode(chunks)
	for _, part := range parts[1:] {
		cs, err := p.add(part)
		require.NoError(t, err)
		decode(cs)
	}
	r, err := p.finish()
	require.NoError(t, err)
	for _, c := range r.Chunks {
		require.NoError(t, c.Resolve())
	}
	assert.Equal(t, total, r.Size)
	assert.Equal(t, orgs, r.Orgs)
	assert.Equal(t, nodes, r.Nodes)
	assert.Equal(t, users, r.Users)

	t.Run("missing part", func(t *testing.T) {
		p, _, err := newParser(1, parts[0], total)
		require.NoError(t, err)
		_, err = p.finish()
		require.ErrorIs(t, err, ErrRecord)
	})
	t.Run("total too small for the header's counts", func(t *testing.T) {
		_, _, err := newParser(1, parts[0], len(parts[0]))
		require.ErrorIs(t, err, ErrRecord)
	})
}

func sampleDump(n int) *orgtree.Dump {
	nodes, users := sample(n)
	return &orgtree.Dump{Orgs: []orgtree.OrgRecord{{ID: "o", RootID: "n00000"}}, Nodes: nodes, Users: users}
}

// decodeDump decodes a dump stream fed in pieces of piece bytes.
func decodeDump(data []byte, piece int) (*orgtree.Dump, error) {
	dec := NewDumpDecoder(len(data))
	for len(data) > 0 {
		n := min(len(data), max(1, piece))
		if err := dec.Write(data[:n]); err != nil {
			return nil, err
		}
		data = data[n:]
	}
	return dec.Finish()
}

func TestDumpStream(t *testing.T) {
	d := sampleDump(5000)
	data := EncodeDump(d)
	for _, piece := range []int{1, 333, 1 << 20} {
		got, err := decodeDump(data, piece)
		require.NoError(t, err)
		assert.Equal(t, d, got)
	}
	_, err := decodeDump(data[:len(data)-1], 1000)
	require.ErrorIs(t, err, ErrRecord)
}

// FuzzDumpDecoder feeds arbitrary streams to DumpDecoder in pieces of
// arbitrary size: it refuses them (ErrRecord) or returns a dump, never
// panics; a dump it returns encodes to a stream that decodes the same, and
// loads into a tree or is refused by the tree's checks.
func FuzzDumpDecoder(f *testing.F) {
	for _, n := range []int{1, 3, 40} {
		f.Add(EncodeDump(sampleDump(n)), uint16(100))
	}
	f.Add(EncodeDump(&orgtree.Dump{}), uint16(1))
	f.Add([]byte{dumpVersion, 0}, uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, piece uint16) {
		d, err := decodeDump(data, int(piece))
		if err != nil {
			if !errors.Is(err, ErrRecord) {
				t.Fatalf("error not ErrRecord: %v", err)
			}
			return
		}
		again, err := decodeDump(EncodeDump(d), 4096)
		if err != nil {
			t.Fatalf("re-encoded dump refused: %v", err)
		}
		if !reflect.DeepEqual(d, again) {
			t.Fatal("re-encoded dump decodes differently")
		}
		_ = orgtree.New().Replace(d)
	})
}
