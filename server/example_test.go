package server_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/server"
)

// Embed the organization API in another service: its handler goes under a
// prefix of the service's own mux, beside the service's routes. Clients (the
// SDKs, or curl as here) exchange the pool's credentials for a token, then
// send it with the pool id on every request.
func Example_embedded() {
	tree := orgtree.New()
	if _, err := tree.CreateOrg(orgtree.OrgInput{Name: "Acme", Code: "acme"}); err != nil {
		log.Fatal(err)
	}
	orgAPI, err := server.New(tree, server.Config{UserPoolID: "pool-1", Secret: "s3cret"})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "fine\n") })
	mux.Handle("/authing/", http.StripPrefix("/authing", orgAPI.Handler()))
	svc := httptest.NewServer(mux) // in a real service: http.ListenAndServe(addr, mux)
	defer svc.Close()

	post := func(body string, header http.Header) string {
		req, _ := http.NewRequest(http.MethodPost, svc.URL+"/authing/graphql/v2", strings.NewReader(body))
		req.Header = header
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return string(out)
	}
	answer := post(`{"query":"{ accessToken(userPoolId: \"pool-1\", secret: \"s3cret\") { accessToken } }"}`, http.Header{})
	token := answer[strings.Index(answer, `"accessToken":"`)+len(`"accessToken":"`):]
	token = token[:strings.IndexByte(token, '"')]

	fmt.Println(post(`{"query":"{ orgs(page: 1, limit: 10) { totalCount list { rootNode { name code } } } }"}`,
		http.Header{"Authorization": {"Bearer " + token}, "X-Authing-Userpool-Id": {"pool-1"}}))
	// Output:
	// {"data":{"orgs":{"totalCount":1,"list":[{"rootNode":{"name":"Acme","code":"acme"}}]}}}
}
