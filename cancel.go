package orgtree

import (
	"context"
	"fmt"
)

// Cancellation. The reads whose cost grows with the tree — a search
// without a limit, a listing of a subtree's members, Children of a node
// with many children, an export, a Diff of distant versions — each have a
// variant that takes a context.Context (SearchContext, ListMembersContext,
// ChildrenContext, ExportOrgContext, ExportAllContext, ExportJSONContext,
// DiffContext). It looks at the context before it starts and every
// cancelEvery steps of its loops, and when the context has ended returns
// an error that wraps ctx.Err() (errors.Is(err, context.Canceled) or
// context.DeadlineExceeded) and no partial result. A server passes its
// request's context, so that a client that leaves or runs out of time
// stops the work it asked for. The variants without a context run exactly
// as before: a context that can never end (context.Background) is not
// looked at.

// cancelEvery is how many steps of a long loop pass between two looks at
// the context: a step is a node folded and compared, a member keyed, a
// node copied or written; 256 of them take tens of microseconds, and one
// look (an atomic load and a branch when the context is live) is lost in
// them.
const cancelEvery = 256 // a power of two: stop masks rather than divides

// canceller counts the steps of one long read and looks at its context
// every cancelEvery of them. A nil canceller (the context can never end)
// never stops, at the cost of one comparison per step.
type canceller struct {
	ctx   context.Context
	op    string
	steps int
	done  bool  // the context has ended
	err   error // why, once done
}

// newCanceller returns the canceller of the operation op under ctx, nil if
// ctx can never end.
func newCanceller(ctx context.Context, op string) *canceller {
	if ctx == nil || ctx.Done() == nil {
		return nil
	}
	return &canceller{ctx: ctx, op: op}
}

// stop counts one step and reports whether the context has ended (looked
// at every cancelEvery steps; once ended, always true).
func (c *canceller) stop() bool {
	if c == nil {
		return false
	}
	if c.steps++; c.steps&(cancelEvery-1) == 0 {
		return c.now()
	}
	return c.done
}

// now looks at the context at once, whatever the step count: before a
// read starts, and between its phases.
func (c *canceller) now() bool {
	if c == nil {
		return false
	}
	if !c.done {
		if err := c.ctx.Err(); err != nil {
			c.err, c.done = fmt.Errorf("orgtree: %s: stopped: %w", c.op, err), true
		}
	}
	return c.done
}

// stopped is the error that stopped the read, nil if none did.
func (c *canceller) stopped() error {
	if c == nil {
		return nil
	}
	return c.err
}
