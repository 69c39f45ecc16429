package orgtree

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxActorLen and MaxReasonLen bound, in bytes, what Tx.SetActor takes: an
// actor is an id, a reason a short sentence for an audit log.
const (
	MaxActorLen  = 256
	MaxReasonLen = 1024
)

// SetActor records who makes this transaction's changes and why. Both
// travel with its ChangeSet (to the commit hook, and so to a store's
// change log and a server's events). Calling it again replaces both. It
// refuses strings that are too long, not UTF-8 or hold control characters
// with ErrInvalidArgument, and then changes nothing.
func (tx *Tx) SetActor(actor, reason string) error {
	const op = "set actor"
	if err := tx.writable(op); err != nil {
		return err
	}
	if err := checkLabel(actor, MaxActorLen); err != nil {
		return fmt.Errorf("orgtree: %s: actor: %w", op, err)
	}
	if err := checkLabel(reason, MaxReasonLen); err != nil {
		return fmt.Errorf("orgtree: %s: reason: %w", op, err)
	}
	tx.actor, tx.reason = actor, reason
	return nil
}

// Actor returns what SetActor recorded for this transaction.
func (tx *Tx) Actor() (actor, reason string) { return tx.actor, tx.reason }

// UpdateAs is Update with the transaction's actor and reason set first.
func (t *Tree) UpdateAs(actor, reason string, fn func(*Tx) error) error {
	return t.Update(As(actor, reason, fn))
}

// As returns fn with the transaction's actor and reason set first (see
// Tx.SetActor), for whatever runs transactions: Tree.Update, or a
// replica's Update.
func As(actor, reason string, fn func(*Tx) error) func(*Tx) error {
	return func(tx *Tx) error {
		if err := tx.SetActor(actor, reason); err != nil {
			return err
		}
		return fn(tx)
	}
}

func checkLabel(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%d bytes, at most %d: %w", len(s), max, ErrInvalidArgument)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("not UTF-8: %w", ErrInvalidArgument)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("control character %U: %w", r, ErrInvalidArgument)
		}
	}
	return nil
}
