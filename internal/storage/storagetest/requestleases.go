package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/storage"
)

// runOut is a lease that has run out when it is granted, whatever the store's clock.
const runOut = -time.Second

// claimWithLease claims r with the given lease and fails the test unless it was claimed.
func claimWithLease(ctx context.Context, t *testing.T, s Backend, r storage.Request, lease time.Duration) {
	t.Helper()
	existing, claimed, err := s.ClaimRequest(ctx, r, lease)
	if err != nil {
		t.Fatalf("ClaimRequest(%s, lease %v): %v", r.Key, lease, err)
	}
	if !claimed {
		t.Fatalf("ClaimRequest(%s, lease %v) not claimed, existing %+v", r.Key, lease, existing)
	}
}

func mustRenew(ctx context.Context, t *testing.T, s Backend, key, owner string, lease time.Duration, want bool) {
	t.Helper()
	renewed, err := s.RenewRequest(ctx, key, owner, lease)
	if err != nil {
		t.Fatalf("RenewRequest(%s, %s, %v): %v", key, owner, lease, err)
	}
	if renewed != want {
		t.Errorf("RenewRequest(%s, %s, %v) = %v, want %v", key, owner, lease, renewed, want)
	}
}

func mustResolve(ctx context.Context, t *testing.T, s Backend, key string, now time.Time) storage.Request {
	t.Helper()
	r, err := s.ResolveRequest(ctx, key, now)
	if err != nil {
		t.Fatalf("ResolveRequest(%s at %v): %v", key, now, err)
	}
	return r
}

// testRequestLeaseRoundTrip: a claim's lease runs out lease from the store's now, whatever the
// Request says, and a renewal moves it by the difference of the leases; both come back from
// every read, and neither changes anything else.
func testRequestLeaseRoundTrip(t *testing.T, s Backend) {
	ctx := testContext(t)
	r := request("alice/req-1", "hash", 0, 100)
	r.LeaseExpiry = at(-3600) // ignored: the store's clock decides
	claimWithLease(ctx, t, s, r, time.Hour)
	claimed := mustGetRequest(ctx, t, s, r.Key, at(1))
	if claimed.LeaseExpiry.IsZero() || claimed.LeaseExpiry.Equal(r.LeaseExpiry) {
		t.Fatalf("LeaseExpiry after the claim = %v, want one set by the store", claimed.LeaseExpiry)
	}
	want := r
	want.LeaseExpiry = claimed.LeaseExpiry
	if diff := cmp.Diff(want, claimed, equateEmpty()); diff != "" {
		t.Errorf("GetRequest after the claim (-want +got):\n%s", diff)
	}
	// Read back by the other readers too: the record, lease and all.
	if diff := cmp.Diff(want, mustResolve(ctx, t, s, r.Key, at(1)), equateEmpty()); diff != "" {
		t.Errorf("ResolveRequest of a live lease (-want +got):\n%s", diff)
	}
	existing, again, err := s.ClaimRequest(ctx, request(r.Key, "hash", 1, 100), lease)
	if err != nil || again {
		t.Fatalf("ClaimRequest of a live key: claimed %v, %v; want refused", again, err)
	}
	if diff := cmp.Diff(want, existing, equateEmpty()); diff != "" {
		t.Errorf("ClaimRequest's existing record (-want +got):\n%s", diff)
	}

	// Renewed for two hours from a later now: the expiry moves by an hour and the time
	// between the two statements, which the test's timeout bounds. A minute of slack below
	// allows for a store clock stepped back meanwhile.
	mustRenew(ctx, t, s, r.Key, owner, 2*time.Hour, true)
	renewed := mustGetRequest(ctx, t, s, r.Key, at(1))
	if d := renewed.LeaseExpiry.Sub(claimed.LeaseExpiry); d < time.Hour-time.Minute || d > time.Hour+timeout+time.Minute {
		t.Errorf("a renewal for 2h moved a 1h lease by %v, want about 1h", d)
	}
	want.LeaseExpiry = renewed.LeaseExpiry
	if diff := cmp.Diff(want, renewed, equateEmpty()); diff != "" {
		t.Errorf("GetRequest after RenewRequest (-want +got):\n%s", diff)
	}

	// A shorter renewal shortens the lease: it is from now, not added to the old one.
	mustRenew(ctx, t, s, r.Key, owner, time.Minute, true)
	if got := mustGetRequest(ctx, t, s, r.Key, at(1)).LeaseExpiry; !got.Before(claimed.LeaseExpiry) {
		t.Errorf("a renewal for 1m left the lease at %v, not before the 1h claim's %v", got, claimed.LeaseExpiry)
	}

	// Finishing keeps the owner and its last lease.
	mustRenew(ctx, t, s, r.Key, owner, 2*time.Hour, true)
	last := mustGetRequest(ctx, t, s, r.Key, at(1))
	mustFinish(ctx, t, s, r.Key, storage.RequestDone, []byte("answer"))
	if diff := cmp.Diff(finishedRequest(last, storage.RequestDone, []byte("answer")), mustGetRequest(ctx, t, s, r.Key, at(1)), equateEmpty()); diff != "" {
		t.Errorf("GetRequest after FinishRequest (-want +got):\n%s", diff)
	}
}

// testRenewRequestFenced: only the owner renews, and only while the record is pending.
func testRenewRequestFenced(t *testing.T, s Backend) {
	ctx := testContext(t)
	r := request("alice/req-1", "hash", 0, 100)
	claimWithLease(ctx, t, s, r, time.Hour)
	before := mustGetRequest(ctx, t, s, r.Key, at(1))
	for _, other := range []string{"replica-b", "", "REPLICA-A", "replica-a "} {
		mustRenew(ctx, t, s, r.Key, other, 2*time.Hour, false)
	}
	for _, key := range []string{"unknown", "ALICE/req-1", ""} {
		mustRenew(ctx, t, s, key, owner, 2*time.Hour, false)
	}
	if diff := cmp.Diff(before, mustGetRequest(ctx, t, s, r.Key, at(1)), equateEmpty()); diff != "" {
		t.Errorf("refused renewals changed the record (-want +got):\n%s", diff)
	}

	// A finished record has no lease to renew, done or unknown.
	for _, state := range []storage.RequestState{storage.RequestDone, storage.RequestUnknown} {
		key := fmt.Sprintf("alice/req-finished-%d", state)
		claimWithLease(ctx, t, s, request(key, "hash", 0, 100), time.Hour)
		mustFinish(ctx, t, s, key, state, nil)
		before := mustGetRequest(ctx, t, s, key, at(1))
		mustRenew(ctx, t, s, key, owner, 2*time.Hour, false)
		if diff := cmp.Diff(before, mustGetRequest(ctx, t, s, key, at(1)), equateEmpty()); diff != "" {
			t.Errorf("a renewal changed a finished record (-want +got):\n%s", diff)
		}
	}

	// A released record is gone: nothing to renew, and nothing comes back.
	claimWithLease(ctx, t, s, request("alice/req-released", "hash", 0, 100), time.Hour)
	if err := s.ReleaseRequest(ctx, "alice/req-released"); err != nil {
		t.Fatal(err)
	}
	mustRenew(ctx, t, s, "alice/req-released", owner, time.Hour, false)
	_, err := s.GetRequest(ctx, "alice/req-released", at(1))
	wantErr(t, "GetRequest after renewing a released record", err, storage.ErrNotFound)

	// A lease that ran out is renewed while nobody has given the record up...
	claimWithLease(ctx, t, s, request("alice/req-late", "hash", 0, 100), runOut)
	mustRenew(ctx, t, s, "alice/req-late", owner, time.Hour, true)
	if got := mustResolve(ctx, t, s, "alice/req-late", at(1)); got.State != storage.RequestPending {
		t.Errorf("a late renewal: ResolveRequest gave state %v, want pending", got.State)
	}
	// ... and not once somebody has.
	claimWithLease(ctx, t, s, request("alice/req-given-up", "hash", 0, 100), runOut)
	if got := mustResolve(ctx, t, s, "alice/req-given-up", at(1)); got.State != storage.RequestUnknown {
		t.Fatalf("ResolveRequest of a lease run out gave state %v, want unknown", got.State)
	}
	mustRenew(ctx, t, s, "alice/req-given-up", owner, time.Hour, false)
}

// testResolveRequest: ResolveRequest gives up a pending record whose lease ran out, and
// only that.
func testResolveRequest(t *testing.T, s Backend) {
	ctx := testContext(t)
	tests := []struct {
		name      string
		lease     time.Duration
		state     storage.RequestState // after the claim; 0 leaves it pending
		response  []byte
		wantState storage.RequestState
	}{
		{"pending, lease live", time.Hour, 0, nil, storage.RequestPending},
		{"pending, lease run out", runOut, 0, nil, storage.RequestUnknown},
		{"done, lease run out", runOut, storage.RequestDone, []byte("answer"), storage.RequestDone},
		{"unknown, lease live", time.Hour, storage.RequestUnknown, nil, storage.RequestUnknown},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(fmt.Sprintf("alice/req-%d", i), "hash", 0, 100)
			claimWithLease(ctx, t, s, r, tt.lease)
			if tt.state != 0 {
				mustFinish(ctx, t, s, r.Key, tt.state, tt.response)
			}
			want := mustGetRequest(ctx, t, s, r.Key, at(1))
			want.State = tt.wantState
			for range 2 { // and again: the first changed what it had to
				if diff := cmp.Diff(want, mustResolve(ctx, t, s, r.Key, at(1)), equateEmpty()); diff != "" {
					t.Errorf("ResolveRequest (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(want, mustGetRequest(ctx, t, s, r.Key, at(1)), equateEmpty()); diff != "" {
				t.Errorf("GetRequest after ResolveRequest (-want +got):\n%s", diff)
			}
			// A given-up record still refuses claims until it expires.
			mustNotClaim(ctx, t, s, request(r.Key, "hash", 2, 100), want)
		})
	}

	// The owner's late answer still lands on a record given up.
	r := request("alice/req-late-answer", "hash", 0, 100)
	claimWithLease(ctx, t, s, r, runOut)
	mustResolve(ctx, t, s, r.Key, at(1))
	mustFinish(ctx, t, s, r.Key, storage.RequestDone, []byte("answer"))
	if got := mustGetRequest(ctx, t, s, r.Key, at(1)); got.State != storage.RequestDone || string(got.Response) != "answer" {
		t.Errorf("a late FinishRequest: %v %q, want done with its answer", got.State, got.Response)
	}

	// Not found: no record, or one that expired, which is left alone.
	expired := request("alice/req-expired", "hash", 0, 100)
	claimWithLease(ctx, t, s, expired, runOut)
	for _, now := range []time.Time{at(100), at(5000)} {
		_, err := s.ResolveRequest(ctx, expired.Key, now)
		wantErr(t, fmt.Sprintf("ResolveRequest(expired, at %v)", now), err, storage.ErrNotFound)
	}
	if got := mustGetRequest(ctx, t, s, expired.Key, at(1)); got.State != storage.RequestPending {
		t.Errorf("ResolveRequest of an expired record set its state to %v, want it left pending", got.State)
	}
	for _, key := range []string{"unknown", "ALICE/req-0", ""} {
		_, err := s.ResolveRequest(ctx, key, at(1))
		wantErr(t, "ResolveRequest("+key+")", err, storage.ErrNotFound)
	}
}

// testRenewRacesResolve: of a renewal and resolvers racing on a lease that ran out, either
// the renewal wins and every resolver finds the request pending, or a resolver gives it up
// and the renewal fails; never both.
func testRenewRacesResolve(t *testing.T, s Backend) {
	ctx := testContext(t)
	for round := range 10 {
		key := fmt.Sprintf("alice/req-%d", round)
		claimWithLease(ctx, t, s, request(key, "hash", 0, 100), runOut)
		var (
			renewed bool
			states  = make([]storage.RequestState, claimers)
		)
		errs := race(claimers, func(g int) error {
			var err error
			if g == 0 {
				renewed, err = s.RenewRequest(ctx, key, owner, time.Hour)
				return err
			}
			r, err := s.ResolveRequest(ctx, key, at(1))
			states[g] = r.State
			return err
		})
		for g, err := range errs {
			if err != nil {
				t.Fatalf("%s: goroutine %d: %v", key, g, err)
			}
		}
		final := mustGetRequest(ctx, t, s, key, at(1)).State
		want := storage.RequestUnknown
		if renewed {
			want = storage.RequestPending
		}
		if final != want {
			t.Errorf("%s: renewed %v, and the record ended %v; want %v", key, renewed, final, want)
		}
		for g := 1; g < claimers; g++ {
			if renewed && states[g] != storage.RequestPending {
				t.Errorf("%s: the renewal won, yet resolver %d found state %v", key, g, states[g])
			}
		}
	}
}
