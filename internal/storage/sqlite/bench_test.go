package sqlite_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/storage"
)

// benchPage is a page of 100 results of about 300 bytes, the size of an encoded PersonResult.
func benchPage() [][]byte {
	page := make([][]byte, 100)
	for i := range page {
		page[i] = bytes.Repeat([]byte{byte('a' + i%26)}, 300)
	}
	return page
}

func BenchmarkAppendResults(b *testing.B) {
	ctx := benchContext(b)
	s := openStore(b, filepath.Join(b.TempDir(), "fibergate.db"))
	if err := s.CreateTask(ctx, task("task-1")); err != nil {
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
	s := openStore(b, filepath.Join(b.TempDir(), "fibergate.db"))
	if err := s.CreateTask(ctx, task("task-1")); err != nil {
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
