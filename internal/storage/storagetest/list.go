package storagetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/storage"
)

func testListTasksOrderAndFilter(t *testing.T, s Backend) {
	ctx := testContext(t)
	tasks := []storage.Task{
		running("t1", "alice", 0),
		finished("t2", "alice", 2, storage.StateSucceeded, 4),
		finished("t3", "alice", 1, storage.StateFailed, 2),
		running("t4", "alice", 3),
		running("t5", "alice", 2), // same CreateTime as t2: the greater ID comes first
		running("b1", "bob", 10),
	}
	mustCreate(ctx, t, s, tasks...)
	byID := map[string]storage.Task{}
	for _, task := range tasks {
		byID[task.ID] = task
	}

	tests := []struct {
		owner string
		state storage.State
		want  []string
	}{
		{"alice", 0, []string{"t4", "t5", "t2", "t3", "t1"}},
		{"alice", storage.StateRunning, []string{"t4", "t5", "t1"}},
		{"alice", storage.StateSucceeded, []string{"t2"}},
		{"alice", storage.StateCanceled, nil},
		{"bob", 0, []string{"b1"}},
		{"bob", storage.StateFailed, nil},
		{"nobody", 0, nil},
		{"Alice", 0, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/state=%d", tt.owner, tt.state), func(t *testing.T) {
			got, next, err := s.ListTasks(ctx, storage.ListFilter{Owner: tt.owner, State: tt.state, PageSize: 100})
			if err != nil {
				t.Fatalf("ListTasks: %v", err)
			}
			if next != nil {
				t.Errorf("next = %+v after the last page, want nil", *next)
			}
			want := []storage.Task{}
			for _, id := range tt.want {
				want = append(want, byID[id])
			}
			if diff := gocmp.Diff(want, got, equateEmpty()); diff != "" {
				t.Errorf("ListTasks mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// newestFirst orders tasks as ListTasks must.
func newestFirst(a, b storage.Task) int {
	if c := b.CreateTime.Compare(a.CreateTime); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

func testListTasksPaging(t *testing.T, s Backend) {
	ctx := testContext(t)
	// 23 tasks of alice's, created four to a second so that IDs must break ties, in an order
	// that is neither by ID nor by time; every third finished. Bob's are interleaved.
	var alices []storage.Task
	for i := range 23 {
		id := fmt.Sprintf("t%02d", (i*7)%23)
		task := running(id, "alice", i/4)
		if i%3 == 0 {
			task = finished(id, "alice", i/4, storage.StateSucceeded, 30)
		}
		mustCreate(ctx, t, s, task, running("bob-"+id, "bob", i/4))
		alices = append(alices, task)
	}
	slices.SortFunc(alices, newestFirst)

	for _, state := range []storage.State{0, storage.StateRunning, storage.StateSucceeded} {
		want := []string{}
		for _, task := range alices {
			if state == 0 || task.State == state {
				want = append(want, task.ID)
			}
		}
		for _, size := range []int{1, 4, 5, 8, 23, 50} {
			t.Run(fmt.Sprintf("state=%d/size=%d", state, size), func(t *testing.T) {
				got := listAll(ctx, t, s, storage.ListFilter{Owner: "alice", State: state, PageSize: size})
				if diff := gocmp.Diff(want, got); diff != "" {
					t.Errorf("tasks over all pages (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// listAll pages through f's tasks and returns their IDs, checking each page and its next key.
func listAll(ctx context.Context, t *testing.T, s Backend, f storage.ListFilter) []string {
	t.Helper()
	ids := []string{}
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatalf("more than 100 pages")
		}
		tasks, next, err := s.ListTasks(ctx, f)
		if err != nil {
			t.Fatalf("ListTasks(page %d): %v", page, err)
		}
		if len(tasks) > f.PageSize {
			t.Fatalf("page %d has %d tasks, more than the page size %d", page, len(tasks), f.PageSize)
		}
		for _, task := range tasks {
			if task.Owner != f.Owner {
				t.Errorf("page %d has task %s of %q", page, task.ID, task.Owner)
			}
			ids = append(ids, task.ID)
		}
		if next == nil {
			return ids
		}
		if len(tasks) != f.PageSize {
			t.Fatalf("page %d has %d tasks and a next page; want full pages of %d", page, len(tasks), f.PageSize)
		}
		last := tasks[len(tasks)-1]
		if want := (storage.PageKey{CreateTime: last.CreateTime, ID: last.ID}); !next.CreateTime.Equal(want.CreateTime) || next.ID != want.ID {
			t.Errorf("page %d: next = %+v, want the last task's position %+v", page, *next, want)
		}
		f.After = *next
	}
}

func testListTasksPagingStable(t *testing.T, s Backend) {
	ctx := testContext(t)
	for i := range 10 {
		mustCreate(ctx, t, s, running(fmt.Sprintf("a%d", i), "alice", i))
	}
	f := storage.ListFilter{Owner: "alice", PageSize: 4}
	first, next, err := s.ListTasks(ctx, f)
	if err != nil || next == nil {
		t.Fatalf("ListTasks(first page) = %d tasks, next %v, %v; want a next page", len(first), next, err)
	}

	// Tasks created between two pages: those ordered before the key never show up, the one
	// ordered after it does, in its place.
	mustCreate(ctx, t, s,
		running("newer", "alice", 20),
		running("a6z", "alice", 6), // ties with a6, the last of the first page, and precedes it
		running("a5a", "alice", 5), // ties with a5 and precedes it
	)
	f.After = *next
	got := []string{}
	for _, task := range first {
		got = append(got, task.ID)
	}
	got = append(got, listAll(ctx, t, s, f)...)
	want := []string{"a9", "a8", "a7", "a6", "a5a", "a5", "a4", "a3", "a2", "a1", "a0"}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("tasks over all pages (-want +got):\n%s", diff)
	}
}
