package reconcile

import (
	"fmt"
	"math/rand/v2"
)

// Synthetic returns a provider-shaped input of n departments (fan-out
// 5–15, at most 12 levels, Chinese and ASCII names, listed in a shuffled
// order) and 2n users in one or two departments each, deterministic for a
// seed. It is for benchmarks, demos and load tests.
func Synthetic(n int, seed uint64) Input {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	words := []string{"研发", "市场", "销售", "Platform", "Sales", "Support", "运营", "Finance", "设计", "QA"}
	in := Input{Departments: make([]Department, 0, n)}
	in.Departments = append(in.Departments, Department{ExternalID: "1", Name: "Acme"})
	depth := []int{0}
	for next := 0; len(in.Departments) < n && next < len(in.Departments); next++ {
		if depth[next] >= 12 {
			continue
		}
		for k := 5 + r.IntN(11); k > 0 && len(in.Departments) < n; k-- {
			id := fmt.Sprint(len(in.Departments) + 1)
			in.Departments = append(in.Departments, Department{
				ExternalID: id, ParentExternalID: in.Departments[next].ExternalID,
				Name: fmt.Sprintf("%s %s", words[r.IntN(len(words))], id), Order: r.IntN(100),
			})
			depth = append(depth, depth[next]+1)
		}
	}
	for u := range 2 * n {
		m := Member{ExternalID: fmt.Sprintf("user%d", u), Name: fmt.Sprintf("用户 %d", u), Email: fmt.Sprintf("u%d@example.com", u)}
		for range 1 + r.IntN(2) {
			m.DepartmentIDs = append(m.DepartmentIDs, in.Departments[r.IntN(len(in.Departments))].ExternalID)
		}
		m.DepartmentIDs = sortedUnique(m.DepartmentIDs)
		m.MainDepartmentID = m.DepartmentIDs[0]
		in.Members = append(in.Members, m)
	}
	r.Shuffle(len(in.Departments), func(i, j int) { in.Departments[i], in.Departments[j] = in.Departments[j], in.Departments[i] })
	return in
}
