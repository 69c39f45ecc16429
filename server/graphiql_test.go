package server

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGraphiQLIsServedSelfContained checks that /graphiql serves the
// bundled page and that it refers to nothing outside this server: every
// script and style of the page is one of its own files, the styles load no
// URL but data: ones, the script names no CDN, the CSP allows only 'self',
// and the licenses of what was bundled are served beside it.
func TestGraphiQLIsServedSelfContained(t *testing.T) {
	ts := startServer(t)
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(ts.http.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}

	resp, page := get("/graphiql")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "/graphiql/", resp.Request.URL.Path, "redirected to the directory, so relative asset paths resolve")
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	csp := resp.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "default-src 'self'")
	assert.Contains(t, csp, "script-src 'self';")
	assert.NotRegexp(t, `https?:|\*`, csp, "the policy names no other origin")
	assert.Contains(t, page, `<div id="root">`)

	var refs []string
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if m[1] != "data:," { // the empty icon, so browsers ask for no favicon
			refs = append(refs, m[1])
		}
	}
	require.Len(t, refs, 2, "one script and one stylesheet")
	types := map[string]string{}
	for _, u := range refs {
		require.True(t, strings.HasPrefix(u, "./") && !strings.Contains(u, ".."), "a file of the page itself: %q", u)
		resp, body := get("/graphiql/" + strings.TrimPrefix(u, "./"))
		require.Equal(t, http.StatusOK, resp.StatusCode, u)
		types[u] = resp.Header.Get("Content-Type")
		assert.Greater(t, len(body), 10000, "%s is the bundle, not a stub", u)
		switch {
		case strings.HasSuffix(u, ".js"):
			for _, cdn := range []string{"unpkg.com", "jsdelivr", "cdnjs", "esm.sh", "googleapis", "importScripts("} {
				assert.NotContains(t, body, cdn, "the script loads from elsewhere")
			}
			assert.Contains(t, body, "graphiql-logo-link", "GraphiQL itself is bundled")
			assert.Contains(t, body, "accessToken(userPoolId: $userPoolId, secret: $secret)", "the sign-in exchanges the credentials")
			assert.Contains(t, body, "../graphql/v2", "requests go to this server's endpoint")
		case strings.HasSuffix(u, ".css"):
			for _, m := range regexp.MustCompile(`url\(\s*['"]?([^'")]*)`).FindAllStringSubmatch(body, -1) {
				assert.True(t, strings.HasPrefix(m[1], "data:") || strings.HasPrefix(m[1], "#"), "the styles load %q", m[1])
			}
			assert.Contains(t, body, ".graphiql-container")
		}
	}
	assert.Contains(t, types["./graphiql.js"], "javascript")
	assert.Contains(t, types["./graphiql.css"], "text/css")

	resp, licenses := get("/graphiql/THIRD_PARTY_LICENSES.txt")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, pkg := range []string{"graphiql 4.1.2 (MIT)", "react 18.3.1 (MIT)", "react-dom 18.3.1 (MIT)", "graphql 16.11.0 (MIT)", "codemirror "} {
		assert.Contains(t, licenses, pkg)
	}
	assert.Contains(t, licenses, "Permission is hereby granted")

	resp, _ = get("/graphiql/nope.js")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}
