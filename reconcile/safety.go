package reconcile

import (
	"fmt"
	"strings"
)

// Loss is what a plan takes away from an org, each count beside what the
// org holds. A member is a user with a membership in the org; it is lost
// when the plan removes it from every department of the org.
type Loss struct {
	Departments   int `json:"departments"`
	OfDepartments int `json:"ofDepartments"` // the org's departments, the root not counted
	Memberships   int `json:"memberships"`
	OfMemberships int `json:"ofMemberships"`
	Members       int `json:"members"`
	OfMembers     int `json:"ofMembers"`
}

func (l Loss) any() bool { return l.Departments+l.Memberships+l.Members > 0 }

// String says what goes, for example "2 of 6 departments, 5 of 9
// memberships, 1 of 4 members".
func (l Loss) String() string {
	var parts []string
	for _, c := range []struct {
		n, of int
		what  string
	}{{l.Departments, l.OfDepartments, "departments"}, {l.Memberships, l.OfMemberships, "memberships"}, {l.Members, l.OfMembers, "members"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d of %d %s", c.n, c.of, c.what))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// over reports whether any count exceeds ratio of what the org holds; a
// negative ratio is no limit.
func (l Loss) over(ratio float64) bool {
	if ratio < 0 {
		return false
	}
	exceeds := func(n, of int) bool { return n > 0 && float64(n) > ratio*float64(of) }
	return exceeds(l.Departments, l.OfDepartments) || exceeds(l.Memberships, l.OfMemberships) || exceeds(l.Members, l.OfMembers)
}

func (o Options) maxDeleteRatio() float64 {
	if o.MaxDeleteRatio == 0 {
		return 0.25
	}
	return o.MaxDeleteRatio
}

// LimitError is returned by Plan for a plan that takes away more of the org
// than Options.MaxDeleteRatio allows. errors.Is(err, ErrTooManyDeletes)
// holds.
type LimitError struct {
	Loss  Loss
	Ratio float64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%v: it would take away %s (limit %.0f%% of each; set Options.Force to go ahead)", ErrTooManyDeletes, e.Loss, e.Ratio*100)
}

// Unwrap makes errors.Is(err, ErrTooManyDeletes) hold.
func (e *LimitError) Unwrap() error { return ErrTooManyDeletes }

// loss counts what the plan's steps take away.
func (p *planner) loss() Loss {
	l := Loss{OfDepartments: len(p.cur.nodes) - 1, OfMemberships: p.cur.members, OfMembers: len(p.cur.inOrg)}
	delta := map[string]int{} // user id → change in its number of memberships in the org
	for _, s := range p.steps {
		switch s.Action {
		case ActDelete:
			l.Departments++
		case ActRemoveMember:
			l.Memberships++
			delta[s.User.ID]--
		case ActAddMember:
			if s.User.ID != "" {
				delta[s.User.ID]++
			}
		}
	}
	for uid, in := range p.cur.inOrg {
		if len(in)+delta[uid] <= 0 {
			l.Members++
		}
	}
	return l
}
