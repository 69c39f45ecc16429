package reconcile_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/reconcile"
)

// Example syncs a WeCom department and user list into an org, then shows
// that an empty provider answer is refused rather than emptying the org.
func Example() {
	tree := orgtree.New(orgtree.WithIDGenerator(orgtree.SequentialIDs("id")))
	org, _ := tree.CreateOrg(orgtree.OrgInput{Name: "Acme", Code: "hq"})

	depts := `{"errcode":0,"errmsg":"ok","department":[
	  {"id":1,"name":"Acme","parentid":0},
	  {"id":2,"name":"研发部","parentid":1,"order":20},
	  {"id":3,"name":"市场部","parentid":1,"order":10}]}`
	users := `{"errcode":0,"errmsg":"ok","userlist":[
	  {"userid":"zhangsan","name":"张三","department":[2],"main_department":2},
	  {"userid":"lisi","name":"李四","department":[3]}]}`
	in, err := reconcile.DecodeWeCom(strings.NewReader(depts), strings.NewReader(users))
	if err != nil {
		panic(err)
	}
	plan, err := reconcile.Plan(tree.Snapshot(), org.ID, in, reconcile.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Println(plan.Summary())
	if err := reconcile.Apply(tree, plan); err != nil {
		panic(err)
	}
	kids, _ := tree.Children(org.RootID, 1)
	for _, k := range kids {
		fmt.Println(k.Name)
	}

	empty, _ := reconcile.DecodeWeCom(strings.NewReader(`{"errcode":0,"errmsg":"ok","department":[]}`), strings.NewReader(`{"errcode":0,"userlist":[]}`))
	_, err = reconcile.Plan(tree.Snapshot(), org.ID, empty, reconcile.Options{})
	fmt.Println(errors.Is(err, reconcile.ErrEmptyInput))
	// Output:
	// 2 create, 1 update, 2 create-user, 2 add-member, 1 main-dept
	// 研发部
	// 市场部
	// true
}

// Print a plan as a dry run (every step, in the order Apply runs them),
// apply it, and plan the same input again: nothing to do.
func Example_dryRun() {
	departments := `{"errcode":0,"department":[
	  {"id":2,"name":"R&D","parentid":1,"order":5},
	  {"id":1,"name":"Acme","parentid":0},
	  {"id":3,"name":"Web","parentid":2}]}`
	users := `{"errcode":0,"userlist":[
	  {"userid":"ann","name":"Ann","department":[3],"main_department":3}]}`

	t := orgtree.New()
	org, err := t.CreateOrg(orgtree.OrgInput{ID: "acme", Name: "Acme"})
	if err != nil {
		panic(err)
	}
	in, err := reconcile.DecodeWeCom(strings.NewReader(departments), strings.NewReader(users))
	if err != nil {
		panic(err)
	}
	plan, err := reconcile.Plan(t.Snapshot(), org.ID, in, reconcile.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Print(plan) // the dry run: every step
	fmt.Println(plan.Summary())
	if err := reconcile.Apply(t, plan); err != nil { // all or nothing
		panic(err)
	}

	web, _ := t.NodeByExternalID(org.ID, "3")
	names, _ := t.NamePath(web.ID)
	members, _ := t.ListMembers(web.ID, orgtree.ListMembersOptions{})
	fmt.Println(names, members.List[0].Name)

	again, _ := reconcile.Plan(t.Snapshot(), org.ID, in, reconcile.Options{})
	fmt.Println(again.Empty())
	// Output:
	// plan for org acme at version 1: 2 create, 1 update, 1 create-user, 1 add-member, 1 main-dept
	//    1. update "Acme" (1): externalId="1"
	//    2. create "R&D" (2) under "Acme" (1)
	//    3. create "Web" (3) under "R&D" (2)
	//    4. create-user "Ann" (ann)
	//    5. add member "Ann" (ann) to "Web" (3)
	//    6. set main department of "Ann" (ann) to "Web" (3)
	// 2 create, 1 update, 1 create-user, 1 add-member, 1 main-dept
	// [Acme R&D Web] Ann
	// true
}
