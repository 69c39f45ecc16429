package main

import (
	"fmt"
	"math/rand/v2"
)

// synthOrg is the synthetic org every backend loads: nodes in parent-first
// order, users in creation order, memberships as (node, user) index pairs.
type synthOrg struct {
	nodes   []synthNode
	users   []synthUser
	members [][2]int32 // node index, user index; distinct pairs
}

type synthNode struct {
	id, code, name string
	parent         int32 // -1 for the root
	order          int
}

type synthUser struct {
	id, name string
	created  int64 // creation order, the sort key of member listings
}

var nameWords = []string{"研发", "运营", "市场", "销售", "Platform", "Sales", "Support", "后端", "前端", "Finance", "设计", "Design", "QA", "财务"}

// generate builds an org of n nodes (fan-out 5–15, depth at most 12, ASCII
// and Chinese names such as "研发-17": the hyphen in every name gives the
// bench a query that matches every node), users and memberships,
// deterministically for a seed.
func generate(n, users, memberships int, seed uint64) *synthOrg {
	r := rand.New(rand.NewPCG(seed, 99))
	o := &synthOrg{}
	o.nodes = append(o.nodes, synthNode{id: "n0", code: "c0", name: "Acme-0", parent: -1})
	// Expanding a random open node, rather than breadth-first, gives the
	// uneven depths of real orgs: some branches reach 12 levels.
	depth := []int{0}
	open := []int{0}
	for len(o.nodes) < n && len(open) > 0 {
		k := r.IntN(len(open))
		if r.IntN(2) == 0 {
			k = len(open) - 1 - r.IntN(min(len(open), 8)) // often a recent, deep one
		}
		next := open[k]
		open[k] = open[len(open)-1]
		open = open[:len(open)-1]
		for c := 5 + r.IntN(11); c > 0 && len(o.nodes) < n; c-- {
			i := len(o.nodes)
			o.nodes = append(o.nodes, synthNode{
				id: fmt.Sprintf("n%d", i), code: fmt.Sprintf("c%d", i), parent: int32(next), order: r.IntN(100),
				name: fmt.Sprintf("%s-%d", nameWords[r.IntN(len(nameWords))], i),
			})
			depth = append(depth, depth[next]+1)
			if depth[i] < 12 {
				open = append(open, i)
			}
		}
	}
	for u := range users {
		o.users = append(o.users, synthUser{id: fmt.Sprintf("u%d", u), name: fmt.Sprintf("user %d", u), created: int64(u)})
	}
	seen := make(map[[2]int32]bool, memberships)
	for len(o.members) < memberships && users > 0 {
		pair := [2]int32{int32(r.IntN(len(o.nodes))), int32(r.IntN(users))}
		if !seen[pair] {
			seen[pair] = true
			o.members = append(o.members, pair)
		}
	}
	return o
}
