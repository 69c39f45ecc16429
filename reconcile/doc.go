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
// The root is the org's own node (CreateOrg made it, with the org's name,
// code and leader), so the provider speaks only for what it delivers: a
// root department without a name, code or leader leaves the root's as they
// are; its order is never changed. Every other department is the
// provider's: its name, order, code and leader are set as listed (an empty
// Code clears the code).
//
// Siblings: orgtree shows larger Order first. WeCom documents the same
// (order值大的排序靠前), so DecodeWeCom keeps order as it is; DingTalk and
// Lark document smaller first (order值小的排序靠前; 数值越小，排序越靠前),
// so their decoders negate it. The synced tree lists siblings in the
// provider's order.
//
// Users are matched by external id (orgtree.User.ExternalID); missing ones
// are created. A member's DepartmentIDs are the complete set of its
// departments in this org: memberships of managed users in other nodes of
// the org are removed, and users with an external id that the input does
// not list lose their memberships in the org (no user is ever deleted).
// A member's MainDepartmentID sets its main department; an empty one does
// not speak for it: the main department stays while the user stays in that
// department, and is cleared when the user leaves it (even when the plan
// moves the membership, which orgtree's MoveMembers would otherwise carry
// along). Users without an external id are not managed, except that
// leaving a deleted department is spelled out in the plan. An Input with
// KeepMembers (what the decoders return without a users reader) manages no
// user at all: memberships stay, except in deleted departments.
//
// # Users shared by several orgs
//
// Users are global; a sync is per org. Each org's sync owns the user's
// memberships in that org. The user's fields (name, username, email,
// phone) and its main department belong to its home org: the org of its
// main department or, without one, of its oldest membership. Only a sync
// of the home org (or of any org, for a user who belongs nowhere yet, such
// as one the plan creates) changes them; other orgs' syncs leave them, so
// two orgs that list one user differently do not undo each other, and
// both re-plans are empty. When the user leaves its home org, the next
// home is found the same way.
//
// # Safety
//
// Provider answers fail in ways that look like data. The decoders always
// add the provider's root (an empty department list is a company of only
// its root, whose staff sit in the root), refuse a last page that still
// says has_more (or carries a next_cursor) with ErrTruncated, and refuse
// list items without ids, so a wrong or legacy shape does not decode into
// nameless departments. DingTalk's legacy department/list shape (id,
// parentid) is read as well as the v2 one. Where the provider lists several
// leaders, the first one present in the user list is taken (orgtree keeps
// one per node). Only the last page can be judged: pages concatenated
// from several per-department listings each end with their own has_more.
//
// Plan refuses an input with no department besides the root and no
// members (ErrEmptyInput) unless Options.AllowEmpty says the org really is
// empty. It counts what a plan takes away (Loss: departments deleted,
// memberships removed, members who leave the org; moves are not losses)
// and refuses, with a *LimitError wrapping ErrTooManyDeletes, a plan that
// takes more than Options.MaxDeleteRatio (default 25%) of any of the three,
// unless Options.Force. The plan's Summary says what would go.
//
// MissingKeep keeps a missing department as it is, with all its members,
// those the provider no longer lists included: the provider says nothing
// about it, so the sync changes nothing in it. Where the input gives a
// kept department's code (or external id) to another department, the
// input wins and the plan's release step takes it from the kept one.
//
// # Plans and staleness
//
// A Plan lists its steps in the order Apply runs them: code releases, then
// creates and moves parents-first (each move's target is already in its
// final place, so no intermediate step can form a cycle), updates, user
// creation and updates, leaders, member moves, adds and removes, main
// departments, and finally deletes deepest-first. Applying a plan and
// planning the same input again gives an empty plan.
//
// Plan reads only the org (orgtree.Snapshot.DumpOrg) and the users the
// input names, so it costs O(the org and the input) however large the
// rest of the tree is. The plan carries a fingerprint of what it read; Apply
// (and ApplyTx, and Check) recompute it inside the transaction and refuse
// the plan with ErrStalePlan when it differs. A write that changes the org
// or a user the plan read makes the plan stale; writes to other orgs and
// other users do not. The check does not rely on the tree's version number:
// a plan made inside a transaction that was rolled back, or before a
// Tree.Rollback, is refused when what it read is no longer there, even if
// the version number is the same again. ApplyTx sees the transaction's own
// earlier writes. Apply runs everything in one transaction.
//
// # Errors
//
// Input errors are collected and returned together as an *InputError
// (errors.Is(err, ErrInvalidInput)) listing the offending ids per Problem
// kind: "id", "duplicate id", "unknown parent", "cycle", "roots", "name",
// "code", "member", "depth" and "children" (Plan checks the tree's
// MaxDepth and MaxChildren, counting departments deleted at the end, since
// creates run first); nothing is planned. Decode errors wrap
// ErrInvalidInput (and ErrTruncated for cut-off answers).
package reconcile
