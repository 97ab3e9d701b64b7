package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/storage/postgres/pgtest"
)

// The benchmarks match the sqlite package's, to compare the backends:
//
//	go test -run '^$' -bench . ./internal/storage/postgres ./internal/storage/sqlite

// benchPage is a page of 100 results of about 300 bytes, the size of an encoded PersonResult.
func benchPage() [][]byte {
	page := make([][]byte, 100)
	for i := range page {
		page[i] = bytes.Repeat([]byte{byte('a' + i%26)}, 300)
	}
	return page
}

// benchTask is a running task to append to.
func benchTask() storage.Task {
	return storage.Task{ID: "task-1", Owner: "alice", State: storage.StateRunning, CreateTime: time.Unix(1, 0), UpdateTime: time.Unix(1, 0)}
}

func BenchmarkAppendResults(b *testing.B) {
	ctx := benchContext(b)
	s := openStore(b, pgtest.NewDatabase(b))
	if err := s.CreateTask(ctx, benchTask()); err != nil {
		b.Fatal(err)
	}
	page := benchPage()
	u := storage.Update{State: storage.StateRunning, UpdateTime: time.Unix(1, 0)}
	b.SetBytes(int64(len(page) * len(page[0])))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := s.AppendResults(ctx, "task-1", n, page, u); err != nil {
			b.Fatal(err)
		}
		n += len(page)
	}
}

func BenchmarkReadResults(b *testing.B) {
	ctx := benchContext(b)
	s := openStore(b, pgtest.NewDatabase(b))
	if err := s.CreateTask(ctx, benchTask()); err != nil {
		b.Fatal(err)
	}
	const total = 20000 // 200 pages
	page := benchPage()
	u := storage.Update{State: storage.StateRunning, UpdateTime: time.Unix(1, 0)}
	for n := 0; n < total; n += len(page) {
		if err := s.AppendResults(ctx, "task-1", n, page, u); err != nil {
			b.Fatal(err)
		}
	}

	for _, limit := range []int{100, 1000} {
		b.Run(fmt.Sprintf("page=%d", limit), func(b *testing.B) {
			b.SetBytes(int64(limit * len(page[0])))
			b.ReportAllocs()
			after := 0
			for b.Loop() {
				rs, err := s.ReadResults(ctx, "task-1", after, limit)
				if err != nil || len(rs) != limit {
					b.Fatalf("ReadResults(after %d) = %d results, %v", after, len(rs), err)
				}
				after = (after + limit) % total // every page in turn, from anywhere in the task
			}
		})
	}
}

// benchContext returns a context that ends with the benchmark, or after 10 minutes.
func benchContext(b *testing.B) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	return ctx
}
