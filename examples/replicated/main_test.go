package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// startEtcd runs a one-member etcd in-process on loopback ports.
func startEtcd() (endpoint string, stop func(), err error) {
	free := func() (*url.URL, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		return url.Parse("http://" + l.Addr().String())
	}
	peer, err := free()
	if err != nil {
		return "", nil, err
	}
	client, err := free()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "replicated-etcd")
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
		return "", nil, fmt.Errorf("etcd not ready")
	}
	return client.String(), stop, nil
}

// The README shows this program; here it runs against an etcd started
// in-process, and its output is checked.
func Example() {
	ep, stop, err := startEtcd()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	os.Setenv("ORGTREE_ETCD", ep)
	main()
	// Output:
	// one move refused: true
	// children of root: 1 in sync: true entries: 2
}
