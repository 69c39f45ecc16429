package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/Authing/authing-go-sdk/lib/management"
	"github.com/Authing/authing-go-sdk/lib/model"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree/internal/etcdtest"
)

// startEtcd runs a one-member etcd in-process on a loopback port.
func startEtcd(t *testing.T) string {
	t.Helper()
	ep, stop, err := etcdtest.Start()
	require.NoError(t, err)
	t.Cleanup(stop)
	return ep
}

// TestServeReplicas runs two serve replicas on one etcd: they share the
// credentials kept in etcd, and what the SDK writes through one it reads
// through the other.
func TestServeReplicas(t *testing.T) {
	ep := startEtcd(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type replica struct {
		addr string
		out  *bytes.Buffer
		done chan error
	}
	var reps []replica
	for i := 0; i < 2; i++ {
		so := &serveOptions{addr: "127.0.0.1:0", etcd: ep, etcdPrefix: "/orgtree/serve-test", shutdown: 5 * time.Second}
		addrs := make(chan string, 1)
		r := replica{out: &bytes.Buffer{}, done: make(chan error, 1)}
		go func() {
			r.done <- runServe(ctx, &options{}, so, r.out, serveHooks{ready: func(a string) { addrs <- a }})
		}()
		select {
		case r.addr = <-addrs:
		case err := <-r.done:
			t.Fatal(err)
		}
		reps = append(reps, r)
	}
	pool := regexp.MustCompile(`user pool id: (\S+)`)
	secret := regexp.MustCompile(`secret: +(\S+)`)
	p0, p1 := pool.FindStringSubmatch(reps[0].out.String()), pool.FindStringSubmatch(reps[1].out.String())
	s0, s1 := secret.FindStringSubmatch(reps[0].out.String()), secret.FindStringSubmatch(reps[1].out.String())
	require.NotNil(t, p0)
	require.NotNil(t, s0)
	require.Equal(t, p0[1], p1[1], "replicas share the user pool id kept in etcd")
	require.Equal(t, s0[1], s1[1], "replicas share the secret kept in etcd")

	w, err := management.NewClientWithError(p0[1], s0[1], "http://"+reps[0].addr)
	require.NoError(t, err)
	r, err := management.NewClientWithError(p0[1], s0[1], "http://"+reps[1].addr)
	require.NoError(t, err)
	created, err := w.CreateOrg(&model.CreateOrgRequest{Name: "Replicated"})
	require.NoError(t, err)
	_, err = w.AddOrgNode(&model.AddOrgNodeRequest{OrgId: created.Id, ParentNodeId: created.RootNode.Id, Name: "Sales"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		orgs, err := r.ListOrg(1, 10)
		return err == nil && orgs.TotalCount == 1 && len(orgs.List) == 1 && len(orgs.List[0].Nodes) == 2
	}, 5*time.Second, 20*time.Millisecond, "the write through one replica is read through the other")
	// And the other way round.
	_, err = r.AddOrgNode(&model.AddOrgNodeRequest{OrgId: created.Id, ParentNodeId: created.RootNode.Id, Name: "Support"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		orgs, err := w.ListOrg(1, 10)
		return err == nil && len(orgs.List) == 1 && len(orgs.List[0].Nodes) == 3
	}, 5*time.Second, 20*time.Millisecond)
	cancel()
	for _, rep := range reps {
		require.NoError(t, <-rep.done)
	}
}
