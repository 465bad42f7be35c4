package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/noctua-obs/noctua/api/audit"
	"github.com/noctua-obs/noctua/export"
	"github.com/noctua-obs/noctua/store"
)

// Limits of GET /api/v1/export.
const (
	// DefaultMaxExportRows bounds one download (Options.MaxExportRows): a
	// query whose keys × steps could exceed it is refused with 400 before
	// its rows are computed.
	DefaultMaxExportRows = 100_000
)

// ErrExportTooLarge is the 400 of a download past Options.MaxExportRows.
var ErrExportTooLarge = fmt.Errorf("%w: export too large", ErrBadRequest)

// Export formats and their content types.
var exportTypes = map[string]string{
	"csv":     "text/csv; charset=utf-8",
	"parquet": "application/vnd.apache.parquet",
}

// exportFile answers GET /api/v1/export?format=csv|parquet&range=|from=&to=
// &step=1m&domain=&journey=&service=&api=: the per-(step, domain,
// journey, service, api) rows of export.Row as a file to download, for
// the caller's scope (a squad gets its own domain only). Steps are whole
// minutes (default 1m); the range is cut to whole steps (from rounded
// down, to rounded down, so the current, incomplete step is left out).
// Each download is written to the audit log before it is answered.
func (a *API) exportFile(w http.ResponseWriter, r *http.Request) {
	s, ctx, cancel, ok := a.begin(w, r)
	if !ok {
		return
	}
	defer cancel()
	f, err := a.buildExport(ctx, s, r)
	if err != nil {
		a.WriteError(w, r, overBudget(err, "export"))
		return
	}
	a.record(r, audit.Entry{Kind: audit.KindExport, Who: s.Name, Role: s.Role,
		Detail: redactToken(r.URL.Query()).Encode() + "&rows=" + strconv.Itoa(f.rows)})
	w.Header().Set("Content-Type", exportTypes[f.format])
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", f.name))
	w.Header().Set("Content-Length", strconv.Itoa(f.body.Len()))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = f.body.WriteTo(w) // the client may have gone; nothing to do
}

// exportBody is a download ready to send.
type exportBody struct {
	format, name string
	rows         int
	body         bytes.Buffer
}

func (a *API) buildExport(ctx context.Context, s Scope, r *http.Request) (*exportBody, error) {
	v := r.URL.Query()
	out := &exportBody{format: v.Get("format")}
	if _, ok := exportTypes[out.format]; !ok {
		return nil, fmt.Errorf("%w: format: want csv or parquet, got %q", ErrBadRequest, clip(out.format))
	}
	step := time.Minute
	if st := v.Get("step"); st != "" {
		d, err := parseDuration(st)
		if err != nil || d < time.Minute || d%time.Minute != 0 {
			return nil, fmt.Errorf("%w: step: want a whole number of minutes like 1m or 1h, got %q", ErrBadRequest, clip(st))
		}
		step = d
	}
	rv := url.Values{}
	for _, k := range []string{"from", "to", "range"} {
		if val := v.Get(k); val != "" {
			rv.Set(k, val)
		}
	}
	rng, err := ParseRange(rv, a.now())
	if err != nil {
		return nil, err
	}
	from, to := rng.From.UTC().Truncate(step), rng.To.UTC().Truncate(step)
	if !from.Before(to) {
		return nil, fmt.Errorf("%w: range: holds no complete %s step (the range is cut to whole steps)", ErrBadRequest, stepName(step))
	}
	steps := int(to.Sub(from) / step) // at most 31 days of minutes (MaxRange)
	filter, err := dimParams(v, s, nil)
	if err != nil {
		return nil, err
	}
	// Bound the rows before computing them: every key seen in the range
	// may have a row in every step.
	keys, err := a.q.Rollup(ctx, store.RollupQuery{From: from, To: to, Filter: filter, GroupBy: export.AllDims})
	if err != nil {
		return nil, fmt.Errorf("api: export: %w", err)
	}
	if n := len(keys) * steps; n > a.maxRows {
		return nil, fmt.Errorf("%w: %d series × %d steps of %s could be up to %d rows, over the limit of %d; narrow the range, raise step or filter by domain, journey, service or api",
			ErrExportTooLarge, len(keys), steps, stepName(step), n, a.maxRows)
	}
	rows, err := export.Rows(ctx, a.q, a.ts, export.Query{From: from, To: to, Step: step, Filter: filter})
	if err != nil {
		return nil, fmt.Errorf("api: export: %w", err)
	}
	kept := rows[:0]
	for _, row := range rows { // defence in depth, as visibleRows
		if s.CanSee(row.Domain) && filter.Match(row.Domain, row.Journey, row.Service, row.API) {
			kept = append(kept, row)
		}
	}
	out.rows = len(kept)
	switch out.format {
	case "csv":
		err = export.WriteCSV(&out.body, kept)
	case "parquet":
		err = export.WriteParquet(&out.body, kept)
	}
	if err != nil {
		return nil, fmt.Errorf("api: export: %w", err)
	}
	scope := "all"
	if filter.Domain != "" {
		scope = filter.Domain
	} else if !s.NOC() {
		scope = s.Domain
	}
	const stamp = "20060102T1504Z"
	out.name = fmt.Sprintf("noctua-rollup-%s-%s-%s-%s.%s", fileSafe(scope), stepName(step), from.Format(stamp), to.Format(stamp), out.format)
	return out, nil
}

// stepName writes a whole number of minutes as 1m, 2h or 1d.
func stepName(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/time.Minute)) + "m"
}

// fileSafe keeps letters, digits, - and _ of s for a file name.
func fileSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
