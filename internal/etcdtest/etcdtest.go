// Package etcdtest runs a one-member etcd in-process, for the tests and
// examples that need a real etcd behind a replica (package replicate)
// without one installed on the machine.
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Start runs a one-member etcd on free loopback ports, its data in a new
// temporary directory, and returns its client URL once it serves. stop
// closes it and removes the directory.
func Start() (endpoint string, stop func(), err error) {
	peer, err := freeURL()
	if err != nil {
		return "", nil, err
	}
	client, err := freeURL()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "etcdtest")
	if err != nil {
		return "", nil, err
	}
	cfg := embed.NewConfig()
	cfg.Dir, cfg.LogLevel = dir, "error"
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	cfg.InitialCluster = fmt.Sprintf("%s=%s", cfg.Name, peer)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	stop = func() { e.Close(); os.RemoveAll(dir) }
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		stop()
		return "", nil, fmt.Errorf("etcdtest: etcd not ready")
	}
	return client.String(), stop, nil
}

// freeURL returns the URL of a loopback port that was free a moment ago.
func freeURL() (*url.URL, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer l.Close()
	return url.Parse("http://" + l.Addr().String())
}
