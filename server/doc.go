// Package server answers the management API of the organization module over
// HTTP from an orgtree.Tree, so that services written against the official
// SDKs (github.com/Authing/authing-go-sdk v0.3.1, authing-js-sdk) can run
// their tests, fixtures and local development against orgtree: offline,
// deterministic, with no account.
//
// # Protocol
//
// POST /graphql/v2 takes {"query", "operationName", "variables",
// "extensions"} as application/json; GET /graphql/v2?query=&variables=
// runs queries (GraphQL over HTTP; a mutation over GET answers 405). Every
// document is parsed and validated (github.com/vektah/gqlparser) against
// the service schema the Go SDK ships, embedded here as schema.graphql, and
// then executed: aliases, fragments, @skip/@include, variables with
// defaults and GraphQL null propagation all work. The Query and Mutation
// fields served are the organization module's (org, orgs, nodeById,
// nodeByCode, rootNode, isRootNode, childrenNodes, searchNodes, createOrg,
// deleteOrg, addNode, updateNode, deleteNode, moveNode, addMember,
// removeMember, moveMembers, setMainDepartment, addNodeV2, Node.users,
// Node.authorizedResources), the users the member calls need (createUser,
// user with its departments) and the token exchange (accessToken). Other
// fields of the schema validate and answer code 501. Introspection
// (__schema, __type; __typename anywhere) describes this schema, from
// gqlgen's introspection package, and needs no token, so GraphQL tools
// (GraphiQL, codegen, genqlient) can load the schema before signing in.
//
// Answers follow the GraphQL-over-HTTP spec for both of its media types
// (graphqlhttp.go): a client that accepts application/graphql-response+json
// gets it, with HTTP 400 and no data for a request refused before execution
// and 401 for a missing or bad token; every other client, the SDKs
// included, gets application/json with the service's envelopes and HTTP
// 200 for every well-formed request. Requests that are not well-formed
// (body not a JSON object of the right member types, no JSON content type,
// another method, an unacceptable Accept) answer 400, 415, 405 or 406.
//
// REST endpoints answer {"code", "message", "data"}:
//
//	GET  /api/v2/orgs/export[?org_id=ID]     every org (array) or one (object)
//	GET  /api/v2/orgs/children?nodeId=&depth= nodes below nodeId, depth levels
//	GET  /api/v2/orgs/pagination?page=&limit=&sortBy=
//	GET  /api/v2/orgs/count                   {count}
//	GET  /api/v2/orgs?page=&limit=&sortBy=    orgs (id, tenantId, rootNode, …)
//	GET  /api/v2/orgs/by-tenant?tenant_id=    the tenant's orgs as export documents
//	POST /api/v2/orgs/import {"filetype":"json","file":"<nested JSON>"}
//	GET  /api/v2/users/{id}
//	GET  /api/v2/users/{id}/orgs              per membership: [org, root … node]
//	GET  /api/v2/.well-known                  {publicKey}: password encryption (no token needed)
//	GET  /healthz                             (no token needed)
//	GET  /api/v2/ui/children?nodeId=&offset=&limit=&ids=  the web UI's reads (webui.go):
//	GET  /api/v2/ui/subtree?nodeId=&depth=&max=  node summaries with direct
//	GET  /api/v2/ui/search?orgId=&q=&limit=   and subtree member counts
//
// The web UI is at /ui/ (webui.go): plain JavaScript embedded in the
// binary, signing in with the pool's credentials and then using this API.
//
// The JS SDK's startSync posts to /connections/enterprise/dingtalk/start-sync,
// /connections/enterprise/wechatwork/start-sync or /api/v2/ad/sync. orgtree
// holds no provider connections, so these answer code 501 with the way to
// sync offline: `orgtree sync` from the provider's department and user
// files, or the reconcile package from Go. Running a sync from a source
// configured on the server was left out on purpose: the provider files a
// server could read are exactly what the CLI reads, without giving a
// network service credentials or file paths.
//
// # Tenants
//
// createOrg's tenantId (sent by the JS SDK) is kept as the org's tenant:
// Org.tenantId answers it, exports carry it on the root as "tenantId" (so
// an import keeps it) and GET /api/v2/orgs/by-tenant finds the tenant's orgs.
//
// # Passwords
//
// orgtree keeps no credentials. The SDKs send createUser's password
// RSA-encrypted with the key of GET /api/v2/.well-known (Config.PasswordKey);
// the server decrypts it to check it, then forgets it: it is never stored,
// answered or logged. The Go SDK encrypts with the hosted service's key
// unless told this server's (Client.SetPublicKey); such passwords are
// accepted unread. Other passwords (plain text, another key) answer 400.
//
// Errors use the service's envelopes: GraphQL errors[].message.{code,
// message} (with path and locations; a plain message string for
// application/graphql-response+json), REST {code, message, data: null},
// with HTTP status 200 as the service answers them (the JS SDK reads an
// envelope only from a 2xx answer; the Go SDK ignores the status).
// Codes: 400 bad input, 401 authentication, 403 refused structure change
// (cycle, root, not empty, cross-org), 404 unknown id, 409 duplicate, 413
// answer over Config.MaxAnswerBytes (ask for one org, fewer levels,
// smaller pages), 500 internal, 501 not served, 503 stopped (past the
// request's deadline, or its client left) or busy. One exception to the
// HTTP 200 rule: a request refused because Config.MaxInFlight requests were
// running and none finished within Config.MaxQueueWait is answered HTTP 503
// with Retry-After (and the envelope, code 503), so that proxies and
// retrying clients see the overload; so is a write whose store could not
// be reached (Config.Update failed with orgtree.ErrUnavailable: a replica
// cut off from etcd), when the request wrote nothing else. Every request runs under its
// deadline (Config.RequestTimeout) and its client's connection: the
// engine's long reads (search, listings, export) take the request's
// context and stop when it ends. See limits.go for what each limit counts. Values follow the service: timestamps are
// ISO 8601 UTC strings, unset strings are null, nameI18n and
// descriptionI18n are JSON strings holding a locale → text object.
//
// # Authentication
//
// The accessToken(userPoolId, secret) query exchanges the pool's
// credentials for an HS256 JWT (default lifetime 15 days: the Go SDK caches
// it until three days before expiry). Every other request needs
// "Authorization: Bearer <token>" and the "x-authing-userpool-id" header
// naming the pool; the signing key derives from the secret, so tokens
// survive a restart.
//
// # SDK compatibility
//
// The Go SDK v0.3.1 sends a createUser document with an identity argument
// of type CreateUserIdentityInput that its own schema lacks; schema.graphql
// adds both (marked "orgtree compatibility") so the document validates.
// Its ListAuthorizedResourcesByNodeId reads data.nodeByCode from the answer
// to a nodeById document and so always returns an empty list, and its
// ListAuthorizedResourcesByNodeCode sends the nodeById document (it works
// when the request's Id is set): the server answers both documents
// correctly; the first cannot be fixed from this side.
//
// authing-js-sdk 4.x sends newer documents than that schema describes: its
// addNode sends addNodeV2 (answered with the new node), createOrg passes a
// tenantId, and member and resource listings select User.phoneCountryCode
// and AuthorizedResource.apiIdentifier. schema.graphql accepts all of them
// (null for the two fields orgtree does not keep). testdata/jssdk holds the
// JS documents and a script that drives a server through the JS SDK.
//
// # Change events
//
// GET /api/v2/events is a Server-Sent Events stream of the changes
// committed after the request, authenticated like the REST endpoints
// (x-authing-userpool-id and a bearer token). Webhooks (NewWebhook, and
// orgtree serve --webhook URL) POST the same events as JSON arrays signed
// with HMAC-SHA256 (X-Orgtree-Signature: sha256=<hex>), at least once, in
// version order, retried with exponential backoff; Webhook.Deliveries is the
// delivery log (and WebhookConfig.Logger gets every failed attempt). Each
// event has an id ("<seq>-<n>") by which a receiver drops one it already
// has. With a History and WebhookPositions (orgtree serve on a store, which
// keeps each receiver's position in the store's settings) delivery resumes
// after a restart or a crash where the receiver stopped acknowledging; the
// guarantees with and without them are in Webhook's documentation. Event
// names and shapes are in events.go. With a History
// (Config.History: a store's durable change history, or a MemoryHistory)
// events carry their transaction's actor and reason, and a client that
// reconnects with Last-Event-ID resumes after the last event it saw; an id
// that cannot be resumed from gets a stream.reset event.
package server
