package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fibergate/fibergate/internal/storage"
)

// claimers is how many goroutines race to claim one key.
const claimers = 16

// owner is the replica that claims the suite's requests, unless a test says otherwise.
const owner = "replica-a"

// lease is the lease the suite's claims take: it outlives every test.
const lease = time.Hour

// request is a pending record of key claimed by owner at at(sec) that lives for ttl
// seconds.
func request(key, hash string, sec, ttl int) storage.Request {
	return storage.Request{
		Key:         key,
		PayloadHash: hash,
		State:       storage.RequestPending,
		CreateTime:  at(sec),
		ExpireTime:  at(sec + ttl),
		Owner:       owner,
	}
}

// sameRequest compares records but for their LeaseExpiry, which the store sets by its own
// clock: the lease tests check it.
func sameRequest() cmp.Option {
	return cmp.Options{equateEmpty(), cmpopts.IgnoreFields(storage.Request{}, "LeaseExpiry")}
}

// allBytes is every byte value once, as a binary response.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// mustClaim claims r and fails the test unless it was claimed.
func mustClaim(ctx context.Context, t *testing.T, s Backend, r storage.Request) {
	t.Helper()
	existing, claimed, err := s.ClaimRequest(ctx, r, lease)
	if err != nil {
		t.Fatalf("ClaimRequest(%s at %v): %v", r.Key, r.CreateTime, err)
	}
	if !claimed {
		t.Fatalf("ClaimRequest(%s at %v) not claimed, existing %+v", r.Key, r.CreateTime, existing)
	}
}

// mustNotClaim claims r and fails the test unless it was refused in favour of want.
func mustNotClaim(ctx context.Context, t *testing.T, s Backend, r, want storage.Request) {
	t.Helper()
	existing, claimed, err := s.ClaimRequest(ctx, r, lease)
	if err != nil {
		t.Fatalf("ClaimRequest(%s at %v): %v", r.Key, r.CreateTime, err)
	}
	if claimed {
		t.Errorf("ClaimRequest(%s at %v) claimed a live key", r.Key, r.CreateTime)
	}
	if diff := cmp.Diff(want, existing, sameRequest()); diff != "" {
		t.Errorf("ClaimRequest(%s at %v) existing record (-want +got):\n%s", r.Key, r.CreateTime, diff)
	}
}

func mustGetRequest(ctx context.Context, t *testing.T, s Backend, key string, now time.Time) storage.Request {
	t.Helper()
	r, err := s.GetRequest(ctx, key, now)
	if err != nil {
		t.Fatalf("GetRequest(%s at %v): %v", key, now, err)
	}
	return r
}

func mustFinish(ctx context.Context, t *testing.T, s Backend, key string, state storage.RequestState, response []byte) {
	t.Helper()
	if err := s.FinishRequest(ctx, key, state, response); err != nil {
		t.Fatalf("FinishRequest(%s, %d): %v", key, state, err)
	}
}

// finishedRequest is r after FinishRequest(state, response).
func finishedRequest(r storage.Request, state storage.RequestState, response []byte) storage.Request {
	r.State, r.Response = state, response
	return r
}

func testClaimGetRoundTrip(t *testing.T, s Backend) {
	ctx := testContext(t)
	far := request("bob/req-far", "sha256:00ff", -40*365*24*3600, 240*365*24*3600)
	far.CreateTime, far.ExpireTime = far.CreateTime.Add(1), far.ExpireTime.Add(999)
	noState := request("bob/req-no-state", "h", 0, 60)
	noState.State = 0
	doneState := request("bob/req-done-state", "h", 0, 60)
	doneState.State = storage.RequestDone
	oddOwner := request("bob/req-odd-owner", "h", 0, 60)
	oddOwner.Owner = "ü/ host-7?=1&x"
	noOwner := request("bob/req-no-owner", "h", 0, 60)
	noOwner.Owner = ""
	givenLease := request("bob/req-given-lease", "h", 0, 60)
	givenLease.LeaseExpiry = at(-3600) // the store sets it

	tests := []struct {
		name string
		r    storage.Request
	}{
		{"every field set", request("alice/req-1", "sha256:9f86d081884c7d659a2feaa0c55ad015", 0, 3600)},
		{"odd key and hash", request("ü/ req?=1&x", "sha256:+/=ü", 5, 1)},
		{"far times", far},
		// A claim records a pending request whatever state it is given.
		{"no state", noState},
		{"another state", doneState},
		{"odd owner", oddOwner},
		{"no owner", noOwner},
		{"a lease expiry given", givenLease},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustClaim(ctx, t, s, tt.r)
			want := tt.r
			want.State = storage.RequestPending
			for _, now := range []time.Time{tt.r.CreateTime, tt.r.ExpireTime.Add(-1)} {
				got := mustGetRequest(ctx, t, s, tt.r.Key, now)
				if diff := cmp.Diff(want, got, sameRequest()); diff != "" {
					t.Errorf("GetRequest(%s at %v) mismatch (-claimed +got):\n%s", tt.r.Key, now, diff)
				}
			}
		})
	}
}

func testClaimExisting(t *testing.T, s Backend) {
	ctx := testContext(t)
	orig := request("alice/req-1", "hash-1", 0, 100)
	mustClaim(ctx, t, s, orig)

	// Any claim while the record lives is refused, whatever its payload and lifetime.
	for _, again := range []storage.Request{
		request("alice/req-1", "hash-1", 0, 100),
		request("alice/req-1", "hash-2", 1, 500),
		request("alice/req-1", "hash-1", 99, 1),
		{Key: "alice/req-1", PayloadHash: "hash-3", CreateTime: at(100).Add(-1), ExpireTime: at(200)},
	} {
		mustNotClaim(ctx, t, s, again, orig)
	}
	if diff := cmp.Diff(orig, mustGetRequest(ctx, t, s, "alice/req-1", at(50)), sameRequest()); diff != "" {
		t.Errorf("record changed by refused claims (-want +got):\n%s", diff)
	}

	// A finished record is what a repeated request replays.
	done := finishedRequest(orig, storage.RequestDone, allBytes())
	mustFinish(ctx, t, s, orig.Key, done.State, done.Response)
	mustNotClaim(ctx, t, s, request("alice/req-1", "hash-1", 60, 100), done)

	// Keys are compared exactly.
	for _, key := range []string{"ALICE/req-1", "alice/req-1 ", "alice/req-"} {
		mustClaim(ctx, t, s, request(key, "hash-1", 10, 100))
	}
	if diff := cmp.Diff(done, mustGetRequest(ctx, t, s, "alice/req-1", at(50)), sameRequest()); diff != "" {
		t.Errorf("record changed by claims of other keys (-want +got):\n%s", diff)
	}
}

func testClaimExpired(t *testing.T, s Backend) {
	ctx := testContext(t)
	tests := []struct {
		name     string
		state    storage.RequestState // of the old record; 0 leaves it pending
		response []byte
		claimSec int // the old record expires at at(100)
	}{
		{"pending, at expiry", 0, nil, 100},
		{"pending, long after", 0, nil, 5000},
		{"done, at expiry", storage.RequestDone, []byte("old answer"), 100},
		{"unknown, just after", storage.RequestUnknown, nil, 101},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("alice/req-%d", i)
			old := request(key, "old", 0, 100)
			old.Owner = "replica-old"
			mustClaim(ctx, t, s, old)
			if tt.state != 0 {
				mustFinish(ctx, t, s, key, tt.state, tt.response)
			}

			// The new record replaces the old one entirely: nothing of it, such as its
			// response, is left.
			fresh := request(key, "new", tt.claimSec, 100)
			mustClaim(ctx, t, s, fresh)
			if diff := cmp.Diff(fresh, mustGetRequest(ctx, t, s, key, at(tt.claimSec)), sameRequest()); diff != "" {
				t.Errorf("GetRequest after replacing an expired record (-want +got):\n%s", diff)
			}
			mustNotClaim(ctx, t, s, request(key, "newer", tt.claimSec+1, 100), fresh)
		})
	}
}

func testConcurrentClaims(t *testing.T, s Backend) {
	ctx := testContext(t)
	// Every claimer claims the same key at the same time: whatever the interleaving, exactly
	// one wins and the others get its record. Several rounds, to give a check-then-write
	// window a chance to show, half of them replacing an expired record.
	for round := range 10 {
		key := fmt.Sprintf("alice/req-%d", round)
		if round%2 == 1 {
			mustClaim(ctx, t, s, request(key, "expired", 0, 10))
		}
		claim := func(g int) storage.Request { return request(key, fmt.Sprintf("hash-%d", g), 20, 100) }
		existing := make([]storage.Request, claimers)
		claimed := make([]bool, claimers)
		errs := race(claimers, func(g int) error {
			var err error
			existing[g], claimed[g], err = s.ClaimRequest(ctx, claim(g), lease)
			return err
		})

		winner := -1
		for g, err := range errs {
			switch {
			case err != nil:
				t.Errorf("%s: claimer %d: %v", key, g, err)
			case claimed[g] && winner >= 0:
				t.Errorf("%s: claimers %d and %d both claimed the key", key, winner, g)
			case claimed[g]:
				winner = g
			}
		}
		if winner < 0 {
			t.Fatalf("%s: no claimer claimed the key", key)
		}
		for g := range claimers {
			if errs[g] != nil || claimed[g] {
				continue
			}
			if diff := cmp.Diff(claim(winner), existing[g], sameRequest()); diff != "" {
				t.Errorf("%s: claimer %d did not get the winner's record (-want +got):\n%s", key, g, diff)
			}
		}
		if diff := cmp.Diff(claim(winner), mustGetRequest(ctx, t, s, key, at(20)), sameRequest()); diff != "" {
			t.Errorf("%s: stored record is not the winner's (-want +got):\n%s", key, diff)
		}
	}
}

func testFinishRequest(t *testing.T, s Backend) {
	ctx := testContext(t)
	tests := []struct {
		name     string
		state    storage.RequestState
		response []byte
	}{
		{"done with a response", storage.RequestDone, allBytes()},
		{"done with an empty response", storage.RequestDone, nil},
		{"unknown", storage.RequestUnknown, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(fmt.Sprintf("alice/req-%d", i), "hash", i, 100)
			mustClaim(ctx, t, s, r)
			mustFinish(ctx, t, s, r.Key, tt.state, tt.response)
			want := finishedRequest(r, tt.state, tt.response)
			if diff := cmp.Diff(want, mustGetRequest(ctx, t, s, r.Key, at(i)), sameRequest()); diff != "" {
				t.Errorf("GetRequest after FinishRequest (-want +got):\n%s", diff)
			}
		})
	}

	// A second FinishRequest sets both state and response again.
	r := request("bob/req-1", "hash", 0, 100)
	other := request("bob/req-2", "hash", 0, 100)
	mustClaim(ctx, t, s, r)
	mustClaim(ctx, t, s, other)
	mustFinish(ctx, t, s, r.Key, storage.RequestDone, []byte("answer"))
	mustFinish(ctx, t, s, r.Key, storage.RequestUnknown, nil)
	if diff := cmp.Diff(finishedRequest(r, storage.RequestUnknown, nil), mustGetRequest(ctx, t, s, r.Key, at(1)), sameRequest()); diff != "" {
		t.Errorf("GetRequest after a second FinishRequest (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(other, mustGetRequest(ctx, t, s, other.Key, at(1)), sameRequest()); diff != "" {
		t.Errorf("another record changed (-want +got):\n%s", diff)
	}
}

func testRequestNotFound(t *testing.T, s Backend) {
	ctx := testContext(t)
	mustClaim(ctx, t, s, request("alice/req-1", "hash", 0, 100))
	for _, key := range []string{"unknown", "ALICE/req-1", "alice/req-", ""} {
		_, err := s.GetRequest(ctx, key, at(1))
		wantErr(t, "GetRequest("+key+")", err, storage.ErrNotFound)
		err = s.FinishRequest(ctx, key, storage.RequestDone, []byte("answer"))
		wantErr(t, "FinishRequest("+key+")", err, storage.ErrNotFound)
	}
	want := request("alice/req-1", "hash", 0, 100)
	if diff := cmp.Diff(want, mustGetRequest(ctx, t, s, "alice/req-1", at(1)), sameRequest()); diff != "" {
		t.Errorf("record changed (-want +got):\n%s", diff)
	}
}

func testGetRequestExpired(t *testing.T, s Backend) {
	ctx := testContext(t)
	r := request("alice/req-1", "hash", 0, 100)
	mustClaim(ctx, t, s, r)
	mustFinish(ctx, t, s, r.Key, storage.RequestDone, []byte("answer"))

	want := finishedRequest(r, storage.RequestDone, []byte("answer"))
	if diff := cmp.Diff(want, mustGetRequest(ctx, t, s, r.Key, at(100).Add(-1)), sameRequest()); diff != "" {
		t.Errorf("GetRequest just before expiry (-want +got):\n%s", diff)
	}
	// Expired at its ExpireTime, as for ClaimRequest.
	for _, now := range []time.Time{at(100), at(100).Add(1), at(5000)} {
		_, err := s.GetRequest(ctx, r.Key, now)
		wantErr(t, fmt.Sprintf("GetRequest(expired, at %v)", now), err, storage.ErrNotFound)
	}
}

func testReleaseRequest(t *testing.T, s Backend) {
	ctx := testContext(t)
	kept := request("alice/req-2", "hash", 0, 100)
	mustClaim(ctx, t, s, request("alice/req-1", "hash-1", 0, 100))
	mustClaim(ctx, t, s, kept)

	if err := s.ReleaseRequest(ctx, "alice/req-1"); err != nil {
		t.Fatalf("ReleaseRequest: %v", err)
	}
	_, err := s.GetRequest(ctx, "alice/req-1", at(1))
	wantErr(t, "GetRequest after ReleaseRequest", err, storage.ErrNotFound)
	err = s.FinishRequest(ctx, "alice/req-1", storage.RequestDone, nil)
	wantErr(t, "FinishRequest after ReleaseRequest", err, storage.ErrNotFound)
	for _, key := range []string{"alice/req-1", "unknown"} {
		if err := s.ReleaseRequest(ctx, key); err != nil {
			t.Errorf("ReleaseRequest(%s) of no record: %v, want nil", key, err)
		}
	}

	// The key is free again, long before the released record would have expired.
	again := request("alice/req-1", "hash-2", 1, 100)
	mustClaim(ctx, t, s, again)
	if diff := cmp.Diff(again, mustGetRequest(ctx, t, s, "alice/req-1", at(1)), sameRequest()); diff != "" {
		t.Errorf("GetRequest after a new claim (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(kept, mustGetRequest(ctx, t, s, kept.Key, at(1)), sameRequest()); diff != "" {
		t.Errorf("another record changed (-want +got):\n%s", diff)
	}
}

func testPurgeRequests(t *testing.T, s Backend) {
	ctx := testContext(t)
	const cutoff = 100
	records := []struct {
		r      storage.Request
		purged bool
	}{
		{request("early", "h", 0, 10), true},
		{finishedRequest(request("early-done", "h", 0, 20), storage.RequestDone, []byte("answer")), true},
		{finishedRequest(request("early-unknown", "h", 0, 30), storage.RequestUnknown, nil), true},
		{storage.Request{Key: "just-before", PayloadHash: "h", State: storage.RequestPending,
			CreateTime: at(0), ExpireTime: at(cutoff).Add(-1)}, true},
		{request("at-cutoff", "h", 0, cutoff), false},
		{finishedRequest(request("late-done", "h", 0, cutoff+50), storage.RequestDone, []byte("answer")), false},
	}
	for _, rec := range records {
		mustClaim(ctx, t, s, rec.r)
		if rec.r.State != storage.RequestPending {
			mustFinish(ctx, t, s, rec.r.Key, rec.r.State, rec.r.Response)
		}
	}

	n, err := s.PurgeRequests(ctx, at(cutoff))
	if err != nil {
		t.Fatalf("PurgeRequests: %v", err)
	}
	if n != 4 {
		t.Errorf("PurgeRequests = %d, want 4", n)
	}
	for _, rec := range records {
		// at(1): before any record expired, so only purging can have removed one.
		got, err := s.GetRequest(ctx, rec.r.Key, at(1))
		switch {
		case rec.purged:
			wantErr(t, "GetRequest("+rec.r.Key+") after purge", err, storage.ErrNotFound)
		case err != nil:
			t.Errorf("GetRequest(%s): %v; it should not have been purged", rec.r.Key, err)
		default:
			if diff := cmp.Diff(rec.r, got, sameRequest()); diff != "" {
				t.Errorf("%s changed by the purge (-want +got):\n%s", rec.r.Key, diff)
			}
		}
	}

	if n, err := s.PurgeRequests(ctx, at(cutoff)); n != 0 || err != nil {
		t.Errorf("second PurgeRequests = %d, %v; want 0, nil", n, err)
	}
}
