package server

import (
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// GraphQL over HTTP (https://graphql.github.io/graphql-over-http/), with
// two answers for the two kinds of client:
//
//   - application/graphql-response+json, for clients that accept it
//     (GraphiQL, codegen tools, anything written against the spec): spec
//     error objects (message is a string), HTTP 400 for a request that
//     fails before execution (parse, validation, unknown operation,
//     variables) with no data entry, 401 when the token is missing or bad,
//     200 once execution started.
//   - application/json, for everyone else and in particular the Authing
//     SDKs (axios sends "application/json, text/plain, */*", the Go SDK no
//     Accept header): the service's envelopes, errors[].message =
//     {code, message}, and HTTP 200 for every well-formed request whatever
//     its GraphQL errors, as the spec's application/json section says and as
//     the JS SDK needs (it reads an envelope only from a 2xx answer).
//
// Either way a request that is not well-formed is refused with a 4xx
// status: a POST body that is not a JSON object of the right member types
// (400), a POST without a JSON content type (415), a method other than GET
// or POST (405), a mutation sent with GET (405, Allow: POST), an Accept
// header that rules both media types out (406).

// mediaType is a response media type of the GraphQL endpoint.
type mediaType string

const (
	mediaJSON            mediaType = "application/json"
	mediaGraphQLResponse mediaType = "application/graphql-response+json"
)

// gqlRequest is a GraphQL-over-HTTP request: a POST body, or the
// parameters of a GET.
type gqlRequest struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Extensions    map[string]any `json:"extensions"`
}

// requestError is a request refused before execution, with the HTTP
// status of each media type.
type requestError struct {
	status, jsonStatus int // HTTP status for graphql-response+json and for json
	code               int // the service's code in the envelope
	msg                string
	allow              string // Allow header of a 405
}

// malformed is a request that is not well-formed: 4xx for both media types.
func malformed(status int, msg string) *requestError {
	return &requestError{status: status, jsonStatus: status, code: 400, msg: msg}
}

// refused is a well-formed request refused before execution: 4xx for
// graphql-response+json, an envelope with HTTP 200 for json.
func refused(status, code int, msg string) *requestError {
	return &requestError{status: status, jsonStatus: http.StatusOK, code: code, msg: msg}
}

func (s *Server) serveGraphQL(w http.ResponseWriter, req *http.Request) {
	media, ok := negotiate(req.Header.Values("Accept"))
	if !ok {
		s.writeRequestError(w, mediaJSON, malformed(http.StatusNotAcceptable,
			"Accept allows neither application/graphql-response+json nor application/json"))
		return
	}
	body, rerr := readGraphQLRequest(req)
	if rerr == nil {
		rerr = s.runGraphQL(w, req, media, body)
	}
	if rerr != nil {
		s.writeRequestError(w, media, rerr)
	}
}

// readGraphQLRequest reads the parameters of a GET or the body of a POST.
func readGraphQLRequest(req *http.Request) (gqlRequest, *requestError) {
	var body gqlRequest
	switch req.Method {
	case http.MethodGet:
		q := req.URL.Query()
		body.Query, body.OperationName = q.Get("query"), q.Get("operationName")
		for name, dst := range map[string]*map[string]any{"variables": &body.Variables, "extensions": &body.Extensions} {
			if raw := q.Get(name); raw != "" {
				if err := decodeJSON(strings.NewReader(raw), dst); err != nil {
					return body, malformed(http.StatusBadRequest, fmt.Sprintf("parameter %s must be a JSON object: %v", name, err))
				}
			}
		}
	case http.MethodPost:
		ct, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
		if err != nil || ct != string(mediaJSON) {
			return body, malformed(http.StatusUnsupportedMediaType, "GraphQL requests are POSTed with Content-Type: application/json")
		}
		if err := decodeJSON(req.Body, &body); err != nil {
			return body, malformed(http.StatusBadRequest, err.Error())
		}
	default:
		e := malformed(http.StatusMethodNotAllowed, "GraphQL requests are POSTed as JSON, or queries sent with GET")
		e.allow = "GET, POST"
		return body, e
	}
	if strings.TrimSpace(body.Query) == "" {
		return body, malformed(http.StatusBadRequest, "the request has no query")
	}
	return body, nil
}

// runGraphQL validates and executes a request and writes its answer, or
// returns why it was refused before execution.
func (s *Server) runGraphQL(w http.ResponseWriter, req *http.Request, media mediaType, body gqlRequest) *requestError {
	if selectionDepth(body.Query) > maxQueryDepth {
		return refused(http.StatusBadRequest, 400, fmt.Sprintf("the query nests deeper than %d levels", maxQueryDepth))
	}
	doc, err := s.documents.load(s.schema, body.Query)
	if err != nil {
		return refused(http.StatusBadRequest, 400, err.Error())
	}
	op := doc.Operations.ForName(body.OperationName)
	if op == nil {
		return refused(http.StatusBadRequest, 400, fmt.Sprintf("no operation %q in the document", body.OperationName))
	}
	if req.Method == http.MethodGet && op.Operation != ast.Query {
		e := malformed(http.StatusMethodNotAllowed, fmt.Sprintf("a %s cannot be sent with GET: POST it", op.Operation))
		e.allow = "POST"
		return e
	}
	if !needsNoToken(op) {
		if err := s.authenticate(req); err != nil {
			return refused(http.StatusUnauthorized, 401, err.Error())
		}
	}
	vars, err := s.coerceVariables(op, body.Variables)
	if err != nil {
		return refused(http.StatusBadRequest, 400, err.Error())
	}
	r := &request{s: s, doc: doc, vars: vars}
	resp := map[string]any{"data": r.execute(op)}
	if len(r.errors) > 0 {
		errs := make([]any, len(r.errors))
		for i, e := range r.errors {
			code, msg := codeOf(e.Err)
			entry := errorEntry(media, code, "INTERNAL_SERVER_ERROR", msg)
			entry["locations"] = e.Locations
			if len(e.Path) > 0 {
				entry["path"] = e.Path
			}
			errs[i] = entry
			if code >= 500 {
				s.cfg.Logger.Error("graphql field failed", "path", e.Path.String(), "err", e.Err)
			}
		}
		resp["errors"] = errs
	}
	writeJSONAs(w, media, http.StatusOK, resp)
	return nil
}

// errorEntry is one element of "errors": the service's {code, message}
// object as message for application/json, the spec's string message for
// graphql-response+json; extensions carry both codes either way.
func errorEntry(media mediaType, code int, ext, msg string) map[string]any {
	entry := map[string]any{"extensions": map[string]any{"code": ext, "exception": map[string]any{"code": code}}}
	if media == mediaGraphQLResponse {
		entry["message"] = msg
	} else {
		entry["message"] = map[string]any{"code": code, "message": msg}
	}
	return entry
}

// writeRequestError answers a request refused before execution: no data
// entry for graphql-response+json, "data": null in the service's envelope
// for json.
func (s *Server) writeRequestError(w http.ResponseWriter, media mediaType, e *requestError) {
	ext := "BAD_USER_INPUT"
	if e.code == 401 {
		ext = "UNAUTHENTICATED"
	}
	resp := map[string]any{"errors": []any{errorEntry(media, e.code, ext, e.msg)}}
	status := e.status
	if media == mediaJSON {
		resp["data"] = nil
		status = e.jsonStatus
	}
	if e.allow != "" {
		w.Header().Set("Allow", e.allow)
	}
	writeJSONAs(w, media, status, resp)
}

// needsNoToken reports whether op asks only for what needs no token: the
// token exchange, and introspection (the schema is the SDKs' published
// one), so that GraphQL tools can load the schema before signing in.
func needsNoToken(op *ast.OperationDefinition) bool {
	if op.Operation != ast.Query || len(op.SelectionSet) == 0 {
		return false
	}
	for _, sel := range op.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok {
			return false
		}
		switch f.Name {
		case "accessToken", typenameKey, "__schema", "__type":
		default:
			return false
		}
	}
	return true
}

// negotiate picks the response media type from the Accept headers: the one
// with the higher q; on a tie the more specific match; on an exact tie
// graphql-response+json, as the spec recommends, and application/json when
// only wildcards match (what SDKs sending "*/*" expect). No Accept header:
// application/json. ok is false when Accept rules both out.
func negotiate(accept []string) (mediaType, bool) {
	if len(accept) == 0 {
		return mediaJSON, true
	}
	type score struct {
		q    float64
		spec int // 2 exact, 1 application/*, 0 */*
	}
	var gr, js score
	gr.spec, js.spec = -1, -1
	consider := func(sc *score, q float64, spec int) {
		if spec > sc.spec || (spec == sc.spec && q > sc.q) {
			*sc = score{q: q, spec: spec}
		}
	}
	for _, header := range accept {
		for _, part := range strings.Split(header, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if v, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(v, 64); err != nil {
					continue
				}
			}
			switch mt {
			case string(mediaGraphQLResponse):
				consider(&gr, q, 2)
			case string(mediaJSON):
				consider(&js, q, 2)
			case "application/*":
				consider(&gr, q, 1)
				consider(&js, q, 1)
			case "*/*":
				consider(&gr, q, 0)
				consider(&js, q, 0)
			}
		}
	}
	grOK, jsOK := gr.spec >= 0 && gr.q > 0, js.spec >= 0 && js.q > 0
	switch {
	case !grOK && !jsOK:
		return "", false
	case !jsOK:
		return mediaGraphQLResponse, true
	case !grOK:
		return mediaJSON, true
	case gr.q != js.q:
		if gr.q > js.q {
			return mediaGraphQLResponse, true
		}
		return mediaJSON, true
	case gr.spec != js.spec:
		if gr.spec > js.spec {
			return mediaGraphQLResponse, true
		}
		return mediaJSON, true
	case gr.spec == 2:
		return mediaGraphQLResponse, true
	}
	return mediaJSON, true
}
