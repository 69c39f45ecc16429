// Command served is the README's embedded server: the organization API
// under a prefix of another service's mux, called with the Go SDK.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"

	"github.com/Authing/authing-go-sdk/lib/management"
	"github.com/Authing/authing-go-sdk/lib/model"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/server"
)

func main() {
	tree := orgtree.New() // or persist.Open(...).Tree()
	orgAPI, err := server.New(tree, server.Config{UserPoolID: "pool-1", Secret: "s3cret"})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "fine") })
	mux.Handle("/authing/", http.StripPrefix("/authing", orgAPI.Handler()))

	ln, err := net.Listen("tcp", "127.0.0.1:0") // your service's address
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, mux)

	client := management.NewClient("pool-1", "s3cret", "http://"+ln.Addr().String()+"/authing")
	org, err := client.CreateOrg(&model.CreateOrgRequest{Name: "Acme"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(org.RootNode.Name, tree.Snapshot().Stats().Orgs)
}
