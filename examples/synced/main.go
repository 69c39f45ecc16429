// Command synced is the README's provider sync: decode WeCom's lists, plan,
// print the plan, apply it.
package main

import (
	"fmt"
	"log"
	"strings"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/reconcile"
)

// What WeCom's department/list and user/list answered (any io.Reader: a
// file, an HTTP response body).
const (
	departments = `{"errcode":0,"department":[
	  {"id":2,"name":"R&D","parentid":1},
	  {"id":1,"name":"Acme","parentid":0},
	  {"id":3,"name":"Web","parentid":2}]}`
	users = `{"errcode":0,"userlist":[{"userid":"ann","name":"Ann","department":[3]}]}`
)

func main() {
	t := orgtree.New()
	org, err := t.CreateOrg(orgtree.OrgInput{Name: "Acme"})
	if err != nil {
		log.Fatal(err)
	}
	in, err := reconcile.DecodeWeCom(strings.NewReader(departments), strings.NewReader(users)) // or DecodeDingTalk, DecodeLark
	if err != nil {
		log.Fatal(err)
	}
	plan, err := reconcile.Plan(t.Snapshot(), org.ID, in, reconcile.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(plan.Summary())                      // fmt.Print(plan) lists every step: the dry run
	if err := reconcile.Apply(t, plan); err != nil { // all or nothing
		log.Fatal(err)
	}
	again, _ := reconcile.Plan(t.Snapshot(), org.ID, in, reconcile.Options{})
	fmt.Println(again.Empty()) // the same input again plans nothing
}
