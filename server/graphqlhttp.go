package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/orgtree/orgtree"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
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
	busy               bool   // refused by admit: HTTP 503 with Retry-After for both media
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
				if err := decodeObject([]byte(raw), dst); err != nil {
					return body, malformed(http.StatusBadRequest, fmt.Sprintf("parameter %s %v", name, err))
				}
			}
		}
	case http.MethodPost:
		ct, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
		if err != nil || ct != string(mediaJSON) {
			return body, malformed(http.StatusUnsupportedMediaType, "GraphQL requests are POSTed with Content-Type: application/json")
		}
		var raw json.RawMessage
		if err := decodeJSON(req.Body, &raw); err != nil {
			return body, malformed(http.StatusBadRequest, err.Error())
		}
		if rerr := parseGraphQLBody(raw, &body); rerr != nil {
			return body, rerr
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

// parseGraphQLBody reads a POST body member by member, so that a member
// of the wrong type is named in the answer (not a Go type).
func parseGraphQLBody(raw json.RawMessage, body *gqlRequest) *requestError {
	switch firstByte(raw) {
	case '{':
	case '[':
		// Batching is not part of GraphQL over HTTP; serving it would
		// multiply every limit by the batch's length.
		return malformed(http.StatusBadRequest, "batched requests (a JSON array of requests) are not supported: POST each request as its own JSON object")
	default:
		return malformed(http.StatusBadRequest, "the request body must be a JSON object with a query member")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return malformed(http.StatusBadRequest, fmt.Sprintf("request body is not valid JSON: %v", err))
	}
	for _, m := range []struct {
		name string
		dst  *string
	}{{"query", &body.Query}, {"operationName", &body.OperationName}} {
		v, given := members[m.name]
		if !given || firstByte(v) == 'n' {
			continue
		}
		if firstByte(v) != '"' || json.Unmarshal(v, m.dst) != nil {
			return malformed(http.StatusBadRequest, fmt.Sprintf("member %s must be a string", m.name))
		}
	}
	for _, m := range []struct {
		name string
		dst  *map[string]any
	}{{"variables", &body.Variables}, {"extensions", &body.Extensions}} {
		if v, given := members[m.name]; given {
			if err := decodeObject(v, m.dst); err != nil {
				return malformed(http.StatusBadRequest, fmt.Sprintf("member %s %v", m.name, err))
			}
		}
	}
	return nil
}

// firstByte is the first byte of a JSON value after white space, 0 if none.
func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

// decodeObject decodes a JSON object (or null) with numbers kept as
// json.Number; the error reads after the name of what was decoded.
func decodeObject(raw []byte, dst *map[string]any) error {
	switch firstByte(raw) {
	case 'n':
		if strings.TrimSpace(string(raw)) == "null" {
			return nil
		}
	case '{':
		if err := decodeJSON(bytes.NewReader(raw), dst); err != nil {
			return fmt.Errorf("is not valid JSON: %v", err)
		}
		return nil
	}
	return errors.New("must be a JSON object")
}

// runGraphQL validates and executes a request and writes its answer, or
// returns why it was refused before execution.
func (s *Server) runGraphQL(w http.ResponseWriter, req *http.Request, media mediaType, body gqlRequest) *requestError {
	if n := len(body.Query); n > s.cfg.MaxQueryBytes {
		return refused(http.StatusBadRequest, 400, fmt.Sprintf("the query is %d bytes, more than the limit of %d", n, s.cfg.MaxQueryBytes))
	}
	if selectionDepth(body.Query) > maxQueryDepth {
		return refused(http.StatusBadRequest, 400, fmt.Sprintf("the query nests deeper than %d levels", maxQueryDepth))
	}
	doc, err := s.documents.load(s.schema, body.Query)
	if err != nil {
		return refused(http.StatusBadRequest, 400, err.Error())
	}
	op := doc.Operations.ForName(body.OperationName)
	if op == nil {
		if body.OperationName == "" {
			return refused(http.StatusBadRequest, 400, "the document has several operations: name the one to run in operationName")
		}
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
	limits := s.tree.Limits()
	cost, depth := s.documentCost(doc, op, vars, limits.MaxPageSize)
	if depth > maxQueryDepth {
		return refused(http.StatusBadRequest, 400, fmt.Sprintf("%v: with its fragments expanded the query nests %d levels, more than %d", errTooComplex, depth, maxQueryDepth))
	}
	if cost > s.cfg.MaxCost {
		return refused(http.StatusBadRequest, 400, fmt.Sprintf("%v: it costs %d, more than the limit of %d "+
			"(each field counts 1 times the size of every list above it: a list counts its limit, searchNodes and Org.nodes the tree's %d nodes, "+
			"other lists %d; aliases count each time): select fewer fields or aliases, or lower limit", errTooComplex, min(cost, 1<<40), s.cfg.MaxCost,
			s.tree.Snapshot().Stats().Nodes, listEstimate))
	}
	release, err := s.admit(req.Context())
	if err != nil {
		e := refused(http.StatusServiceUnavailable, 503, err.Error())
		e.jsonStatus, e.busy = http.StatusServiceUnavailable, true
		return e
	}
	defer release()
	r := &request{s: s, ctx: req.Context(), doc: doc, vars: vars, maxBytes: s.cfg.MaxAnswerBytes}
	data := r.execute(op)
	errs := r.errors
	if r.fatal != nil {
		data = []byte("null")
		errs = gqlerror.List{{Err: r.fatal, Message: r.fatal.Error()}}
		s.logStopped(req, r.fatal)
	}
	var entries []any
	for _, e := range errs {
		code, msg := codeOf(e.Err)
		entry := errorEntry(media, code, msg)
		if len(e.Locations) > 0 {
			entry["locations"] = e.Locations
		}
		if len(e.Path) > 0 {
			entry["path"] = e.Path
		}
		entries = append(entries, entry)
		s.logFailure("graphql field failed", req, code, e.Err, "field", e.Path.String())
	}
	out := append([]byte(`{"data":`), data...)
	if len(entries) > 0 {
		b, err := json.Marshal(entries)
		if err != nil {
			b = []byte(`[{"message":"internal error: errors not encodable"}]`)
		}
		out = append(append(out, `,"errors":`...), b...)
	}
	out = append(out, "}\n"...)
	if r.fatal == nil && wroteNothingUnavailable(r.collect(rootTypeName(s, op), op.SelectionSet).keys, errs) {
		w.Header().Set("Retry-After", strconv.Itoa(unavailableRetryAfter))
		w.Header().Set("Content-Type", string(media)+"; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(out)
		return nil
	}
	w.Header().Set("Content-Type", string(media)+"; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	return nil
}

func rootTypeName(s *Server, op *ast.OperationDefinition) string {
	if op.Operation == ast.Mutation {
		return s.schema.Mutation.Name
	}
	return s.schema.Query.Name
}

// wroteNothingUnavailable reports whether a GraphQL answer is HTTP 503 with
// Retry-After: a field failed because the tree's store was out of reach
// (orgtree.ErrUnavailable) and every top-level field (keys, the response
// keys) failed, so no mutation field wrote anything and a retry of the
// whole request is safe. When another field did write, the answer stays
// HTTP 200 with its errors, as any partial failure: retrying it blindly
// would write that field twice.
func wroteNothingUnavailable(keys []string, errs gqlerror.List) bool {
	failed := map[string]bool{}
	unavailable := false
	for _, e := range errs {
		if len(e.Path) == 1 {
			if k, ok := e.Path[0].(ast.PathName); ok {
				failed[string(k)] = true
			}
		}
		unavailable = unavailable || errors.Is(e.Err, orgtree.ErrUnavailable)
	}
	if !unavailable {
		return false
	}
	for _, k := range keys {
		if k != typenameKey && !failed[k] {
			return false
		}
	}
	return true
}

// logStopped records a request that execution stopped: at the warning
// level, as it is the client's doing.
func (s *Server) logStopped(req *http.Request, err error) {
	s.cfg.Logger.Warn("graphql request stopped", "path", req.URL.Path, "remote", req.RemoteAddr, "err", err)
}

// logFailure logs a failed field or endpoint: internal errors at ERROR,
// a field orgtree does not serve (501) at INFO (the client asked for it;
// nothing is broken), client errors not at all (the answer tells them).
func (s *Server) logFailure(what string, req *http.Request, code int, err error, attrs ...any) {
	attrs = append([]any{"path", req.URL.Path, "code", code, "err", err}, attrs...)
	switch {
	case code == 501:
		s.cfg.Logger.Info(what, attrs...)
	case code >= 500:
		s.cfg.Logger.Error(what, attrs...)
	}
}

// extensionCode names an error's kind in extensions.code, as Apollo's
// and gqlgen's servers do, from the service's code.
func extensionCode(code int) string {
	switch code {
	case 400:
		return "BAD_USER_INPUT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "FORBIDDEN"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "CONFLICT"
	case 413:
		return "RESPONSE_TOO_LARGE"
	case 501:
		return "NOT_IMPLEMENTED"
	case 503:
		return "SERVICE_UNAVAILABLE"
	}
	return "INTERNAL_SERVER_ERROR"
}

// errorEntry is one element of "errors": the service's {code, message}
// object as message for application/json, the spec's string message for
// graphql-response+json; extensions carry both codes either way.
func errorEntry(media mediaType, code int, msg string) map[string]any {
	entry := map[string]any{"extensions": map[string]any{"code": extensionCode(code), "exception": map[string]any{"code": code}}}
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
	resp := map[string]any{"errors": []any{errorEntry(media, e.code, e.msg)}}
	status := e.status
	if media == mediaJSON {
		resp["data"] = nil
		status = e.jsonStatus
	}
	if e.allow != "" {
		w.Header().Set("Allow", e.allow)
	}
	if e.busy {
		s.writeBusy(w, media, resp)
		return
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
