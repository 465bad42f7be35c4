package bigquery

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
)

// fakeBQ implements the BigQuery REST endpoints the real client calls
// (datasets get/insert, tables get/insert, tabledata insertAll) and keeps
// the decoded request bodies for the tests to check.
type fakeBQ struct {
	srv *httptest.Server

	mu           sync.Mutex
	datasets     map[string]bool
	tables       map[string]bool
	dsInserts    []map[string]any
	tableInserts []map[string]any
	inserts      []insertAll // every insertAll call, failed ones too
	failed       []bool      // whether inserts[i] was answered 500
	fail         bool        // answer insertAll with 500
	failAfter    int         // > 0: answer insertAll with 400 (not retried) once this many succeeded
	succeeded    int
	unknown      []string // requests no route matched
}

type insertAll struct {
	SkipInvalidRows     bool `json:"skipInvalidRows"`
	IgnoreUnknownValues bool `json:"ignoreUnknownValues"`
	Rows                []struct {
		InsertID string         `json:"insertId"`
		JSON     map[string]any `json:"json"`
	} `json:"rows"`
}

var (
	rxDataset  = regexp.MustCompile(`^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)$`)
	rxDatasets = regexp.MustCompile(`^/bigquery/v2/projects/([^/]+)/datasets$`)
	rxTable    = regexp.MustCompile(`^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)$`)
	rxTables   = regexp.MustCompile(`^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables$`)
	rxInsert   = regexp.MustCompile(`^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)/insertAll$`)
)

func newFakeBQ(t testing.TB) *fakeBQ {
	f := &fakeBQ{datasets: map[string]bool{}, tables: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// Endpoint is the base URL to give the client (option.WithEndpoint).
func (f *fakeBQ) Endpoint() string { return f.srv.URL + "/bigquery/v2/" }

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, `{"error":{"code":404,"message":"Not found","errors":[{"reason":"notFound","message":"Not found"}]}}`)
}

func (f *fakeBQ) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var body map[string]any
	raw, _ := io.ReadAll(r.Body)
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &body)
	}
	p := r.URL.Path
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.Method == http.MethodGet && rxDataset.MatchString(p):
		m := rxDataset.FindStringSubmatch(p)
		if !f.datasets[m[1]+"."+m[2]] {
			notFound(w)
			return
		}
		reply(map[string]any{"kind": "bigquery#dataset", "datasetReference": map[string]any{"projectId": m[1], "datasetId": m[2]}})
	case r.Method == http.MethodPost && rxDatasets.MatchString(p):
		m := rxDatasets.FindStringSubmatch(p)
		f.dsInserts = append(f.dsInserts, body)
		ref, _ := body["datasetReference"].(map[string]any)
		id, _ := ref["datasetId"].(string)
		f.datasets[m[1]+"."+id] = true
		reply(body)
	case r.Method == http.MethodGet && rxTable.MatchString(p):
		m := rxTable.FindStringSubmatch(p)
		if !f.tables[m[1]+"."+m[2]+"."+m[3]] {
			notFound(w)
			return
		}
		reply(map[string]any{"kind": "bigquery#table", "tableReference": map[string]any{"projectId": m[1], "datasetId": m[2], "tableId": m[3]}})
	case r.Method == http.MethodPost && rxTables.MatchString(p):
		m := rxTables.FindStringSubmatch(p)
		f.tableInserts = append(f.tableInserts, body)
		ref, _ := body["tableReference"].(map[string]any)
		id, _ := ref["tableId"].(string)
		f.tables[m[1]+"."+m[2]+"."+id] = true
		reply(body)
	case r.Method == http.MethodPost && rxInsert.MatchString(p):
		m := rxInsert.FindStringSubmatch(p)
		var ia insertAll
		if err := json.Unmarshal(raw, &ia); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.inserts = append(f.inserts, ia)
		refuse := f.failAfter > 0 && f.succeeded >= f.failAfter
		f.failed = append(f.failed, f.fail || refuse)
		if refuse {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"code":400,"message":"refused","errors":[{"reason":"invalid","message":"refused"}]}}`)
			return
		}
		if f.fail {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":{"code":500,"message":"backend error","errors":[{"reason":"backendError","message":"backend error"}]}}`)
			return
		}
		if !f.tables[m[1]+"."+m[2]+"."+m[3]] {
			notFound(w)
			return
		}
		f.succeeded++
		reply(map[string]any{"kind": "bigquery#tableDataInsertAllResponse"})
	default:
		f.unknown = append(f.unknown, r.Method+" "+r.URL.String())
		notFound(w)
	}
}

func (f *fakeBQ) setFail(v bool) {
	f.mu.Lock()
	f.fail = v
	f.mu.Unlock()
}

// accepted returns the rows of the insertAll calls answered 200, in order,
// and BigQuery's view after insertId de-duplication (by id).
func (f *fakeBQ) accepted() (rows []insertAllRow, byID map[string]map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	byID = map[string]map[string]any{}
	for i, ia := range f.inserts {
		if f.failed[i] {
			continue
		}
		for _, r := range ia.Rows {
			rows = append(rows, insertAllRow{r.InsertID, r.JSON})
			byID[r.InsertID] = r.JSON
		}
	}
	return rows, byID
}

type insertAllRow struct {
	id  string
	row map[string]any
}
