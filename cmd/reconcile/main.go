// Command reconcile lists the starts an operator must reconcile with Fiber: starts whose
// outcome fibergate could not know (sent to Fiber and failed without an answer, or with a
// server error, so that Fiber may have created and charged the task), and starts Fiber
// accepted that fibergate could not record when it answered. fibergate never sends such a
// start again on its own; an operator compares these records with Fiber's records of the key
// (credits used, tasks seen) and tells the caller.
//
// It reads the server's store, also while the server runs, and writes nothing to it:
//
//	go run ./cmd/reconcile -store sqlite:fibergate.db -since 72h
//	go run ./cmd/reconcile -store postgres://fibergate@db.internal/fibergate -since 72h
//
// Each record is printed as one JSON object per line: id (also in the server's RECONCILE log
// line), time, kind, owner (the caller's principal), key_id (which Fiber key, never the key),
// request_key (the caller's idempotency key, if any), task_id (the task Fiber started, if it
// answered), people, urls and error. kind is one of
//
//   - outcome_unknown: no usable answer came back; Fiber may or may not have started the
//     task. There is no task_id.
//   - not_recorded: Fiber started task_id and fibergate could not store it; the caller got
//     the answer in its error. The server keeps trying to store the task and follows it
//     once stored; a RECONCILE log line with task_id says if it stopped first.
//   - id_conflict: Fiber started task_id, an id fibergate already stores for another task.
//
// A summary line goes to stderr. The -store flag falls back to FIBERGATE_STORE, like the
// server's.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/storage/postgres"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "reconcile:", err)
		}
		os.Exit(2)
	}
}

// store is what reconcile reads: ListAmbiguousStarts returns the records made at or after
// since, oldest first (storagetest.Backend states the full contract). Close is called once,
// after it.
type store interface {
	ListAmbiguousStarts(ctx context.Context, since time.Time) ([]storage.AmbiguousStart, error)
	Close() error
}

var (
	_ store = (*sqlite.Store)(nil)
	_ store = (*postgres.Store)(nil)
)

// record is one line of output.
type record struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Kind       string    `json:"kind"`
	Owner      string    `json:"owner"`
	KeyID      string    `json:"key_id"`
	RequestKey string    `json:"request_key,omitempty"`
	TaskID     string    `json:"task_id,omitempty"`
	People     int       `json:"people"`
	URLs       []string  `json:"urls"`
	Error      string    `json:"error"`
}

// run lists the records of the store named by the flags in args to stdout.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defStore := getenv("FIBERGATE_STORE")
	if defStore == "" {
		defStore = "sqlite:fibergate.db"
	}
	spec := fs.String("store", defStore, "the server's store, as its -store flag (env FIBERGATE_STORE)")
	since := fs.Duration("since", 30*24*time.Hour, "list the records of this last period")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	s, err := openStore(ctx, *spec)
	if err != nil {
		return err
	}
	defer s.Close()
	list, err := s.ListAmbiguousStarts(ctx, time.Now().Add(-*since))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	count := map[string]int{}
	for _, a := range list {
		r := toRecord(a)
		count[r.Kind]++
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "%d start(s) to reconcile since %s%s\n", len(list), time.Now().Add(-*since).UTC().Format(time.RFC3339), summary(count))
	return nil
}

// summary says how many records of each kind count holds, e.g. ": 2 outcome_unknown,
// 1 not_recorded"; "" for none.
func summary(count map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(count)) {
		parts = append(parts, fmt.Sprintf("%d %s", count[k], k))
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, ", ")
}

// openStore opens the existing store named by spec, as the server's -store flag names it:
// sqlite:PATH, or a postgres:// or postgresql:// URL. It creates nothing: a missing file, or a
// database without the server's schema, is an error. Errors show spec with any password
// masked.
func openStore(ctx context.Context, spec string) (store, error) {
	lower := strings.ToLower(spec)
	if strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
		s, err := postgres.OpenExisting(ctx, spec)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	kind, path, _ := strings.Cut(spec, ":")
	if kind != "sqlite" || path == "" {
		return nil, fmt.Errorf("-store %q: want sqlite:PATH or postgres://USER@HOST:PORT/DB", postgres.Redact(spec))
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("-store: %w", err) // do not create an empty store by mistake
	}
	s, err := sqlite.Open(ctx, path) // no lock: the server may hold the store's
	if err != nil {
		return nil, err
	}
	return s, nil
}

// toRecord is the line of a; a record without a kind is of unknown outcome.
func toRecord(a storage.AmbiguousStart) record {
	kind := a.Kind
	if kind == "" {
		kind = storage.AmbiguousOutcomeUnknown
	}
	return record{ID: a.ID, Time: a.Time.UTC(), Kind: string(kind), Owner: a.Owner, KeyID: a.KeyID,
		RequestKey: a.RequestKey, TaskID: a.TaskID, People: len(a.URLs), URLs: a.URLs, Error: a.Error}
}
