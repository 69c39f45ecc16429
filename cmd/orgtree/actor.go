package main

import (
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/orgtree/orgtree"
)

// Who changed the store, and why. Every command that writes (import, sync,
// move; serve --seed) runs its transaction with an actor and a reason
// (orgtree.Tx.SetActor), which the store's change history keeps and
// "orgtree log" and the change events show:
//
//   - actor: --actor, else $ORGTREE_ACTOR, else "cli:<login name>" ($USER;
//     "cli" when unset or unusable). A command that runs inside a server
//     (beside serve, or --server) is attributed to the client's user, not
//     the server's: the client sends its actor with the command line.
//   - reason: --reason, else the command line as typed, flags that name
//     neither actor nor reason included ("orgtree import org.json").
//
// The actor is a claim, not an identity: whoever may write the store (or
// holds the server's CLI token) may write any name there.

// attribution is the --actor and --reason of one writing command.
type attribution struct {
	o      *options
	actor  string
	reason string
}

// attribute gives a writing command its --actor and --reason flags.
func attribute(o *options, cmd *cobra.Command) *attribution {
	a := &attribution{o: o}
	cmd.Flags().StringVar(&a.actor, "actor", "", `who makes the change, kept in the store's history (default $ORGTREE_ACTOR, else "cli:$USER")`)
	cmd.Flags().StringVar(&a.reason, "reason", "", "why: kept with the change in the store's history (orgtree log; default: the command line)")
	return a
}

// labels returns the actor and reason cmd's transaction is to carry.
func (a *attribution) labels(cmd *cobra.Command, args []string) (actor, reason string) {
	actor = a.actor
	if actor == "" {
		actor = a.o.actor
	}
	if actor == "" {
		actor = cliActor()
	}
	reason = a.reason
	if reason == "" {
		reason = commandLine(cmd, args)
	}
	return actor, reason
}

// update runs fn as one transaction of t carrying the command's actor and
// reason.
func (a *attribution) update(cmd *cobra.Command, args []string, t *orgtree.Tree, fn func(*orgtree.Tx) error) error {
	actor, reason := a.labels(cmd, args)
	return t.UpdateAs(actor, reason, fn)
}

// cliActor is who the change history says made a change from the command
// line of this process: $ORGTREE_ACTOR, else "cli" with the login name when
// the environment has one.
func cliActor() string {
	if a := os.Getenv("ORGTREE_ACTOR"); usableLabel(a, orgtree.MaxActorLen) {
		return a
	}
	u := os.Getenv("USER")
	if !usableLabel(u, 64) { // a login name, not any label that fits MaxActorLen
		return "cli"
	}
	return "cli:" + u
}

// usableLabel says whether s is set and passes Tx.SetActor's checks (at
// most max bytes, UTF-8, no control characters).
func usableLabel(s string, max int) bool {
	return s != "" && len(s) <= max && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// commandLine is the default reason: the command and its arguments and
// flags (but --actor and --reason), cut to fit orgtree.MaxReasonLen.
func commandLine(cmd *cobra.Command, args []string) string {
	parts := append([]string{cmd.CommandPath()}, args...)
	local := cmd.LocalFlags()
	cmd.Flags().Visit(func(f *pflag.Flag) { // the flags set, in name order
		if f.Name == "actor" || f.Name == "reason" || local.Lookup(f.Name) == nil {
			return
		}
		if f.Value.Type() == "bool" && f.Value.String() == "true" {
			parts = append(parts, "--"+f.Name)
			return
		}
		parts = append(parts, "--"+f.Name+"="+f.Value.String())
	})
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, strings.Join(parts, " "))
	if len(s) > orgtree.MaxReasonLen {
		cut := orgtree.MaxReasonLen - len("…")
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
