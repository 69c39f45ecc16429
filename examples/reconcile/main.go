// Command reconcile syncs a provider's department list into an in-memory
// orgtree and shows the plans: the first sync, a re-sync of the same list
// (empty), and a sync after the provider renamed and moved departments.
//
//	go run ./examples/reconcile -n 10000
//	go run ./examples/reconcile -provider wecom -departments depts.json -users users.json
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/reconcile"
)

func main() {
	n := flag.Int("n", 10000, "departments in the generated provider list (when no files are given)")
	provider := flag.String("provider", "wecom", "shape of the files: dingtalk, wecom or lark")
	deptFile := flag.String("departments", "", "a provider department list response (JSON)")
	userFile := flag.String("users", "", "a provider user list response (JSON)")
	show := flag.Int("show", 10, "plan steps to print")
	flag.Parse()

	in, err := input(*provider, *deptFile, *userFile, *n)
	if err != nil {
		log.Fatal(err)
	}
	tr := orgtree.New(orgtree.WithLimits(orgtree.Limits{MaxChildren: -1}))
	org, err := tr.CreateOrg(orgtree.OrgInput{Name: "Acme"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("provider list: %d departments, %d users\n\n", len(in.Departments), len(in.Members))
	run(tr, org.ID, "first sync", in, *show)
	run(tr, org.ID, "same list again", in, *show)
	if *deptFile == "" && len(in.Departments) > 10 {
		// The provider renames 1% of the departments and moves one subtree.
		for i := 0; i < len(in.Departments); i += 100 {
			if in.Departments[i].ParentExternalID != "" {
				in.Departments[i].Name += " (renamed)"
			}
		}
		for i := range in.Departments {
			if in.Departments[i].ExternalID == "2" {
				in.Departments[i].ParentExternalID = "3"
			}
			if in.Departments[i].ExternalID == "3" {
				in.Departments[i].ParentExternalID = "1"
			}
		}
		run(tr, org.ID, "after renames and a move", in, *show)
	}
}

func run(tr *orgtree.Tree, orgID, title string, in reconcile.Input, show int) {
	start := time.Now()
	plan, err := reconcile.Plan(tr.Snapshot(), orgID, in, reconcile.Options{})
	if err != nil {
		log.Fatal(err)
	}
	planned := time.Since(start)
	start = time.Now()
	if err := reconcile.Apply(tr, plan); err != nil {
		log.Fatal(err)
	}
	applied := time.Since(start)
	fmt.Printf("== %s: %s\n   plan %v, apply %v\n", title, plan.Summary(), planned.Round(time.Millisecond), applied.Round(time.Millisecond))
	for i, s := range plan.Steps {
		if i == show {
			fmt.Printf("   … %d more steps\n", len(plan.Steps)-show)
			break
		}
		fmt.Printf("   %d. %s\n", i+1, s)
	}
	fmt.Println()
}

func input(provider, deptFile, userFile string, n int) (reconcile.Input, error) {
	if deptFile == "" {
		return reconcile.Synthetic(n, 1), nil
	}
	decode := map[string]func(io.Reader, io.Reader) (reconcile.Input, error){
		"dingtalk": reconcile.DecodeDingTalk, "wecom": reconcile.DecodeWeCom, "lark": reconcile.DecodeLark,
	}[provider]
	if decode == nil {
		return reconcile.Input{}, fmt.Errorf("unknown provider %q", provider)
	}
	depts, err := os.Open(deptFile)
	if err != nil {
		return reconcile.Input{}, err
	}
	defer depts.Close()
	var users io.Reader
	if userFile != "" {
		f, err := os.Open(userFile)
		if err != nil {
			return reconcile.Input{}, err
		}
		defer f.Close()
		users = f
	}
	return decode(depts, users)
}
