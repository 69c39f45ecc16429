package pmap

// Edit is an ownership token for transient (in-place) updates.
//
// A container node created under Edit e may be mutated in place by later
// calls that pass the same e; nodes owned by another token, or by nil, are
// copied first. A writer makes one Edit per transaction and never uses it
// again after publishing, so every published version is immutable from then
// on. A nil *Edit is valid and means "pure persistent update".
type Edit struct {
	// Non-zero size so that distinct Edits have distinct addresses.
	_ byte
}

// NewEdit returns a fresh ownership token, distinct from every other Edit.
func NewEdit() *Edit { return new(Edit) }
