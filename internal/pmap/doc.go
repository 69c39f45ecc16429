// Package pmap provides persistent (immutable, structurally shared)
// containers: a hash map from string keys ([Map]) and an indexed vector
// ([Vec]).
//
// Every update returns a new container value and leaves the receiver
// untouched, sharing all unchanged structure with it, so an update costs
// O(log n) path copying. Published versions can therefore be read by any
// number of goroutines without locks while a single writer builds the next
// version.
//
// # Transient updates
//
// Updates take an *[Edit] ownership token. Nodes created by an update that
// passed Edit e are owned by e, and later updates passing the same e mutate
// those nodes in place instead of copying them, which makes bulk loading
// much cheaper (like Clojure transients). Nodes owned by another Edit, or
// created with a nil Edit, are always copied before modification.
//
// The rule that keeps this safe: a writer creates one Edit per transaction
// with [NewEdit], uses it only until it publishes the resulting version, and
// never passes it again afterwards. From that moment every node of the
// published version is immutable. Within a transaction, intermediate
// versions produced with the same Edit may be changed by later updates with
// that Edit and must not be kept. Passing a nil Edit always performs a pure
// persistent update.
//
// Neither container is safe for concurrent updates with the same Edit;
// concurrent reads of versions that are no longer being updated in place
// are always safe.
package pmap
