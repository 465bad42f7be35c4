package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `serve -h` and `check-config -h` print their flags and succeed.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"serve", "-h"}, {"demo", "--help"}, {"check-config", "-h"}, {"-h"}} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err != nil {
			t.Errorf("%v: %v", args, err)
		}
		if args[0] != "-h" && !strings.Contains(errb.String(), "-config") {
			t.Errorf("%v: no flags printed: %q", args, errb.String())
		}
	}
}

// `version` prints the commit and build date: -ldflags values when set.
func TestVersionPrintsCommit(t *testing.T) {
	commit, buildDate = "0123abc", "2026-12-04T18:00:00Z"
	t.Cleanup(func() { commit, buildDate = "", "" })
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "commit 0123abc") || !strings.Contains(out.String(), "built  2026-12-04T18:00:00Z") {
		t.Errorf("version = %q", out.String())
	}
}

// check-config reports every problem with its path and refuses no domains.
func TestCheckConfigCmd(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.yml")
	os.WriteFile(empty, nil, 0o644)
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"check-config", "--config", empty}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "at least one domain") {
		t.Errorf("empty config: %v", err)
	}
	err = run(context.Background(), []string{"check-config", "--config", "../../config/testdata/types.bad.yml"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "(5 problems)") || !strings.Contains(err.Error(), "domains[0].services[0].apis[0].apdex_t: line 9") {
		t.Errorf("types.bad.yml: %v", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"check-config"}, &out, &errb); err != nil || !strings.Contains(out.String(), "5 domains, 34 APIs, 11 journeys") {
		t.Errorf("example: %v %q", err, out.String())
	}
}

// `serve --role` refuses, before opening anything, a role the
// configuration cannot serve.
func TestServeRoleRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--role", "writer"}, "scaleout.kafka: required by server.role writer"},
		{[]string{"--role", "writer"}, "storage.type: server.role writer needs clickhouse"},
		{[]string{"--role", "api"}, "an embedded store cannot be shared between processes"},
		{[]string{"--role", "collector"}, "scaleout.kafka: required by server.role collector"},
		{[]string{"--role", "leader"}, `server.role: want one of [all collector writer api], got "leader"`},
		{[]string{"--role", "collector", "--demo"}, "--demo runs with --role all only"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"serve", "--data-dir", t.TempDir(), "--demo=false"}, tc.args...), &out, &errb)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}
