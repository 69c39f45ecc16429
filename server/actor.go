package server

import (
	"context"
	"net/http"

	"github.com/orgtree/orgtree"
)

// Who made a change. Every write through the API runs as a transaction
// with an actor and a reason (orgtree.Tx.SetActor), which the change
// history keeps and the events carry: the request's X-Orgtree-Actor and
// X-Orgtree-Reason headers when it sends them (the web UI sends "ui"), or
// the actor "api". A header the engine refuses (too long, control
// characters, not UTF-8) fails the write with an invalid-argument error.
const (
	actorHeader  = "X-Orgtree-Actor"
	reasonHeader = "X-Orgtree-Reason"
	defaultActor = "api"
)

// actorKey is the context key of the request's actor, and actorArg the
// argument under which GraphQL resolvers find it (no GraphQL name starts
// with a NUL byte).
type actorKey struct{}

const actorArg = "\x00actor"

type actor struct{ name, reason string }

// withActor puts the request's actor in its context.
func withActor(req *http.Request) *http.Request {
	a := actor{name: req.Header.Get(actorHeader), reason: req.Header.Get(reasonHeader)}
	if a.name == "" {
		a.name = defaultActor
	}
	return req.WithContext(context.WithValue(req.Context(), actorKey{}, a))
}

func actorOf(ctx context.Context) actor {
	if a, ok := ctx.Value(actorKey{}).(actor); ok {
		return a
	}
	return actor{name: defaultActor}
}

// argActor is the actor a resolver was called with.
func argActor(a map[string]any) actor {
	if who, ok := a[actorArg].(actor); ok {
		return who
	}
	return actor{name: defaultActor}
}

// write runs fn as one transaction made by the resolver's actor.
func (s *Server) write(a map[string]any, fn func(tx *orgtree.Tx) error) error {
	who := argActor(a)
	return s.updateAs(who.name, who.reason, fn)
}

// write1 is write for a change that returns a value.
func write1[T any](s *Server, a map[string]any, fn func(tx *orgtree.Tx) (T, error)) (T, error) {
	var out T
	err := s.write(a, func(tx *orgtree.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}
