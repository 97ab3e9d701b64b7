package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
)

func TestListsRecentRecordsAsJSONLines(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fibergate.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, a := range []storage.AmbiguousStart{
		{ID: "amb-old", Time: now.Add(-48 * time.Hour), Owner: "crm", KeyID: "k1", URLs: []string{"https://www.linkedin.com/in/old"}, Error: "e"},
		{ID: "amb-new", Time: now.Add(-time.Hour), Owner: "billing", KeyID: "k2", RequestKey: "billing/req-1",
			URLs: []string{"https://www.linkedin.com/in/a", "https://www.linkedin.com/in/b"}, Error: "fiber start: outcome unknown (HTTP 503)"},
	} {
		if err := s.RecordAmbiguousStart(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	env := map[string]string{"FIBERGATE_STORE": "sqlite:" + path}
	if err := run(ctx, []string{"-since", "24h"}, func(k string) string { return env[k] }, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines, want the one record of the last 24h:\n%s", len(lines), out.String())
	}
	var got record
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != "amb-new" || got.Owner != "billing" || got.RequestKey != "billing/req-1" || got.People != 2 || got.KeyID != "k2" {
		t.Errorf("record %+v", got)
	}
	if !strings.Contains(errOut.String(), "1 start(s) of unknown outcome") {
		t.Errorf("summary %q", errOut.String())
	}
}

func TestRefusesAMissingStore(t *testing.T) {
	var out, errOut bytes.Buffer
	path := filepath.Join(t.TempDir(), "nope.db")
	err := run(context.Background(), []string{"-store", "sqlite:" + path}, func(string) string { return "" }, &out, &errOut)
	if err == nil {
		t.Fatal("a missing store file was accepted")
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*")); len(matches) != 0 {
		t.Errorf("files created: %v", matches)
	}
	if err := run(context.Background(), []string{"-store", "redis:x"}, func(string) string { return "" }, &out, &errOut); err == nil {
		t.Error("an unknown backend was accepted")
	}
}
