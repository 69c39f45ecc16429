package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/orgtree/orgtree/replicate"
)

// settingStore keeps serve's credentials: the bbolt store, or etcd for a
// replica (so that every replica of a tree answers with the same ones).
type settingStore interface {
	SettingOrCreate(key string, create func() ([]byte, error)) (value []byte, created bool, err error)
}

// etcdSettings keeps settings under prefix/settings/ in etcd; the first
// replica to create one wins and the others read it.
type etcdSettings struct {
	cli    *clientv3.Client
	prefix string
}

// SettingOrCreate returns the setting key, creating it with create if
// etcd has none. As persist.DB.SettingOrCreate, it runs create only then:
// a replica that starts after the first reads the setting and makes no
// value (an RSA key) it would throw away.
func (e etcdSettings) SettingOrCreate(key string, create func() ([]byte, error)) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k := e.prefix + "/settings/" + key
	cur, err := e.cli.Get(ctx, k)
	if err != nil {
		return nil, false, fmt.Errorf("etcd setting %s: %w", key, err)
	}
	if len(cur.Kvs) > 0 {
		return cur.Kvs[0].Value, false, nil
	}
	v, err := create()
	if err != nil {
		return nil, false, err
	}
	resp, err := e.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(v))).Else(clientv3.OpGet(k)).Commit()
	if err != nil {
		return nil, false, fmt.Errorf("etcd setting %s: %w", key, err)
	}
	if resp.Succeeded {
		return v, true, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return nil, false, fmt.Errorf("etcd setting %s: vanished", key)
	}
	return kvs[0].Value, false, nil
}

// openReplica connects to the etcd cluster of --etcd and opens the tree
// under --etcd-prefix.
func openReplica(ctx context.Context, so *serveOptions) (*replicate.Replica, etcdSettings, error) {
	var eps []string
	for _, ep := range strings.Split(so.etcd, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, etcdSettings{}, fmt.Errorf("serve: etcd %s: %w", so.etcd, err)
	}
	rep, err := replicate.Open(ctx, cli, so.etcdPrefix, replicate.WithTreeOptions(treeOptions...))
	if err != nil {
		cli.Close()
		return nil, etcdSettings{}, fmt.Errorf("serve: %w", err)
	}
	return rep, etcdSettings{cli: cli, prefix: so.etcdPrefix}, nil
}
