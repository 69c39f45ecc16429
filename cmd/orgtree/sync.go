package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/reconcile"
)

// decoders are the providers sync reads.
var decoders = map[string]func(departments, users io.Reader) (reconcile.Input, error){
	"dingtalk": reconcile.DecodeDingTalk,
	"wecom":    reconcile.DecodeWeCom,
	"lark":     reconcile.DecodeLark,
}

// errDryRun ends a dry run's transaction so that nothing is kept.
var errDryRun = errors.New("dry run")

func newSyncCommand(o *options) *cobra.Command {
	var provider, departments, users, orgRef string
	var dryRun, force, keepMissing, allowEmpty bool
	var who *attribution
	cmd := &cobra.Command{
		Use:   "sync --provider dingtalk|wecom|lark --departments FILE --users FILE",
		Short: "Make an org equal to a provider's department and user lists, printing the plan",
		Long: `sync reads the department list and the user list a provider's API returned
(DingTalk, WeCom or Lark/Feishu, saved as JSON files; - for standard input),
plans the changes that make the org equal to them — departments matched by
external id, so renames stay renames and moves keep their members — prints
the plan and applies it in one transaction. --dry-run prints the plan only.

The org is --org (any department reference), or else the org whose root has
the input root's external id, or else a new org made for the input. A plan
that would take away more than a quarter of the org's departments,
memberships or members is refused unless --force, and an empty input (what a
failed provider answer decodes to) unless --allow-empty; --keep-missing keeps
departments the input lacks (marked) instead of deleting them. Syncing the
same files again plans nothing.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, a []string) error {
			decode, ok := decoders[provider]
			if !ok {
				return fmt.Errorf("--provider %q: dingtalk, wecom or lark", provider)
			}
			if departments == "" || users == "" {
				return fmt.Errorf("--departments and --users name the provider's two lists\nusage: %s", cmd.UseLine())
			}
			dr, _, err := o.openInput(cmd, departments)
			if err != nil {
				return err
			}
			defer dr.Close()
			ur, _, err := o.openInput(cmd, users)
			if err != nil {
				return err
			}
			defer ur.Close()
			in, err := decode(dr, ur)
			if err != nil {
				return err
			}
			opts := reconcile.Options{Force: force, AllowEmpty: allowEmpty}
			if keepMissing {
				opts.Missing = reconcile.MissingKeep
			}
			return o.withStore(dryRun, func(t *orgtree.Tree) error {
				var plan *reconcile.ChangePlan
				var created string
				run := func(tx *orgtree.Tx) error {
					orgID, name, err := syncTarget(tx, orgRef, in)
					if err != nil {
						return err
					}
					created = name
					if plan, err = reconcile.Plan(tx.Snapshot, orgID, in, opts); err != nil {
						return err
					}
					if dryRun {
						return errDryRun
					}
					return reconcile.ApplyTx(tx, plan)
				}
				err := who.update(cmd, a, t, run)
				if dryRun && errors.Is(err, errDryRun) {
					err = nil
				}
				if err != nil {
					return err
				}
				return printPlan(cmd.OutOrStdout(), o.jsonOut, plan, created, dryRun)
			})
		},
	}
	cmd.Flags().StringVar(&provider, "provider", "", "dingtalk, wecom or lark")
	cmd.Flags().StringVar(&departments, "departments", "", "the provider's department list (JSON file)")
	cmd.Flags().StringVar(&users, "users", "", "the provider's user list (JSON file)")
	cmd.Flags().StringVar(&orgRef, "org", "", "sync this org (default: the one whose root has the input root's external id, else a new one)")
	cmd.Flags().BoolVarP(&dryRun, "dry-run", "n", false, "print the plan, change nothing")
	cmd.Flags().BoolVar(&force, "force", false, "apply a plan that takes away more than a quarter of the departments, memberships or members")
	cmd.Flags().BoolVar(&allowEmpty, "allow-empty", false, "accept an input with no departments and no members (the org really is empty)")
	cmd.Flags().BoolVar(&keepMissing, "keep-missing", false, "keep departments the input lacks, marked, instead of deleting them")
	who = attribute(o, cmd)
	return storeCommand(cmd, annInputFlags, "departments,users")
}

// syncTarget returns the org to sync: the one ref names, the one whose root
// has the input root's external id, or one made now (whose name it returns).
func syncTarget(tx *orgtree.Tx, ref string, in reconcile.Input) (orgID, created string, err error) {
	if ref != "" {
		n, err := resolveNode(tx.Snapshot, ref)
		if err != nil {
			return "", "", err
		}
		return n.OrgID, "", nil
	}
	var root *reconcile.Department
	for i := range in.Departments {
		if in.Departments[i].ParentExternalID == "" {
			if root != nil {
				// Plan reports several roots with the offending ids.
				return "", "", reconcileInputError(tx, in)
			}
			root = &in.Departments[i]
		}
	}
	if root == nil {
		return "", "", reconcileInputError(tx, in)
	}
	for _, org := range tx.Orgs() {
		if n, err := tx.Node(org.RootID); err == nil && n.ExternalID != "" && n.ExternalID == root.ExternalID {
			return org.ID, "", nil
		}
	}
	name := root.Name
	if name == "" {
		name = "synced " + root.ExternalID
	}
	org, err := tx.CreateOrg(orgtree.OrgInput{Name: name, ExternalID: root.ExternalID})
	if err != nil {
		return "", "", err
	}
	return org.ID, name, nil
}

// reconcileInputError lets Plan describe an input without exactly one root
// (against an empty tree, so only the input's own faults are reported).
func reconcileInputError(tx *orgtree.Tx, in reconcile.Input) error {
	scratch := orgtree.New()
	org, err := scratch.CreateOrg(orgtree.OrgInput{Name: "input"})
	if err != nil {
		return err
	}
	if _, err := reconcile.Plan(scratch.Snapshot(), org.ID, in, reconcile.Options{}); err != nil {
		return err
	}
	return fmt.Errorf("%w: the input needs exactly one root department", reconcile.ErrInvalidInput)
}

func printPlan(w io.Writer, asJSON bool, plan *reconcile.ChangePlan, created string, dryRun bool) error {
	if asJSON {
		return printJSON(w, map[string]any{"dryRun": dryRun, "createdOrg": created != "", "plan": plan})
	}
	if created != "" {
		verb := "created"
		if dryRun {
			verb = "would create"
		}
		fmt.Fprintf(w, "%s org %s (%s)\n", verb, plan.OrgID, created)
	}
	if plan.Empty() {
		fmt.Fprintln(w, "nothing to do: the org already matches the input")
		return nil
	}
	fmt.Fprint(w, plan.String())
	if dryRun {
		fmt.Fprintf(w, "dry run: %s (nothing applied)\n", plan.Summary())
	} else {
		fmt.Fprintf(w, "applied: %s\n", plan.Summary())
	}
	return nil
}
