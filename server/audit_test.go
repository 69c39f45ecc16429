package server

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// graphqlHTTPVersion is the graphql-http release testdata/graphqlhttp pins.
const graphqlHTTPVersion = "1.23.1"

type auditResult struct {
	ID, Name, Status, Reason string
	HTTPStatus               int    `json:"httpStatus"`
	ContentType              string `json:"contentType"`
	Body                     string `json:"body"`
}

// runAudit runs the graphql-http server audits against a fresh server and
// returns their results in order.
func runAudit(t *testing.T) []auditResult {
	t.Helper()
	dir := npmDir(t, "testdata/graphqlhttp", "graphql-http-"+graphqlHTTPVersion, "audit.js")
	ts := startServer(t)
	out, _ := runNode(t, dir, "audit.js", 2*time.Minute,
		"ORGTREE_URL="+ts.http.URL+"/graphql/v2", "ORGTREE_POOL_ID="+ts.pool, "ORGTREE_TOKEN="+ts.token())
	results := jsonLines[auditResult](t, out)
	require.NotEmpty(t, results)
	return results
}

// keptAudits lists the audits allowed to fail, by id, each with the reason
// it is kept. None is: the Authing SDKs send Accept "application/json,
// text/plain, */*" (JS) or none (Go) and always a well-formed JSON POST, so
// everything they need (HTTP 200 envelopes for GraphQL errors) sits in the
// application/json answers the spec itself asks to be 200, and every MUST,
// SHOULD and MAY audit passes. A new graphql-http release whose audits
// fail must add its ids here with a reason, or be fixed.
var keptAudits = map[string]string{}

// TestGraphQLOverHTTPAudit runs the GraphQL-over-HTTP audit suite
// (graphql-http serverAudits) against the server. Before orgtree spoke the
// spec it scored 26 ok, 1 MUST error, 11 SHOULD warnings, 23 MAY notices.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	if testing.Short() {
		t.Skip("installs and runs the graphql-http audit suite")
	}
	results := runAudit(t)
	counts := map[string]int{}
	for _, r := range results {
		counts[r.Status]++
		if r.Status == "ok" {
			continue
		}
		if reason, kept := keptAudits[r.ID]; kept {
			t.Logf("kept: %s %s [%s]: %s", r.Status, r.ID, r.Name, reason)
			continue
		}
		t.Errorf("%s %s [%s]: %s (HTTP %d %s) %s", r.Status, r.ID, r.Name, r.Reason, r.HTTPStatus, r.ContentType, r.Body)
	}
	t.Logf("graphql-http %s audit: %d ok, %d error, %d warn, %d notice", graphqlHTTPVersion, counts["ok"], counts["error"], counts["warn"], counts["notice"])
	require.GreaterOrEqual(t, counts["ok"], 61, "the suite ran every audit")
}
