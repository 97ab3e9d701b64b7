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
	"github.com/fibergate/fibergate/internal/storage/postgres"
	"github.com/fibergate/fibergate/internal/storage/postgres/pgtest"
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
	if got.Kind != "outcome_unknown" || got.TaskID != "" || strings.Contains(lines[0], "task_id") {
		t.Errorf("a record without a kind: kind %q, task_id %q; want outcome_unknown and none", got.Kind, got.TaskID)
	}
	if s := errOut.String(); !strings.Contains(s, "1 start(s) to reconcile") || !strings.HasSuffix(s, ": 1 outcome_unknown\n") {
		t.Errorf("summary %q", s)
	}
}

// TestPrintsKindAndTaskID: each record says its kind, and the task Fiber started when it
// answered; the summary counts each kind.
func TestPrintsKindAndTaskID(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fibergate.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	urls := []string{"https://www.linkedin.com/in/a"}
	in := []storage.AmbiguousStart{
		{ID: "amb-1", Time: now.Add(-3 * time.Hour), Kind: storage.AmbiguousOutcomeUnknown, Owner: "crm", KeyID: "k1", URLs: urls, Error: "fiber start: outcome unknown (HTTP 503)"},
		{ID: "amb-2", Time: now.Add(-2 * time.Hour), Kind: storage.AmbiguousNotRecorded, Owner: "crm", KeyID: "k1", URLs: urls,
			TaskID: "task-7", Response: []byte{1, 2}, Error: "store task task-7: database is locked"},
		{ID: "amb-3", Time: now.Add(-time.Hour), Kind: storage.AmbiguousIDConflict, Owner: "crm", KeyID: "k1", URLs: urls,
			TaskID: "task-1", Error: "store task task-1: storage: already exists"},
	}
	for _, a := range in {
		if err := s.RecordAmbiguousStart(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"-store", "sqlite:" + path}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	var got []record
	dec := json.NewDecoder(&out)
	for dec.More() {
		var r record
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	want := []struct{ id, kind, taskID string }{
		{"amb-1", "outcome_unknown", ""}, {"amb-2", "not_recorded", "task-7"}, {"amb-3", "id_conflict", "task-1"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].ID != w.id || got[i].Kind != w.kind || got[i].TaskID != w.taskID {
			t.Errorf("record %d: id %q kind %q task_id %q; want %q %q %q", i, got[i].ID, got[i].Kind, got[i].TaskID, w.id, w.kind, w.taskID)
		}
	}
	if s := errOut.String(); !strings.Contains(s, "3 start(s) to reconcile") || !strings.HasSuffix(s, ": 1 id_conflict, 1 not_recorded, 1 outcome_unknown\n") {
		t.Errorf("summary %q", s)
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

// TestReadsAPostgresStore: the records of a PostgreSQL store, which a server keeps, are listed
// the same; a database without the server's schema is refused and left as it was.
func TestReadsAPostgresStore(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	var out, errOut bytes.Buffer
	err := run(ctx, []string{"-store", dsn}, func(string) string { return "" }, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "no fibergate schema") {
		t.Errorf("a database without the schema: %v, want it refused", err)
	}

	s, err := postgres.Open(ctx, dsn) // as the server does
	if err != nil {
		t.Fatal(err)
	}
	a := storage.AmbiguousStart{ID: "amb-1", Time: time.Now().Add(-time.Hour), Kind: storage.AmbiguousNotRecorded,
		Owner: "crm", KeyID: "k1", URLs: []string{"https://www.linkedin.com/in/a"}, TaskID: "task-7", Error: "e"}
	if err := s.RecordAmbiguousStart(ctx, a); err != nil {
		t.Fatal(err)
	}
	defer s.Close() // the server still runs

	out.Reset()
	errOut.Reset()
	env := map[string]string{"FIBERGATE_STORE": dsn}
	if err := run(ctx, nil, func(k string) string { return env[k] }, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	var got record
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if got.ID != "amb-1" || got.Kind != "not_recorded" || got.TaskID != "task-7" || got.People != 1 {
		t.Errorf("record %+v", got)
	}
}
