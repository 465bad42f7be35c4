// Package ui serves the browser dashboard: the NOC wall (and its dense
// mode), the squad (domain), journey, Apdex, infrastructure, Kafka-lag and
// log search pages, plain HTML and JavaScript embedded into the binary,
// with uPlot vendored under static/vendor for the charts. The pages stay
// live over the websocket API (/ws), or read the REST API once for a fixed
// range; nothing is built at install time and nothing is loaded from the
// network.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the dashboard's files. "/" is the NOC page.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self'; img-src 'self' data:")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
