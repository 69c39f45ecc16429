// Command replicated is the README's replicas: two replicas of one tree
// kept in etcd (in production, two processes), crossed moves through both
// at once, then reads of each consistency.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/replicate"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func main() {
	ctx := context.Background()
	endpoints := strings.Split(cmp.Or(os.Getenv("ORGTREE_ETCD"), "http://127.0.0.1:2379"), ",")
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	const prefix = "/orgtree/acme" // one prefix per tree; this program creates its org there
	a, err := replicate.Open(ctx, cli, prefix, replicate.WithSnapshotEvery(1000))
	if err != nil {
		log.Fatal(err) // wraps replicate.ErrUnavailable when etcd has no quorum
	}
	defer a.Close()
	b, err := replicate.Open(ctx, cli, prefix, replicate.WithSnapshotEvery(1000))
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	// Writes: any replica, linearizable; fn may run again after a conflict.
	err = a.Update(ctx, func(tx *orgtree.Tx) error {
		if _, err := tx.CreateOrg(orgtree.OrgInput{ID: "acme", RootID: "root", Name: "Acme"}); err != nil {
			return err
		}
		for _, id := range []string{"eng", "ops"} {
			if _, err := tx.AddNode(orgtree.NodeInput{ID: id, ParentID: "root", Name: id}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	move := func(id, parent string) func(*orgtree.Tx) error {
		return func(tx *orgtree.Tx) error { _, err := tx.MoveNode(id, parent); return err }
	}
	errs := make(chan error, 2)
	go func() { errs <- a.Update(ctx, move("eng", "ops")) }()
	go func() { errs <- b.Update(ctx, move("ops", "eng")) }()
	e1, e2 := <-errs, <-errs
	fmt.Println("one move refused:", errors.Is(e1, orgtree.ErrCycle) != errors.Is(e2, orgtree.ErrCycle))

	// Reads: local and lock-free; after Sync they see every acknowledged write.
	if err := b.Sync(ctx); err != nil {
		log.Fatal(err) // ErrUnavailable: b answers from its last state, which Read dates
	}
	s, fresh := b.Read()
	kids, _ := s.ChildIDs("root")
	fmt.Println("children of root:", len(kids), "in sync:", fresh.Err == nil, "entries:", fresh.Index)
}
