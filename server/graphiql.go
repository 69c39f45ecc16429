package server

import (
	"embed"
	"io/fs"
	"net/http"
)

// GraphiQL at /graphiql/: the graphiql package (4.x, MIT) and a sign-in bar
// that exchanges the user pool id and secret for a token, bundled by
// graphiql/build.js into graphiql/dist (committed; rebuild with npm ci &&
// npm run build in server/graphiql) and embedded here, so the page works
// offline: no CDN, and the Content-Security-Policy below lets it load
// nothing from elsewhere. The licenses of the bundled packages are served
// at /graphiql/THIRD_PARTY_LICENSES.txt.

//go:embed graphiql/dist
var graphiqlDist embed.FS

// graphiqlCSP allows the page its own scripts, styles and fonts (inlined
// as data: URLs; GraphiQL sets inline styles) and requests to this server.
const graphiqlCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"font-src 'self' data:; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) graphiqlRoutes() {
	// A relative redirect keeps a server mounted under a prefix working.
	s.mux.Handle("GET /graphiql", http.RedirectHandler("graphiql/", http.StatusMovedPermanently))
	s.mux.HandleFunc("GET /graphiql/", assets(graphiqlDist, "graphiql/dist", "/graphiql/", graphiqlCSP, false))
}

// assets serves the embedded directory dir of fsys under prefix with the
// page's Content-Security-Policy and the headers every embedded page gets;
// revalidate makes browsers ask again each time (files edited in place).
func assets(fsys fs.FS, dir, prefix, csp string, revalidate bool) http.HandlerFunc {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // the embedded directory is part of the build
	}
	files := http.StripPrefix(prefix, http.FileServerFS(sub))
	return func(w http.ResponseWriter, req *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if revalidate {
			h.Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, req)
	}
}
