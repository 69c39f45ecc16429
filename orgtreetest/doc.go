// Package orgtreetest provides org fixtures for Go tests: trees loaded or
// generated once per test binary and handed to every test as its own
// writable fork, a deterministic clock and id sequence, golden files in the
// text `orgtree tree` prints, and a fake Authing server for services that
// use the Authing SDKs. It is to orgtree what net/http/httptest is to
// net/http.
//
// # Fixtures and forks
//
// Load (a JSON export on disk), LoadJSON (any reader) and LoadSpec (a
// generated org) build their fixture the first time a test binary asks for
// it and then only fork it: orgtree.Snapshot.Fork shares every structure of
// the fixture and costs the same (~200 ns) at a thousand nodes or a
// million. Each test gets an independent *orgtree.Tree and may mutate it
// freely, in parallel with the others (t.Parallel); writes are never seen
// by the fixture or by another fork.
//
// The cache is keyed by absolute path and a hash of the content for files,
// by content for LoadJSON, and by the Spec for generated orgs. Concurrent
// first callers of one key wait for a single build. A file edited while the
// binary runs is built again under its new content. Fixtures stay in memory
// until the binary exits.
//
// # Determinism
//
// Trees made here (New, Options, fixtures and their forks) use a clock
// frozen at Epoch and ids id1, id2, … The engine keeps timestamps strictly
// increasing, so the n-th write of a tree is stamped Epoch plus n
// nanoseconds. Every fork continues the id sequence and the clock where its
// fixture left them, on its own: a node a test adds gets the same id and
// timestamp whatever other tests run beside it. Generated orgs bring their
// own ids (org "org", departments n0, n1, …, users u0, u1, …, codes c0,
// c1, …); JSON fixtures keep the ids of the document.
//
// # Generated orgs
//
// Generate makes an org from a Spec (departments, fan-out, depth, users,
// memberships, Chinese or English names, seed); the same Spec gives the
// same org on every run. Flat, DeepChain, Wide and Company are ready-made
// shapes. Org.Tree builds a generated org into a fresh tree, Org.Build into
// a transaction, GenerateFixture and LoadSpec into the fixture cache.
//
// # Golden trees
//
// Text renders orgs as `orgtree tree` does. AssertTree compares that text
// with a golden file and prints a line diff on a mismatch; run the tests
// with -update to (re)write golden files. This package defines the -update
// flag, so a test package that imports it must not define one of its own;
// Updating reports the flag for the package's other golden files.
//
// # A fake Authing
//
// NewServer serves the Authing management API over a tree on a loopback
// port with the fixed credentials UserPoolID and Secret, and stops when the
// test ends. Point the Authing Go SDK (management.NewClient) or the JS SDK
// at Server.URL and check the effects on Server.Tree.
package orgtreetest
