// Package reconcile syncs an org from a provider's flat department and
// member lists (DingTalk, WeCom, Lark/Feishu, or any source shaped like
// them): the local equivalent of the hosted service's start_sync.
//
// The caller fetches the lists with its own client, decodes them with
// DecodeDingTalk, DecodeWeCom or DecodeLark (or fills an Input directly),
// and then:
//
//	plan, err := reconcile.Plan(tree.Snapshot(), orgID, input, reconcile.Options{})
//	fmt.Print(plan)                  // a dry run: every step, human-readable
//	err = reconcile.Apply(tree, plan) // all or nothing
//
// # Matching and semantics
//
// Departments are matched by external id (orgtree.Node.ExternalID), never
// by name, so a renamed department is renamed and a moved one is moved with
// its members and grants. The input's root department (the one without a
// parent) is the org's root node. Every other node of the org is managed by
// the sync: a node whose external id is not in the input (or that has none)
// is missing, and is deleted (MissingDelete, the default) or kept where it
// is and marked (MissingKeep: its DescriptionI18n gets the key MarkKey; a
// later sync that finds it again removes the mark). Input may list
// departments in any order, children before parents.
//
// Users are matched by external id (orgtree.User.ExternalID); missing ones
// are created. A member's DepartmentIDs are the complete set of its
// departments in this org: memberships of managed users in other nodes of
// the org are removed, and users with an external id that the input does
// not list lose their memberships in the org (users are shared by all orgs,
// so no user is deleted). A member's MainDepartmentID sets its main
// department; without one, a main department in this org is cleared. Users
// without an external id are not managed,
// except that leaving a deleted department is spelled out in the plan.
//
// A Plan lists its steps in the order Apply runs them: code releases, then
// creates and moves parents-first (each move's target is already in its
// final place, so no intermediate step can form a cycle), updates, user
// creation and updates, member moves, adds and removes, main departments,
// and finally deletes deepest-first. Apply refuses a plan made on another
// version of the tree (ErrStalePlan) and runs everything in one
// transaction. Applying a plan and planning the same input again gives an
// empty plan.
//
// Input errors (duplicate external ids, unknown parents, cycles, several or
// no roots, bad names, members in unknown departments) are collected and
// returned together as an *InputError listing the offending ids; nothing is
// planned. A plan that would delete more than Options.MaxDeleteRatio of the
// org's departments is refused with ErrTooManyDeletes unless Options.Force.
package reconcile
